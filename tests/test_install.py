"""``pip install sloplane`` without extras validates and generates, in a fresh venv.

The project is copied (sources, pyproject.toml, README.md) to a temporary directory and
installed from there with pip's ordinary index, cache and config, as on a new machine; the
copy keeps pip's build directory out of the work tree. The output must equal the goldens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from tests.golden import EXAMPLES, golden

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
# The modules of the extras: none may be importable in a core install.
EXTRA_MODULES = ("fastapi", "sqlalchemy", "pandas", "sklearn", "kubernetes", "prometheus_client")


def _run(*argv: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with sloplane installed without extras; returns its bin directory."""
    base = tmp_path_factory.mktemp("install")
    source = base / "src"
    source.mkdir()
    shutil.copytree(
        ROOT / "sloplane", source / "sloplane", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    venv.create(base / "venv", with_pip=True, symlinks=True)
    bin_dir = base / "venv" / "bin"
    result = _run(bin_dir / "python", "-m", "pip", "install", "--quiet", source)
    assert result.returncode == 0, result.stderr[-4000:]
    return bin_dir


def test_the_core_install_has_no_extra(core_venv: Path) -> None:
    probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m)))"
    result = _run(core_venv / "python", "-c", probe % (EXTRA_MODULES,))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []


def test_the_core_install_validates_and_generates_the_goldens(
    core_venv: Path, tmp_path: Path
) -> None:
    validate = _run(core_venv / "sloplane", "validate", EXAMPLES)
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout.startswith("ok: ")
    out = tmp_path / "out"
    generate = _run(core_venv / "sloplane", "generate", EXAMPLES, "--out", out)
    assert generate.returncode == 0, generate.stderr
    written = {
        p.relative_to(out).as_posix(): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()
    }
    assert written == golden("default")
    for command in (("list", EXAMPLES), ("check", out)):
        result = _run(core_venv / "sloplane", *command)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("command", "extra"), [("serve", "api"), ("exporter", "exporter")])
def test_a_service_without_its_extra_is_one_line_naming_the_extra(
    core_venv: Path, command: str, extra: str
) -> None:
    result = _run(core_venv / "sloplane", command, "--help")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: sloplane {command} needs the Python module ")
    assert line.endswith(f"install it with: pip install 'sloplane[{extra}]'")
