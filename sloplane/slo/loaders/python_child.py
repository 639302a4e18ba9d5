"""Run Python SLO files in a child process: they are code, and code can exit, hang or crash.

``sloplane validate`` (and ``generate``/``list``) import each Python SLO file in a child
``python -m sloplane.slo.loaders.python_worker FILE DISPLAY RESULT`` with a timeout. The
child writes its SLOs and problems to ``RESULT`` as JSON only once the file has loaded;
a non-zero exit, a timeout or no result (``os._exit(0)`` in the file) is a problem of
that file, never a silent success. The parent rebuilds the SLOs with the model, so what
crosses the process boundary is validated twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sloplane.errors import Problem
from sloplane.slo.loaders.common import Report
from sloplane.slo.model import SLO, Source

DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "SLOPLANE_PYTHON_TIMEOUT"  # seconds per Python SLO file
WORKER = "sloplane.slo.loaders.python_worker"  # never imported here: run with -m


def timeout_seconds() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


MAX_CHILDREN = 4  # each child imports pydantic and sloplane (~0.35 s): run a few at once


def load_python_files_isolated(files: list[tuple[Path, str]], report: Report) -> list[SLO]:
    """Every file's SLOs, each file in its own child, a few children at a time.

    Problems and warnings are merged in file order, so the output is the same however the
    children finish.
    """
    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_CHILDREN, len(files))) as pool:
        results = list(pool.map(lambda f: _isolated(*f), files))
    slos: list[SLO] = []
    for found, own in results:
        slos.extend(found)
        report.extend(own)
    return slos


def _isolated(path: Path, display: str) -> tuple[list[SLO], Report]:
    own = Report()
    return load_python_isolated(path, display, own), own


def load_python_isolated(path: Path, display: str, report: Report) -> list[SLO]:
    """The SLOs of one Python file, imported in a child process with a timeout."""
    timeout = timeout_seconds()
    with tempfile.TemporaryDirectory(prefix="sloplane-py-") as tmp:
        result = Path(tmp) / "result.json"
        command = [sys.executable, "-m", WORKER, str(path), display, str(result)]
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a timeout kills what it started
        )
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            report.problems.append(
                Problem(
                    file=display,
                    message=f"loading took longer than {timeout:g}s and was stopped (an endless "
                    f"loop or a blocking call at import?); set {TIMEOUT_ENV} to allow longer",
                )
            )
            return []
        return _read_result(result, proc.returncode, stderr, display, report)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.communicate()


def _read_result(result: Path, code: int, stderr: bytes, display: str, report: Report) -> list[SLO]:
    if code != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        report.problems.append(
            Problem(
                file=display,
                message=f"the Python process loading this file exited with code {code}"
                + (f" ({last[0][:200]})" if last[0] else ""),
            )
        )
        return []
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report.problems.append(
            Problem(
                file=display,
                message="the file ended the Python process before loading finished "
                "(os._exit or similar at import): no SLOs were read from it",
            )
        )
        return []
    report.problems.extend(Problem(**p) for p in data["problems"])
    report.warnings.extend(Problem(**p) for p in data["warnings"])
    return [
        SLO.model_validate(item["slo"]).model_copy(update={"source": Source(**item["source"])})
        for item in data["slos"]
    ]
