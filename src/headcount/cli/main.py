"""Entry point of the `headcount` command.

Subcommands are loaded lazily so that `headcount keys` does not pay for
importing numpy or FastAPI. To add a verb, add one line to `COMMANDS`.
"""

from __future__ import annotations

import importlib

import click

# verb -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "serve": "headcount.cli.serve:serve",
    "keys": "headcount.cli.keys:keys",
    "backup": "headcount.cli.backup:backup",
    "restore": "headcount.cli.backup:restore",
    "audit": "headcount.cli.audit:audit",
    "purge": "headcount.cli.audit:purge",
    "contacts": "headcount.cli.audit:contacts",
    "simulate": "headcount.cli.simulate:simulate",
    "detect": "headcount.cli.detect:detect",
    "report": "headcount.cli.report:report",
    "lottery": "headcount.cli.lottery:lottery",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context) -> object:
        """Any error a command did not turn into a message is one line, never a traceback (issue 13 L)."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt,
                SystemExit):
            raise
        except RecursionError:
            raise click.ClickException("the input is nested too deeply to read") from None
        except OSError as exc:
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            raise click.ClickException(f"cannot use{where}: {exc.strerror or exc}") from None
        except Exception as exc:
            text = " ".join(str(exc).split())[:500] or "no detail"
            raise click.ClickException(f"{type(exc).__name__}: {text}") from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="headcount")
def main() -> None:
    """headcount: tell real people from fake crowds.

    \b
    Quick start:
      headcount serve --demo          the service and dashboard on 127.0.0.1:8000
      headcount keys create --role staff
      headcount detect actions.csv    coordinated groups in an action log
    """


if __name__ == "__main__":
    main()
