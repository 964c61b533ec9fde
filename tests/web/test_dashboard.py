"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

The page loads with no console errors, the charts render, the numbers shown
equal the API's (the headcount estimate included), the coordinated-groups panel
shows GET /v1/blocks (or an empty state while the server has no such route), and
new holds appear without a reload. A screenshot is kept in artifacts/dashboard.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headcount.access import create_key
from headcount.demo import seed_demo
from headcount.ledger import IdentityGuard, Ledger
from headcount.privacy.keyring import load_keyring
from headcount.store import open_store
from headcount.testing.servers import running_server

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for browser tests (apt-get install chromium)")
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.db'}"
    store = open_store(url)
    seed_demo(Ledger(store, IdentityGuard(load_keyring())), hours=3)
    staff, client = create_key(store, "staff"), create_key(store, "client")
    store.close()
    with running_server(url) as server:
        yield server.url, staff, client


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def test_staff_dashboard_shows_the_api_figures_and_updates_live(served, browser) -> None:  # type: ignore[no-untyped-def]
    base, staff, client = served
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(f"{base}/#key={staff}")
    page.wait_for_selector("[data-pool] [data-testid=capacity]")
    assert "#key" not in page.url  # the key does not stay in the address bar

    auth = {"Authorization": f"Bearer {staff}"}
    for pool in httpx.get(f"{base}/v1/pools", headers=auth).json():
        card = page.locator(f"[data-pool='{pool['id']}']")
        for field in ("capacity", "held", "confirmed", "available"):
            shown = card.locator(f"[data-testid={field}]").inner_text().replace(",", "")
            assert int(shown) == pool[field], (pool["id"], field)
        assert card.locator("[data-testid=light]").get_attribute("title") == pool["light"]
        assert card.locator("svg rect").count() > 0  # the chart rendered bars
        hc = httpx.get(f"{base}/v1/pools/{pool['id']}/headcount", headers=auth).json()
        for testid, value in (("hc-expected", hc["expected_real"]), ("hc-lo", hc["interval"][0]),
                              ("hc-hi", hc["interval"][1]), ("hc-registered", hc["registered"])):
            assert _number(card, testid) == value, (pool["id"], testid)
        chart = card.locator("[data-testid=hc-chart]")
        assert chart.locator("rect.expected").count() == 1 and chart.locator("rect.interval").count() == 1
        assert chart.locator("line.capacity").count() == 1
    assert "earlier pool" in page.locator("[data-pool='rally-tulsa'] [data-testid=hc-why]").inner_text()

    blocks = httpx.get(f"{base}/v1/blocks", headers=auth)
    if blocks.status_code == 404:  # detection not served yet: an empty state, no error
        assert page.locator("#groups [data-testid=groups-empty]").is_visible()
    else:
        listed = blocks.json()["blocks"]
        page.wait_for_function("n => document.querySelectorAll('#groups [data-testid=group]').length === n",
                               arg=min(5, len(listed)), timeout=10_000)
        if not listed:
            assert page.locator("#groups [data-testid=groups-empty]").is_visible()

    # live: new holds show up without a reload
    before = int(page.locator("[data-pool='rally-tulsa'] [data-testid=held]").inner_text().replace(",", ""))
    for i in range(7):
        r = httpx.post(f"{base}/v1/pools/rally-tulsa/holds", headers={"Authorization": f"Bearer {client}"},
                       json={"actor": {"id": f"live-{i}"}})
        assert r.status_code == 201
    page.wait_for_function(
        "n => Number(document.querySelector(\"[data-pool='rally-tulsa'] [data-testid=held]\")"
        ".textContent.replace(/,/g, '')) === n", arg=before + 7, timeout=10_000)
    registered = httpx.get(f"{base}/v1/pools/rally-tulsa/headcount", headers=auth).json()["registered"]
    page.wait_for_function(  # the headcount follows the new registrations too
        "n => Number(document.querySelector(\"[data-pool='rally-tulsa'] [data-testid=hc-registered]\")"
        ".textContent.replace(/,/g, '')) === n", arg=registered, timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    print(f"screenshot: {ARTIFACTS / 'dashboard.png'}")
    assert not problems, problems
    page.close()


def _number(card, testid: str) -> int:  # type: ignore[no-untyped-def]
    return int(card.locator(f"[data-testid={testid}]").inner_text().replace(",", ""))


def test_public_dashboard_shows_lights_only(served, browser) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = served
    context = browser.new_context()
    page = context.new_page()
    page.goto(base)
    page.wait_for_selector("[data-pool] [data-testid=light]")
    assert page.locator("[data-testid=capacity]").count() == 0
    assert page.locator("#login").is_visible()
    assert page.locator("[data-testid=headcount]").count() == 0 and not page.locator("#groups").is_visible()
    context.close()


def test_dashboard_needs_nothing_from_outside(served) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = served
    r = httpx.get(base)
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "http://" not in r.text.replace(base, "") and "https://" not in r.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert httpx.get(base + asset).status_code == 200
