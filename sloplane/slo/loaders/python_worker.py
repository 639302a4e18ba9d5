"""The child side of :mod:`sloplane.slo.loaders.python_child`: load one file, write JSON.

The result file is written only after the file has loaded, so a file that ends the
process early leaves no result, which the parent reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sloplane.errors import Problem
from sloplane.slo.loaders.common import Report


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "obj": problem.obj,
        "field": problem.field,
        "message": problem.message,
    }


def main(argv: list[str]) -> int:
    from sloplane.slo.loaders.python_files import load_python

    path, display, result = Path(argv[0]), argv[1], Path(argv[2])
    report = Report()
    slos = load_python(path, display, report)
    data = {
        "slos": [
            {"slo": s.model_dump(mode="json", by_alias=True), "source": s.source.model_dump()}
            for s in slos
        ],
        "problems": [_problem_dict(p) for p in report.problems],
        "warnings": [_problem_dict(p) for p in report.warnings],
    }
    result.write_text(json.dumps(data), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
