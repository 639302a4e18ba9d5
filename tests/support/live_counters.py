"""A scrape target whose counters go on from backfilled history at wall-clock time.

Rules loaded onto backfilled data need the traffic to continue: their long windows read
the 5m rates on the 5-minute grid. Samples written ahead of time into TSDB blocks do not
work (Prometheus refuses to append before a block's end), so this serves them live.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator

from tests.support.processes import free_port

Values = Callable[[float], dict[str, float]]  # unix time -> {'name{labels}': value}


@contextlib.contextmanager
def live_counters(values: Values) -> Iterator[str]:
    """Serve ``values(now)`` in the Prometheus text format; yields ``host:port``."""
    port = free_port()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = "".join(f"{k} {v!r}\n" for k, v in values(time.time()).items()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def drop_target_labels(config: dict) -> dict:
    """Drop ``job`` and ``instance`` from scraped series, so they continue backfilled ones."""
    for scrape in config.get("scrape_configs", []):
        scrape["metric_relabel_configs"] = [{"action": "labeldrop", "regex": "job|instance"}]
    return config
