"""Python SLO files: every problem in one run, at the argument's line, run as code in a child.

Issue 14 (every SLO's problems, argument lines, counter-shaped queries) and issue 12
(symlink loops, Python files run in a child process with a timeout).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.errors import SpecError
from sloplane.slo.loaders import load

METRIC = st.from_regex(r"[a-z][a-z0-9_]{0,12}_total", fullmatch=True)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems(paths: list[Path], **options: object) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(paths, **options)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


TWO_BAD = """\
    from sloplane.slo.model import SLO, EventsSLI

    A = SLO(
        service="api",
        name="one",
        objective=100.5,
        sli=EventsSLI(errors="e_total", total="t_total"),
    )
    B = SLO(
        service="api",
        name="two",
        objective=99.9,
        sli=EventsSLI(
            errors="sum(rate(e_total[5m])) / sum(rate(t_total[5m]))",
            total="t_total",
        ),
    )
    C = SLO(service="api", name="three", objective=99, sli=EventsSLI(total="t"))
    """


def test_every_problem_of_every_slo_in_one_run_at_the_arguments_line(tmp_path: Path) -> None:
    path = write(tmp_path / "slos.py", TWO_BAD)
    assert problems([path]) == [
        f"{path}:6: api-one: field 'objective': objective 100.5 is out of range: give a ratio "
        "0 < x < 1 (0.999) or a percentage 1 <= x < 100 (99.9)",
        f"{path}:14: api-two: field 'sli.errors': not a counter selector or an aggregation of "
        'rates (http_requests_total{code=~"5.."} or sum(rate(...[{{.window}}]))): the rules '
        "divide this by the total, so a ratio or a quantile here records nonsense",
        f"{path}:18: api-three: field 'sli': give exactly one of 'errors' or 'good' next to "
        "'total'",
    ]


@settings(max_examples=25, deadline=None)
@given(errors=METRIC, total=METRIC)
def test_counter_shapes_pass_and_ratios_fail(
    tmp_path_factory: pytest.TempPathFactory, errors: str, total: str
) -> None:
    base = tmp_path_factory.mktemp("shapes")
    good = [
        errors,
        f"sum(rate({errors}[5m]))",
        f"sum by (code) (increase({errors}[1h]))",
        f"sum(rate({errors}[5m])) + sum(rate({total}[5m]))",
    ]
    bad = [f"{errors} / {total}", f"histogram_quantile(0.9, rate({errors}[5m]))", f"sum({errors})"]
    lines = ["from sloplane.slo.model import SLO, EventsSLI", "SLOS = ["]
    for i, query in enumerate(good + bad):
        lines.append(
            f"    SLO(service='s', name='q{i}', objective=99, "
            f"sli=EventsSLI(errors={query!r}, total='all_requests_total')),"
        )
    lines.append("]")
    path = base / "shapes.py"
    path.write_text("\n".join(lines) + "\n")
    found = problems([path])
    assert sorted(p.split(": ")[1] for p in found) == [
        f"s-q{i}" for i in range(len(good), len(good) + len(bad))
    ]


CLI = [sys.executable, "-m", "sloplane.cli", "validate"]


def run_validate(*paths: Path, timeout: str = "20") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLOPLANE_PYTHON_TIMEOUT": timeout}
    return subprocess.run(
        [*CLI, *map(str, paths)], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.integration  # fresh interpreters, seconds each
def test_os_exit_0_in_a_file_does_not_make_validate_pass(tmp_path: Path) -> None:
    write(tmp_path / "ok.py", TWO_BAD.split("B = ")[0])
    write(tmp_path / "quits.py", "import os\nos._exit(0)\n")
    result = run_validate(tmp_path)
    assert result.returncode == 1, result
    assert (
        f"error: {tmp_path}/quits.py: the file ended the Python process before loading finished"
        in result.stderr
    )
    assert "api-one: field 'objective'" in result.stderr  # the other file is still checked
    assert "Traceback" not in result.stderr


@pytest.mark.integration  # fresh interpreters, seconds each
def test_a_file_that_hangs_or_crashes_is_a_problem_not_a_stall(tmp_path: Path) -> None:
    write(tmp_path / "hangs.py", "while True:\n    pass\n")
    write(tmp_path / "dies.py", "import os\nos._exit(7)\n")
    result = run_validate(tmp_path, timeout="2")
    assert result.returncode == 1
    assert f"error: {tmp_path}/hangs.py: loading took longer than 2s" in result.stderr
    assert (
        f"error: {tmp_path}/dies.py: the Python process loading this file exited with code 7"
        in result.stderr
    )


@pytest.mark.integration  # fresh interpreters, seconds each
def test_isolated_loading_gives_the_same_slos(tmp_path: Path) -> None:
    examples = Path(__file__).parents[2] / "examples" / "slos" / "python"
    direct = load([examples]).catalog.slos
    isolated = load([examples], isolate_python=True).catalog.slos
    assert [s.model_dump() for s in direct] == [s.model_dump() for s in isolated]
    assert [s.source for s in direct] == [s.source for s in isolated]


def test_symlink_loops_are_a_problem_not_an_endless_walk(tmp_path: Path) -> None:
    inner = tmp_path / "slos" / "team"
    inner.mkdir(parents=True)
    (inner / "up").symlink_to("..")
    (inner / "self").symlink_to(inner)
    found = problems([tmp_path / "slos"])
    assert sorted(found) == [
        f"{inner}/self: symlink loop: this directory is {inner.resolve()}, which contains it; "
        "not followed",
        f"{inner}/up: symlink loop: this directory is {(tmp_path / 'slos').resolve()}, which "
        "contains it; "
        "not followed",
    ]
