"""`headcount report`: the CLI writes a self-contained page that opens in Chromium with no
network and shows its charts; the groups are those the service's detection stored unless
`--blocks` gives others; `--contacts-out` lists only the people judged real (no member of a
stored or given group), audited."""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from headcount.api.app import create_app
from headcount.cli.main import main
from headcount.services.keys import create_key
from headcount.settings import Settings
from headcount.store import open_store
from tests.api.conftest import person_email
from tests.web.test_dashboard import CHROMIUM, FLAGS

REAL, ROBOTIC = 8, 3
REASON = "organiser's cleanup after the flood"


class Flooded:
    """A store with an earlier pool that has check-ins and a pool with real people, machine-made
    addresses and one clean-looking member of a detected group."""

    def __init__(self, tmp: Path) -> None:
        self.url = f"sqlite:///{tmp / 'report.db'}"
        store = open_store(self.url)
        keys = {r: create_key(store, r) for r in ("client", "staff")}
        app = create_app(store, settings=Settings(keep_contacts=True), sweep_interval=None, close_store=True)
        self.real_emails: list[str] = []
        self.other_emails: list[str] = []
        with TestClient(app) as client:
            staff, cli = ({"Authorization": f"Bearer {keys[r]}"} for r in ("staff", "client"))
            for pool in ("past", "rally"):
                assert client.post("/v1/pools", headers=staff, json={
                    "id": pool, "name": f"The {pool} event", "kind": "event", "capacity": 40,
                    "per_actor_limit": 2, "hold_ttl_s": 600}).status_code == 201

            def register(pool: str, email: str) -> str:
                r = client.post(f"/v1/pools/{pool}/holds", headers=cli, json={"actor": {"email": email}})
                assert r.status_code == 201, r.text
                assert client.post(f"/v1/holds/{r.json()['hold_id']}/confirm", headers=cli).status_code == 200
                return str(client.get(f"/v1/holds/{r.json()['hold_id']}", headers=staff).json()["actor_key"])

            for i in range(10):
                email = person_email("abc123", 100 + i)
                register("past", email)
                if i < 6:
                    assert client.post("/v1/actions", headers=cli, json={
                        "verb": "checkin", "actor": {"email": email}, "target": "past"}).status_code == 200
            for i in range(REAL):
                self.real_emails.append(person_email("fed456", i))
                register("rally", self.real_emails[-1])
            for i in range(ROBOTIC):  # machine-made: a short hold, not the low risk band
                self.other_emails.append(f"xk3q9zt7w{i}@example.org")
                register("rally", self.other_emails[-1])
            self.other_emails.append(person_email("bad789", 0))  # looks clean, but in a group
            self.grouped = register("rally", self.other_emails[-1])
        self.blocks = tmp / "blocks.json"
        self.blocks.write_text(json.dumps({"blocks": [{
            "id": "b1", "detector": "lockstep", "actors": [self.grouped, "someone-else", "and-another"],
            "targets": ["rally", "t2"], "start": "2026-11-22T10:00:00Z", "end": "2026-11-22T11:00:00Z",
            "density": 0.9, "score": 7.5, "evidence": {"window_s": 300}}]}))


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> Flooded:
    return Flooded(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for browser tests (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["report", *args])


@pytest.mark.browser
def test_report_opens_offline_with_its_charts(flooded: Flooded, tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.html"
    result = _run("--pool", "rally", "--out", str(out), "--store", flooded.url, "--blocks", str(flooded.blocks))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)=", html)  # nothing to load
    assert not re.search(r"https?://(?!www.w3.org/2000/svg\")", html)
    context = browser.new_context(offline=True)
    page = context.new_page()
    requested: list[str] = []

    def block(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            requested.append(route.request.url)
            route.abort()

    page.route("**/*", block)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(out.as_uri())
    assert page.locator("svg.chart").count() == 3  # headcount, decisions, seats (the dashboard's views)
    assert page.locator("svg.chart[data-chart=seats] rect.band0").count() > 0  # the policy's first band
    assert page.locator("svg.chart[data-chart=decisions] rect.allowed").count() > 0
    assert page.locator("svg.chart rect.expected").count() == 1
    # capacity 40 for 12 seats: beyond 3x, so noted off scale and the figures keep the width
    assert page.locator("line.capacity").count() == 0 and "capacity 40 off scale" in page.locator(
        "svg.chart[data-chart=headcount]").text_content()
    assert page.locator("tr[data-group]").count() == 1  # the given group, in words
    assert "accounts" in page.locator("tr[data-group]").inner_text()
    assert "learned from the check-ins of 1 earlier pool" in page.locator("#reasoning").inner_text()
    assert "judged real" in page.locator("#reasoning").inner_text()
    artifacts = Path(__file__).resolve().parents[2] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    print(f"screenshot: {artifacts / 'report.png'}")
    assert not requested and not problems, (requested, problems)
    context.close()


def test_contacts_out_lists_only_people_judged_real_and_is_audited(flooded: Flooded, tmp_path: Path) -> None:
    before = len(open_store(flooded.url).read_audit())
    contacts = tmp_path / "clean.csv"
    result = _run("--pool", "rally", "--out", str(tmp_path / "r.html"), "--store", flooded.url,
                  "--blocks", str(flooded.blocks), "--contacts-out", str(contacts), "--reason", REASON,
                  "--who", "dpo")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(contacts.open()))
    assert sorted(r["emails"] for r in rows) == sorted(flooded.real_emails)
    assert all(r["seats"] == "1" for r in rows)
    assert not set(flooded.other_emails) & {r["emails"] for r in rows}
    store = open_store(flooded.url)
    audit = store.read_audit()
    store.close()
    assert len(audit) == before + 1
    entry = audit[-1]
    assert (entry.who, entry.action, entry.subject, entry.reason) == ("dpo", "contacts.export.cleaned",
                                                                       "pool:rally", REASON)
    assert CliRunner().invoke(main, ["audit", "verify", "--store", flooded.url]).exit_code == 0


def test_bad_input_names_the_option(flooded: Flooded, tmp_path: Path) -> None:
    out = str(tmp_path / "r.html")
    no_reason = _run("--pool", "rally", "--out", out, "--store", flooded.url, "--contacts-out", str(tmp_path / "c"))
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    unknown = _run("--pool", "nope", "--out", out, "--store", flooded.url)
    assert unknown.exit_code == 2 and "--pool" in unknown.output and "Traceback" not in unknown.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"blocks": "many"}')
    wrong = _run("--pool", "rally", "--out", out, "--store", flooded.url, "--blocks", str(bad))
    assert wrong.exit_code == 2 and "--blocks" in wrong.output
    bad.write_text("not json")
    assert _run("--pool", "rally", "--out", out, "--store", flooded.url, "--blocks", str(bad)).exit_code == 2


def _one_hold(url: str) -> None:
    """A store with pool `p` and one hold, kept without contacts and with no groups."""
    from headcount.guard.identity import IdentityGuard
    from headcount.privacy.keyring import load_keyring
    from headcount.services.holds import Ledger
    from headcount.types import ActorInfo, PoolSpec

    store = open_store(url)
    ledger = Ledger(store, IdentityGuard(load_keyring()))
    ledger.create_pool(PoolSpec("p", "P", "event", 10, 2, 60))
    assert ledger.hold("p", 1, ActorInfo(id="a")).ok
    store.close()


def test_contacts_need_kept_contacts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bare.db'}"
    _one_hold(url)
    result = _run("--pool", "p", "--out", str(tmp_path / "r.html"), "--store", url,
                  "--contacts-out", str(tmp_path / "c.csv"), "--reason", REASON)
    assert result.exit_code == 1 and "HEADCOUNT_KEEP_CONTACTS" in result.output, result.output
    assert (tmp_path / "r.html").exists() and not (tmp_path / "c.csv").exists()
    store = open_store(url)
    assert store.read_audit() == []  # nothing was read, so nothing is audited
    store.close()


class Detected:
    """A pool whose registrants include a follow ring with clean-looking addresses, and the
    service's own detection run over the log, so the ring is a stored block."""

    RING, FANS = 30, 150

    def __init__(self, tmp: Path) -> None:
        self.url = f"sqlite:///{tmp / 'detected.db'}"
        store = open_store(self.url)
        keys = {r: create_key(store, r) for r in ("client", "staff")}
        app = create_app(store, settings=Settings(keep_contacts=True), sweep_interval=None, close_store=True)
        rng = random.Random(5)
        now = datetime.now(UTC)
        self.real_emails = [person_email("aa11", i) for i in range(REAL)]
        self.ring_emails = [person_email("bb22", i) for i in range(self.RING)]
        accounts = [f"@acc{i}" for i in range(200)]
        self.ring_targets = rng.sample(accounts, 10)
        with TestClient(app) as client:
            staff, cli = ({"Authorization": f"Bearer {keys[r]}"} for r in ("staff", "client"))
            assert client.post("/v1/pools", headers=staff, json={
                "id": "rally", "name": "The rally", "kind": "event", "capacity": 100,
                "per_actor_limit": 2, "hold_ttl_s": 600}).status_code == 201
            for email in self.real_emails + self.ring_emails:  # every one looks like a person
                r = client.post("/v1/pools/rally/holds", headers=cli, json={"actor": {"email": email}})
                assert r.status_code == 201 and r.json()["risk"]["score"] < 0.3, r.text

            def follow(actor: dict[str, str], target: str, when: datetime) -> None:
                r = client.post("/v1/actions", headers=staff, json={  # imports of past events: staff
                    "verb": "follow", "actor": actor, "target": target, "ts": when.isoformat()})
                assert r.status_code == 200, r.text

            for i in range(self.FANS):  # ordinary people follow a few accounts over a day
                for target in rng.sample(accounts, 3):
                    follow({"id": f"fan{i}"}, target, now - timedelta(hours=24 * rng.random()))
            burst = now - timedelta(hours=2)
            for email in self.ring_emails:  # the ring follows the same ten accounts within 20 minutes
                for target in self.ring_targets:
                    follow({"email": email}, target, burst + timedelta(minutes=20 * rng.random()))
            app.state.groups.run_once()  # the job the service runs on its schedule
        store = open_store(self.url)
        self.blocks = store.list_blocks()
        self.members = store.block_members()
        store.close()


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Detected:
    return Detected(tmp_path_factory.mktemp("detected"))


def test_report_shows_the_stored_groups_by_default(detected: Detected, tmp_path: Path) -> None:
    assert len(detected.blocks) == 1 and set(detected.blocks[0].targets) == set(detected.ring_targets)
    out = tmp_path / "report.html"
    result = _run("--pool", "rally", "--out", str(out), "--store", detected.url)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "detected by the service" in html and "id='no-groups'" not in html
    block = detected.blocks[0]
    row = re.search(r"<tr data-group='([^']*)'><td>1</td><td>([^<]*)</td><td>([^<]*)</td><td class='n'>([^<]*)</td>"
                    r"<td class='n'>([^<]*)</td>", html)
    assert row, html
    assert row.group(1) == block.id
    assert row.group(2).startswith(f"{len(block.actors)} accounts acted on the same {len(block.targets)} targets")
    assert row.group(3).endswith("coordinated")  # the confidence in words, as on the dashboard
    assert (row.group(4), row.group(5)) == (f"{len(block.actors):,}", f"{detected.RING:,}")
    assert "member–target pairs where chance gives" in html and "UTC" in html
    assert f"{detected.RING:,} belong to a coordinated group" in html


def test_contacts_out_leaves_out_members_of_stored_groups(detected: Detected, tmp_path: Path) -> None:
    contacts = tmp_path / "clean.csv"
    result = _run("--pool", "rally", "--out", str(tmp_path / "r.html"), "--store", detected.url,
                  "--contacts-out", str(contacts), "--reason", REASON)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(contacts.open()))
    assert sorted(r["emails"] for r in rows) == sorted(detected.real_emails)
    assert not {r["actor_key"] for r in rows} & detected.members
    assert f"{REAL:,} of {REAL + detected.RING:,} registrants judged real" in result.output


def test_blocks_file_overrides_what_is_shown_but_stored_members_stay_out(detected: Detected,
                                                                         tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"blocks": [{"id": "x", "detector": "lockstep", "actors": ["p1", "p2", "p3"],
                                             "targets": ["t1", "t2"], "start": 1_790_000_000,
                                             "end": "2026-11-22T11:00:00Z", "density": 1.0, "score": 3.0}]}))
    out, contacts = tmp_path / "r.html", tmp_path / "clean.csv"
    result = _run("--pool", "rally", "--out", str(out), "--store", detected.url, "--blocks", str(other),
                  "--contacts-out", str(contacts), "--reason", REASON)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "from other.json" in html and "detected by the service" not in html
    assert "2026-11-22 11:00 UTC" in html and "2026-09-21" in html  # ISO and Unix times both read
    assert sorted(r["emails"] for r in csv.DictReader(contacts.open())) == sorted(detected.real_emails)


def test_no_stored_groups_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    _one_hold(url)
    out = tmp_path / "r.html"
    assert _run("--pool", "p", "--out", str(out), "--store", url).exit_code == 0
    assert "group detection has stored no coordinated group" in out.read_text()


def test_the_headcount_chart_is_readable_at_any_scale() -> None:
    from headcount.report.svg import headcount_chart

    def bar(chart: str, cls: str) -> float:
        return float(re.search(rf'width="([0-9.]+)" height="[0-9.]+" class="{cls}"', chart).group(1))  # type: ignore[union-attr]

    arena = headcount_chart(1_622, 879, 652, 1_106, 19_200, 0.9)  # the arena
    assert "capacity 19,200 off scale" in arena and 'class="capacity"' not in arena
    assert bar(arena, "registered") > 0.5 * (720 - 110 - 24)  # registrations use most of the width
    near = headcount_chart(90, 60, 50, 70, 120, 0.9)
    assert 'class="capacity"' in near and "off scale" not in near
