"""`/docs`: Swagger UI served by headcount itself, so it works offline.

FastAPI's default page loads Swagger UI from a CDN; the assets here are the ones
the `fastapi-offline` package ships (Swagger UI 5, which reads OpenAPI 3.1), so
nothing outside headcount is loaded.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = "/docs-assets"


def mount_docs(app: FastAPI) -> None:
    """Serve the interactive API docs at /docs from local assets."""
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount(ASSETS, StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png")
