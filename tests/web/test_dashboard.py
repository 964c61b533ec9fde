"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

The page loads with no console errors, the charts render, the numbers shown
equal the API's (the headcount estimate included), the coordinated-groups panel
shows GET /v1/blocks (or an empty state while the server has no such route), and
new holds appear without a reload. A screenshot is kept in artifacts/dashboard.png.

With detection on, a follow ring posted to the running server shows up in the
groups panel without a reload, with the figures of GET /v1/blocks
(artifacts/dashboard-groups.png).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from headcount.guard.identity import IdentityGuard
from headcount.privacy.keyring import load_keyring
from headcount.services.demo import seed_demo
from headcount.services.holds import Ledger
from headcount.services.keys import create_key
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


def _open_dashboard(browser, base: str, staff: str):  # type: ignore[no-untyped-def]
    """The staff dashboard in a new page, and the list its console errors and page errors go to."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(f"{base}/#key={staff}")
    return page, problems


def test_staff_dashboard_shows_the_api_figures_and_updates_live(served, browser) -> None:  # type: ignore[no-untyped-def]
    base, staff, client = served
    page, problems = _open_dashboard(browser, base, staff)
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


@pytest.fixture(scope="module")
def detecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A server that runs group detection every second over an action log that starts empty, and
    has no pools: a social app that sends follows only (staff must still see the groups)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('groups') / 'groups.db'}"
    store = open_store(url)
    staff, client = create_key(store, "staff"), create_key(store, "client")
    store.close()
    with running_server(url, extra_env={"HEADCOUNT_DETECT_INTERVAL_S": "1"}) as server:
        yield server.url, staff, client


def _post_follow_ring(base: str, client: str) -> list[str]:
    """Ordinary follows over a day and a ring following the same ten accounts within 20 minutes."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    accounts = [f"@acc{i}" for i in range(200)]
    ring_targets = rng.sample(accounts, 10)
    events = [(f"fan{i}", t, now - timedelta(hours=24 * rng.random()))
              for i in range(150) for t in rng.sample(accounts, 3)]
    burst = now - timedelta(hours=2)
    events += [(f"ring{i}", t, burst + timedelta(minutes=20 * rng.random())) for i in range(30) for t in ring_targets]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {client}"}) as http:
        for who, target, when in events:
            r = http.post("/v1/actions", json={"verb": "follow", "actor": {"id": who}, "target": target,
                                               "ts": when.isoformat()})
            assert r.status_code == 200, r.text
    return ring_targets


def _blocks_after(base: str, staff: str, after: float, timeout: float = 60.0) -> list[dict[str, object]]:
    """GET /v1/blocks once a detection run that ended after `after` (epoch seconds) has stored them."""
    deadline = time.monotonic() + timeout
    while True:
        blocks = httpx.get(f"{base}/v1/blocks", headers={"Authorization": f"Bearer {staff}"}).json()["blocks"]
        runs = [datetime.fromisoformat(b["updated_at"]).timestamp() for b in blocks]
        if runs and min(runs) > after:
            return blocks  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"no detection run after {after} stored a block: {blocks}"
        time.sleep(0.5)


def test_groups_panel_shows_detected_blocks_live(detecting, browser) -> None:  # type: ignore[no-untyped-def]
    base, staff, client = detecting
    page, problems = _open_dashboard(browser, base, staff)
    page.wait_for_selector("#groups [data-testid=groups-empty]")  # nothing to find in an empty log
    assert page.locator("#no-pools").is_visible() and not page.locator("#login").is_visible()

    ring_targets = _post_follow_ring(base, staff)  # past events: imports need staff
    blocks = _blocks_after(base, staff, time.time() + 2)  # from a run over the whole log
    ring = [b for b in blocks if set(b["targets"]) & set(ring_targets)]
    assert len(ring) == 1 and set(ring[0]["targets"]) == set(ring_targets) and ring[0]["size"] == 30
    ranked = sorted(blocks, key=lambda b: -b["score"])[:5]  # most suspicious first
    page.wait_for_function(  # shown without a reload
        "ids => JSON.stringify([...document.querySelectorAll('#groups [data-testid=group]')]"
        ".map((r) => r.dataset.block)) === JSON.stringify(ids)", arg=[b["id"] for b in ranked], timeout=10_000)
    assert page.locator("#groups [data-testid=groups-count]").inner_text() == str(len(blocks))

    rows = page.locator("#groups [data-testid=group]")
    assert rows.count() == len(ranked)
    for row, block in zip(rows.all(), ranked, strict=True):
        assert row.get_attribute("data-block") == block["id"]
        assert int(row.locator("[data-testid=group-actors]").inner_text().replace(",", "")) == block["size"]
        assert int(row.locator("[data-testid=group-targets]").inner_text()) == len(block["targets"])
        assert row.locator("[data-testid=group-score]").inner_text() == f"{block['score']:.2f}"
        names = row.locator("[data-testid=group-target-names]").inner_text().rstrip(", …").split(", ")
        assert names and set(names) <= set(block["targets"])
        seen_by = row.locator("[data-testid=group-detectors] .chip").all_inner_texts()
        assert seen_by[0] == block["detector"]
        assert set(seen_by) == {block["detector"], *block["evidence"].get("detectors", [])}
        assert "(" in row.locator("[data-testid=group-window]").inner_text()  # the window and its length
        assert row.locator("svg rect.score").count() == 1 and row.locator("svg rect.members").count() == 1
    accounts = {a for b in blocks for a in b["actors"]}
    assert page.locator("[data-testid=groups-accounts]").inner_text() == f"{len(accounts):,}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-groups.png"), full_page=True)
    print(f"screenshot: {ARTIFACTS / 'dashboard-groups.png'}")
    assert not problems, problems
    page.close()
