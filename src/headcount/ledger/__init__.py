"""Ledger rules: what a hold may do, as pure functions over values (no I/O).

The store executes them atomically; `headcount.services.holds` asks the guard and
calls the store. The value types (pools, holds, outcomes) are in `headcount.types`.
"""
