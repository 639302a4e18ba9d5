"""The ``sloplane`` command line.

Subcommands live next to the code they drive (``sloplane/<area>/cli.py``) and are
imported only when invoked, so ``sloplane validate`` does not pay for pandas or
FastAPI, and a core install (``pip install sloplane``, no extras) validates and
generates. A subcommand whose extra is not installed still shows in ``--help`` and,
when run, says which extra to install (:class:`MissingExtra`). Errors derived from
:class:`~sloplane.errors.SloplaneError` are printed as one line per problem with
exit status 1; never as a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from sloplane import __version__
from sloplane.errors import SloplaneError, SpecError

# name -> "module:attribute" of a click command; imported lazily.
SUBCOMMANDS: dict[str, str] = {
    "validate": "sloplane.slo.cli:validate",
    "generate": "sloplane.slo.cli:generate",
    "list": "sloplane.slo.cli:list_slos",
    "check": "sloplane.dashboards.cli:check",
    "dashboards": "sloplane.dashboards.cli:dashboards",
    "alertmanager": "sloplane.alerts.cli:alertmanager",
    "exporter": "sloplane.exporters.cli:exporter",
    "serve": "sloplane.api.cli:serve",
    "report": "sloplane.reports.cli:report",
    "detect": "sloplane.detect.cli:detect",
    "backfill": "sloplane.backfill.cli:backfill",
}


# name -> the extra (pyproject.toml [project.optional-dependencies]) its imports come from;
# the other subcommands need only the core dependencies.
EXTRAS: dict[str, str] = {
    "exporter": "exporter",
    "serve": "api",
    "report": "api",
    "detect": "detect",
}


# Modules of an extra that a subcommand imports only late, so importing the command itself
# cannot tell they are missing: the exporter's lean serving process loads its drivers per
# target kind. Checked with find_spec (nothing is imported) before the command is loaded.
LATE_IMPORTS: dict[str, tuple[str, ...]] = {
    "exporter": ("psycopg", "pika", "prometheus_client"),
}


class MissingExtra(SloplaneError):
    """A subcommand needs a package of an extra that is not installed."""

    def __init__(self, command: str, module: str) -> None:
        extra = EXTRAS.get(command)
        if extra:
            fix = f"install it with: pip install 'sloplane[{extra}]'"
        else:  # a core dependency is gone: the install itself is broken
            fix = "reinstall sloplane: pip install --force-reinstall sloplane"
        super().__init__(
            f"sloplane {command} needs the Python module {module!r}, which is not installed; {fix}"
        )


def _missing_module(exc: ModuleNotFoundError) -> str | None:
    """The third-party module ``exc`` is about, or None when it is one of ours (a bug)."""
    top = (exc.name or "").split(".")[0]
    return None if top in ("", "sloplane") else top


def _not_installed(name: str, error: MissingExtra) -> click.Command:
    """A stand-in for a subcommand that cannot be imported: listed, and says what to install."""

    def fail() -> None:
        raise error

    return click.Command(
        name,
        callback=fail,
        help=str(error),
        short_help=f"(not installed: pip install 'sloplane[{EXTRAS.get(name, 'all')}]')",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        for late in LATE_IMPORTS.get(cmd_name, ()):
            if importlib.util.find_spec(late) is None:
                return _not_installed(cmd_name, MissingExtra(cmd_name, late))
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            missing = _missing_module(exc)
            if missing is None:
                raise
            return _not_installed(cmd_name, MissingExtra(cmd_name, missing))
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None

    def invoke(self, ctx: click.Context) -> object:
        """Run the subcommand; a module it imports late that is missing names its extra."""
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            missing = _missing_module(exc)
            if missing is None or ctx.invoked_subcommand is None:
                raise
            raise MissingExtra(ctx.invoked_subcommand, missing) from exc


def _available(name: str) -> bool:
    module_name = SUBCOMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sloplane")
def cli() -> None:
    """SLOs as code: rules, dashboards, alert routing, exporters, API, detectors."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the CLI and turns our errors into exit codes."""
    try:
        cli.main(args=argv, prog_name="sloplane", standalone_mode=False)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    except SloplaneError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug of ours: say so briefly; SLOPLANE_DEBUG=1 shows the traceback
        if os.environ.get("SLOPLANE_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} "
            "(this is a bug in sloplane; rerun with SLOPLANE_DEBUG=1 for a traceback and report it)",
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
