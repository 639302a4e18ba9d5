"""The rules "have run" since a moment ago: their recorded tier, written before Prometheus starts.

The long windows are composed from a roll-up tier on a 5-minute grid, so rules loaded on a
fresh Prometheus show their first long-window ratio 5 to 13 minutes later. A test that
only needs "rules loaded minutes ago" writes those minutes of the tier with the product's
own ``sloplane backfill`` (from the raw data already in ``data_dir``) and then starts the
Prometheus under test: its first long-group evaluation already finds the recorded tier.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from sloplane.backfill.cli import backfill
from tests.support.processes import prometheus_config, run_prometheus


def record_recent_tier(slos_py: str, data_dir: Path, start: int, end: int) -> None:
    """Write the recorded series from ``start`` to ``end`` into ``data_dir`` as TSDB blocks.

    ``slos_py`` is a Python SLO file's text. A Prometheus without rules or scrapes serves
    the raw data in ``data_dir`` to ``sloplane backfill`` and is stopped before the blocks
    are moved in, so the Prometheus under test loads them at start-up.
    """
    work = data_dir.parent / f"{data_dir.name}-tier"
    work.mkdir()
    slos = work / "slos.py"
    slos.write_text(slos_py)
    out = work / "blocks"
    with run_prometheus(prometheus_config(), data_dir=data_dir) as prom:
        result = CliRunner().invoke(
            backfill,
            [
                *("--slos", str(slos), "--prometheus-url", prom.url, "--out", str(out)),
                *("--start", str(start), "--end", str(end)),
            ],
        )
    assert result.exit_code == 0, result.output + str(result.exception)
    blocks = [b for b in out.iterdir() if b.is_dir()]
    assert blocks, result.output
    for block in blocks:
        shutil.move(str(block), data_dir / block.name)
