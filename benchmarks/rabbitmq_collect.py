"""Where a RabbitMQ management-mode scrape's time goes: the collector alone, old and new.

Run: ``.venv/bin/python benchmarks/rabbitmq_collect.py [--collects 200] [--old FILE]``

On the two-node cluster of ``tests/support/topology_rabbitmq.py`` with 20 queues (half
quorum, half classic), the RabbitMQ collector's ``collect()`` is timed in this process,
without the exporter's HTTP front: the current one (``http.client``, the three management
API requests at once), the same client sending them in turn on one connection, and, given ``--old`` (a copy of an earlier
``sloplane/exporters/rabbitmq.py``, e.g. ``git show 6ce1a2f:sloplane/exporters/rabbitmq.py``),
the earlier one (httpx, the requests in turn), in turn (A, B, A, B...). Wall time per
collect: p50 and p99; CPU seconds of this process per collect.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sloplane.exporters.families import Families  # noqa: E402
from sloplane.exporters.rabbitmq import RabbitMQBackend  # noqa: E402
from sloplane.exporters.settings import RabbitMQModule, parse_address  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    import pika

    from tests.support.topology_rabbitmq import rabbitmq_cluster

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--collects", type=int, default=200)
    parser.add_argument("--old", type=Path)
    args = parser.parse_args()
    with rabbitmq_cluster(2) as cluster:
        node = cluster.nodes[0]
        conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=node.amqp))
        channel = conn.channel()
        for i in range(20):
            kind = "quorum" if i % 2 else "classic"
            channel.queue_declare(f"bench-{i}", durable=True, arguments={"x-queue-type": kind})
        conn.close()
        module = RabbitMQModule(management="on", management_port=node.management)
        address = parse_address("rabbitmq", node.address)
        in_turn = RabbitMQBackend(module, address)
        api = in_turn._management()
        # The same client, one request after the other on one connection: what "at once" buys.
        api._connections.append(None)
        api.get = lambda *paths: [api._get(0, path) for path in paths]  # type: ignore[method-assign]
        backends = {
            "current (http.client, at once)": RabbitMQBackend(module, address),
            "current client, in turn": in_turn,
        }
        if args.old:
            spec = importlib.util.spec_from_file_location("rabbitmq_old", args.old)
            assert spec and spec.loader
            old = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(old)
            backends["old (httpx, in turn)"] = old.RabbitMQBackend(module, address)
        walls: dict[str, list[float]] = {name: [] for name in backends}
        cpus: dict[str, float] = dict.fromkeys(backends, 0.0)
        for backend in backends.values():
            for _ in range(10):
                backend.collect(Families("rabbitmq"))
        for _ in range(args.collects):
            for name, backend in backends.items():
                cpu, started = time.process_time(), time.perf_counter()
                backend.collect(Families("rabbitmq"))
                walls[name].append(time.perf_counter() - started)
                cpus[name] += time.process_time() - cpu
        for backend in backends.values():
            backend.close()
    print(f"{args.collects} collects each, in turn; load average at the end {os.getloadavg()}\n")
    print("| collector | p50 ms | p99 ms | mean ms | CPU ms/collect |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in walls.items():
        print(
            f"| {name} | {pct(values, 0.5) * 1000:.2f} | {pct(values, 0.99) * 1000:.2f}"
            f" | {statistics.fmean(values) * 1000:.2f} | {cpus[name] / args.collects * 1000:.2f} |"
        )


if __name__ == "__main__":
    main()
