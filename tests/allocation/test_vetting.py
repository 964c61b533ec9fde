"""Vetting over the whole registration set: duplicates, groups, shared devices, consecutive numbers, bands."""

from __future__ import annotations

from headcount.allocation.vetting import vet
from headcount.policy import Policy
from headcount.store.lottery import RegistrationRecord


def reg(k: int, **kw: object) -> RegistrationRecord:
    base: dict[str, object] = {"id": f"r_{k:04d}", "pool_id": "p", "actor_key": f"person{k}", "quantity": 1,
                               "risk_score": 0.0, "identities": (f"email:{k}",), "created_at": float(k)}
    base.update(kw)
    return RegistrationRecord(**base)  # type: ignore[arg-type]


def test_each_rule_names_its_refusal_and_judges_first_and_last_alike() -> None:
    policy = Policy.load(None)
    regs = [reg(0), reg(1, identities=("email:1", "email:0"), actor_key="person1")]  # merged into person0 since
    regs += [reg(10 + k, device="dev:farm") for k in range(6)]  # six persons on one device
    regs += [reg(20, device="dev:family"), reg(21, device="dev:family")]  # a family tablet
    regs += [reg(30, phone_run="run-a run-b"), reg(31, phone_run="run-b run-c")]  # numbers 5 apart or less
    regs += [reg(40, risk_score=0.5), reg(41, risk_score=0.9), reg(42)]
    persons = {"email:0": "person0", "email:1": "person0"}
    got = {e.registration_id: e for e in vet(regs, persons, {"person42"}, policy, detect=False).entries}
    assert got["r_0000"].eligible and got["r_0001"].refused == "duplicate_person"
    assert {got[f"r_{10 + k:04d}"].refused for k in range(6)} == {"shared_device"}
    assert got["r_0020"].eligible and got["r_0021"].eligible
    assert got["r_0030"].refused == got["r_0031"].refused == "consecutive_numbers"
    assert got["r_0040"].weight == 0.5 and got["r_0041"].refused == "deny_band"
    assert got["r_0042"].refused == "coordinated_group"
