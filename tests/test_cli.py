"""The `headcount` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from headcount.cli.main import COMMANDS, main
from headcount.services.keys import verify_key
from headcount.store import open_store


def test_help_lists_every_verb() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for verb in COMMANDS:
        assert verb in result.output


def test_keys_create_prints_the_key_alone_on_its_last_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    done = subprocess.run([sys.executable, "-m", "headcount.cli.main", "keys", "create", "--role", "staff",
                           "--store", url], capture_output=True, text=True, check=True)
    key = done.stdout.strip().splitlines()[-1]
    store = open_store(url)
    verified = verify_key(store, key)
    store.close()
    assert verified is not None and verified[1] == "staff"


def test_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_role = runner.invoke(main, ["keys", "create", "--role", "king"])
    assert bad_role.exit_code == 2 and "king" in bad_role.output
    bad_store = runner.invoke(main, ["keys", "create", "--role", "client", "--store", "mysql://x"])
    assert bad_store.exit_code == 1 and "unknown store URL scheme" in bad_store.output
    assert "Traceback" not in bad_store.output
    unreachable = runner.invoke(main, ["keys", "create", "--role", "client", "--store",
                                       "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"])
    assert unreachable.exit_code == 1 and "cannot connect" in unreachable.output
