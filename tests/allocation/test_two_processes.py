"""Two server processes on one store: the draw runs by itself at closes_at in one of them, once;
`allocate` sent to both at once answers with that one draw; `headcount lottery verify` agrees."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from headcount.services.keys import create_key
from headcount.store import open_store
from headcount.testing.servers import running_server

from .conftest import person


def test_the_draw_runs_once_at_closes_at_with_two_processes(store_url: str) -> None:
    store = open_store(store_url)
    client_key, staff_key = create_key(store, "client"), create_key(store, "staff")
    store.close()
    client = {"Authorization": f"Bearer {client_key}"}
    staff = {"Authorization": f"Bearer {staff_key}"}
    pool_id = f"two-{uuid.uuid4().hex[:8]}"
    uid = uuid.uuid4().hex
    with running_server(store_url, workers=2, timeout=240) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        closes_at = time.time() + 4
        r = http.post("/v1/pools", headers=staff, json={
            "id": pool_id, "name": "two", "kind": "event", "capacity": 10, "per_actor_limit": 2, "hold_ttl_s": 60,
            "allocation": {"mode": "lottery", "closes_at": closes_at, "confirm_within_s": 300}})
        assert r.status_code == 201, r.text
        commitment = r.json()["allocation"]["commitment"]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: http.post(f"/v1/pools/{pool_id}/registrations", headers=client,
                                                        json={"quantity": 1, "actor": person(uid, i)}), range(30)))
        assert [a.status_code for a in answers] == [201] * 30, [a.text for a in answers if a.status_code != 201]
        # nobody asks for the draw: the service makes it by itself once the window closed
        deadline = time.time() + 60
        while time.time() < deadline:
            view = http.get(f"/v1/pools/{pool_id}/lottery").json()
            if view["state"] == "drawn":
                break
            time.sleep(0.3)
        assert view["state"] == "drawn", view
        assert view["commitment"] == commitment
        late = http.post(f"/v1/pools/{pool_id}/registrations", headers=client,
                         json={"quantity": 1, "actor": person(uid, 99)})
        assert late.status_code == 409
        with ThreadPoolExecutor(6) as pool:
            draws = list(pool.map(lambda _: http.post(f"/v1/pools/{pool_id}/allocate", headers=staff).json(),
                                  range(6)))
        assert len({(d["seed"], d["digest"], d["drawn_at"]) for d in draws}) == 1
        won = draws[0]["won"]  # 10 places, overbooked on the prior's show-up rates
        assert won == draws[0]["tickets"] >= 10 and won + draws[0]["waitlisted"] == 30
        states = [http.get(f"/v1/registrations/{a.json()['registration_id']}", headers=client).json()["status"]
                  for a in answers]
        assert states.count("won") == won and states.count("waitlisted") == 30 - won
    out = subprocess.run([sys.executable, "-m", "headcount.cli.main", "lottery", "verify", pool_id,
                          "--store", store_url, "--commitment", commitment], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"verified: {won} winners" in out.stdout
    tampered = subprocess.run([sys.executable, "-m", "headcount.cli.main", "lottery", "verify", pool_id,
                               "--store", store_url, "--commitment", "ab" * 32], capture_output=True, text=True)
    assert tampered.returncode == 1 and "not the abab" in tampered.stderr
