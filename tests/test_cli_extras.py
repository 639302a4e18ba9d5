"""A subcommand whose extra is missing is listed, and running it names the extra to install.

The missing packages are simulated with stand-in subcommand modules that import a module
nobody has; the real thing (a fresh venv with the core only) is tests/test_install.py.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sloplane import cli as cli_module
from sloplane.cli import EXTRAS, SUBCOMMANDS, MissingExtra, cli, main

ROOT = Path(__file__).resolve().parents[1]

BROKEN_AT_IMPORT = """\
import click
import sloplane_test_no_such_package  # noqa: F401

@click.command()
def serve() -> None:
    pass
"""

BROKEN_WHEN_RUN = """\
import click

@click.group()
def detect() -> None:
    pass

@detect.command()
@click.argument("path")
def score(path: str) -> None:
    import sloplane_test_no_such_package.sub  # noqa: F401

@detect.command()
def bug() -> None:
    import sloplane.no_such_module  # noqa: F401
"""


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "stand_in_serve.py").write_text(BROKEN_AT_IMPORT)
    (tmp_path / "stand_in_detect.py").write_text(BROKEN_WHEN_RUN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SUBCOMMANDS, "serve", "stand_in_serve:serve")
    monkeypatch.setitem(SUBCOMMANDS, "detect", "stand_in_detect:detect")
    yield
    for name in ("stand_in_serve", "stand_in_detect"):
        sys.modules.pop(name, None)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.mark.usefixtures("stand_ins")
@pytest.mark.parametrize("argv", [["serve"], ["serve", "--help"], ["serve", "--slos", "x", "-v"]])
def test_a_subcommand_that_cannot_be_imported_names_its_extra(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(argv, capsys)
    assert code == 1
    assert err == (
        "error: sloplane serve needs the Python module 'sloplane_test_no_such_package', which "
        "is not installed; install it with: pip install 'sloplane[api]'\n"
    )


@pytest.mark.usefixtures("stand_ins")
def test_it_is_still_listed_with_the_extra_to_install() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if line.strip().startswith("serve")]
    assert "(not installed: pip install 'sloplane[api]')" in line


@pytest.mark.usefixtures("stand_ins")
def test_a_module_imported_late_names_the_extra_of_the_subcommand(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = _run(["detect", "score", "x.csv"], capsys)
    assert code == 1
    assert err.splitlines() == [
        "error: sloplane detect needs the Python module 'sloplane_test_no_such_package', which "
        "is not installed; install it with: pip install 'sloplane[detect]'"
    ]


@pytest.mark.usefixtures("stand_ins")
def test_a_missing_module_of_our_own_is_a_bug_not_an_extra(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = _run(["detect", "bug"], capsys)
    assert code == 2
    assert err.startswith("internal error: ModuleNotFoundError: No module named 'sloplane.no_")


def test_a_core_command_missing_a_module_says_the_install_is_broken() -> None:
    assert str(MissingExtra("generate", "scipy")) == (
        "sloplane generate needs the Python module 'scipy', which is not installed; "
        "reinstall sloplane: pip install --force-reinstall sloplane"
    )


def test_every_extra_named_by_the_cli_is_declared_and_installs_from_all() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert set(EXTRAS) <= set(SUBCOMMANDS)
    assert set(EXTRAS.values()) <= set(extras)
    assert extras["all"] == [f"sloplane[{','.join(sorted(set(EXTRAS.values())))}]"]
    assert "sloplane[all]" in extras["dev"]


def test_the_real_subcommands_are_click_commands() -> None:
    group = cli_module.LazyGroup()
    ctx = click.Context(group)
    for name in SUBCOMMANDS:
        command = group.get_command(ctx, name)
        assert isinstance(command, click.Command), name
        assert command.callback is not None or isinstance(command, click.Group), name
