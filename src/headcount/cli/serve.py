"""`headcount serve`: the HTTP service (and dashboard) over a store."""

from __future__ import annotations

import os

import click


@click.command()
@click.option("--store", "store_url", metavar="URL", envvar="HEADCOUNT_STORE",
              help="sqlite:///PATH (default: ./data/headcount.db) or postgresql://...")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="server processes; they share the store")
@click.option("--demo", is_flag=True, help="create demo pools and print a staff API key")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(store_url: str | None, host: str, port: int, workers: int, demo: bool, log_level: str) -> None:
    """Run the service on HOST:PORT (the embedded SQLite store unless --store says otherwise)."""
    import uvicorn

    import headcount
    from headcount.privacy.keyring import KeyRingError
    from headcount.services.decisions import DecisionLog
    from headcount.services.demo import LiveDemo, seed_demo
    from headcount.services.keys import create_key
    from headcount.settings import SettingsError, load_settings
    from headcount.store import StoreError

    try:
        settings = load_settings()
        url = store_url or settings.store_url()
        # opened once before the workers start: migrates, and finds or makes the store's keys
        with headcount.open(url, settings=settings) as hc:
            if demo:  # through the service's own wiring: identities stored as keyed hashes
                past = DecisionLog(hc.store, hc.policy)
                created = seed_demo(hc.ledger, on_decision=past.note, lottery=hc.lottery)
                past.flush()
                key = create_key(hc.store, "staff")
                live = LiveDemo(host, port, create_key(hc.store, "client"), lottery=True)
                click.echo(f"demo pools: {', '.join(created) or 'already there'}")
                click.echo(f"staff API key (shown once): {key}")
                click.echo(f"dashboard with exact figures: http://{host}:{port}/#key={key}")
    except (StoreError, KeyRingError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc
    os.environ["HEADCOUNT_STORE"] = url
    if demo:  # the story within a minute: a flood on the rally, a cart-hoarding group in the shop
        os.environ.setdefault("HEADCOUNT_DETECT_INTERVAL_S", "5")
        live.start()
        click.echo("live demo: a flood of fake registrations on rally-tulsa, a cart-hoarding group in the"
                   " shop and the town hall's lottery drawn at its close, over the next minute")
    click.echo(f"headcount on http://{host}:{port}  (store: {url}, workers: {workers})")
    uvicorn.run(
        "headcount.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        # X-Forwarded-For is believed only from HEADCOUNT_TRUSTED_PROXIES (api.middleware.ClientAddress);
        # uvicorn's own handling would believe it from any local process
        proxy_headers=False,
        forwarded_allow_ips="",
        timeout_keep_alive=5,
    )
