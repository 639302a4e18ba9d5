"""``sloplane backfill``: TSDB blocks of the recorded series for history the rules never saw.

Rules loaded onto a service with twenty days of traffic record from that moment on, so
their long windows cover minutes, not days. The backfill reads the SLI's 5m event rates
from Prometheus over the past window (``query_range`` of the rules' own expressions),
computes the roll-up tier from them exactly as the rules do (:mod:`.tier`), and writes
OpenMetrics for ``promtool tsdb create-blocks-from openmetrics``. The tier is computed
here, not by ``promtool tsdb create-blocks-from rules``, because its rules read other
recorded series, which that command cannot do.
"""
