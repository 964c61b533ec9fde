"""`headcount report`: the CLI writes a self-contained page that opens in Chromium with no
network and shows its charts; `--contacts-out` lists only the people judged real, audited."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from headcount.access import create_key
from headcount.api.app import create_app
from headcount.cli.main import main
from headcount.config import Settings
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
    assert page.locator("svg.chart").count() == 3  # registrations, headcount, groups
    assert page.locator("svg.chart rect.low").count() > 0
    assert page.locator("svg.chart rect.expected").count() == 1 and page.locator("line.capacity").count() == 1
    assert page.locator("svg.chart rect.score").count() == 1
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


def test_contacts_need_kept_contacts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bare.db'}"
    store = open_store(url)
    from headcount.ledger import IdentityGuard, Ledger, PoolSpec
    from headcount.ledger.service import ActorInfo
    from headcount.privacy.keyring import load_keyring

    ledger = Ledger(store, IdentityGuard(load_keyring()))
    ledger.create_pool(PoolSpec("p", "P", "event", 10, 2, 60))
    assert ledger.hold("p", 1, ActorInfo(id="a")).ok
    store.close()
    result = _run("--pool", "p", "--out", str(tmp_path / "r.html"), "--store", url,
                  "--contacts-out", str(tmp_path / "c.csv"), "--reason", REASON)
    assert result.exit_code == 1 and "HEADCOUNT_KEEP_CONTACTS" in result.output, result.output
    assert (tmp_path / "r.html").exists() and not (tmp_path / "c.csv").exists()
    store = open_store(url)
    assert store.read_audit() == []  # nothing was read, so nothing is audited
    store.close()
