"""OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``, and running it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TextIO

from sloplane.backfill.tier import Series
from sloplane.errors import SloplaneError


class _Writer:
    """Series grouped by metric family (OpenMetrics wants each family's samples together)."""

    def __init__(self, sink: TextIO) -> None:
        self.sink = sink
        self.families: dict[str, list[Series]] = {}

    def write(self, series: Series) -> None:
        if series.samples:
            self.families.setdefault(series.name, []).append(series)

    def close(self) -> None:
        for name, members in self.families.items():
            self.sink.write(f"# TYPE {name} gauge\n")
            for series in members:
                labels = ",".join(
                    f'{k}="{_escape(v)}"'
                    for k, v in sorted(series.labels.items())
                    if k != "__name__"
                )
                prefix = f"{name}{{{labels}}}"
                self.sink.write("".join(f"{prefix} {v!r} {t}\n" for t, v in series.samples))
        self.sink.write("# EOF\n")


def openmetrics(sink: TextIO) -> _Writer:
    return _Writer(sink)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def promtool_blocks(om: Path, out: Path, max_block_duration: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise SloplaneError(
            "promtool not found on PATH: install Prometheus' promtool to write blocks"
        )
    result = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            f"--max-block-duration={max_block_duration}",
            str(om),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise SloplaneError(
            f"promtool tsdb create-blocks-from openmetrics failed: {' | '.join(tail)}"
        )
