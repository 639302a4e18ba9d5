"""The SLO API's memory under requests that never repeat: is RSS flat once warm?

``sloplane serve`` on ``examples/slos`` against a real (empty) Prometheus, with the soak's
API load alone (``benchmarks/soak.py``): two clients asking for status, one for history
with a new random ``start`` every time, two sending random invalid tokens. It samples the
API's RSS every 5 s and prints the least-squares slope over the last half of the run.

``--tree DIR`` runs the ``sloplane`` package found in DIR instead of this checkout's, so a
candidate fix can be measured side by side with the code it would replace.

    .venv/bin/python benchmarks/api_memory.py --minutes 5
    .venv/bin/python benchmarks/api_memory.py --minutes 5 --tree /tmp/candidate
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.soak import rss, rss_slope  # noqa: E402
from tests.support import processes  # noqa: E402

TOKEN = "api-memory-" + os.urandom(8).hex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--tree", type=Path, default=ROOT, help="where sloplane/ is imported from")
    args = parser.parse_args()
    tree = args.tree.resolve()
    work = Path(tempfile.mkdtemp(prefix="sloplane-api-memory-"))
    with processes.run_prometheus(processes.prometheus_config()) as prom:
        port = processes.free_port()
        api = f"http://127.0.0.1:{port}"
        with (work / "api.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sloplane.cli", "serve", "--slos", str(ROOT / "examples" / "slos"),
                 "--prometheus-url", prom.url, "--database-url", f"sqlite:///{work / 'api.db'}",
                 "--port", str(port), "--report-schedule", "off"],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree), "SLOPLANE_ADMIN_TOKEN": TOKEN},
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            processes.wait_http_ok(f"{api}/healthz", timeout=120, proc=proc)
            samples = _load(api, proc.pid, args.minutes * 60)
        finally:
            processes.stop_process(proc, timeout=30)
    tail = [(t, v) for t, v in samples if t >= samples[-1][0] / 2]
    mib = 1 << 20
    print(f"tree: {tree}")
    print(f"RSS first -> last: {samples[0][1] / mib:.1f} -> {samples[-1][1] / mib:.1f} MiB")
    print(
        f"slope over the last {(tail[-1][0] - tail[0][0]) / 60:.1f} min "
        f"({len(tail)} samples): {rss_slope(tail) * 60 / 1024:+.0f} KiB/min"
    )


def _load(api: str, pid: int, seconds: float) -> list[tuple[float, int]]:
    stop = threading.Event()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client = httpx.Client(timeout=30)
    slo_ids = [s["id"] for s in client.get(f"{api}/api/v1/slos", headers=auth).json()]

    def status() -> None:
        client.get(f"{api}/api/v1/slos/{random.choice(slo_ids)}/status", headers=auth)

    def history() -> None:
        end = time.time()
        start = end - random.randint(3600, 7 * 86400)
        params = {"start": f"{start:.0f}", "end": f"{end:.0f}", "step": "1h"}
        client.get(
            f"{api}/api/v1/slos/{random.choice(slo_ids)}/history", headers=auth, params=params
        )

    def invalid() -> None:
        bad = {"Authorization": f"Bearer {os.urandom(16).hex()}"}
        client.get(f"{api}/api/v1/slos", headers=bad)

    def loop(pause: float, body: Callable[[], None]) -> None:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                body()
            stop.wait(pause)

    plan = [(0.05, status), (0.05, status), (0.2, history), (0.05, invalid), (0.05, invalid)]
    threads = [threading.Thread(target=loop, args=p, daemon=True) for p in plan]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    samples = []
    while (elapsed := time.monotonic() - started) < seconds:
        samples.append((elapsed, rss(pid)))
        time.sleep(5)
    samples.append((time.monotonic() - started, rss(pid)))
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return samples


if __name__ == "__main__":
    main()
