"""Versioned schema migrations, shipped as numbered SQL files in the package.

Each store applies `migrations/<dialect>/NNNN_name.sql` in order and records the
versions it applied, so upgrading is "start the new version".
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str) -> list[Migration]:
    """All migrations for a dialect (`sqlite` or `postgres`), oldest first."""
    folder = resources.files("headcount.store") / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions for {dialect}: {versions}")
    return found
