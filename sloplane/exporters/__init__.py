"""sloplane.exporters: metrics for the stack SLOs depend on, and instrumentation for Python apps.

* ``sloplane exporter --config exporters.yaml`` (:mod:`.cli`) serves ``/metrics`` for the
  configured targets and ``/probe?module=&target=`` for any address (:mod:`.server`,
  :mod:`.exporter`); collectors: :mod:`.postgres`, :mod:`.pgbouncer`, :mod:`.redis_collector`
  (servers and Sentinels), :mod:`.rabbitmq`, :mod:`.http_probe`, each behind a
  :class:`.target.Target` (timeout, single-flight, ``_up``), each imported only when a target
  of its kind is made. Names and labels are the community exporters'.
* :mod:`.asgi`: ``PrometheusMiddleware``, ``add_metrics_route`` and ``setup_tracing`` for
  FastAPI/Starlette services.
* :mod:`.rules`: ``stack_rule_files()``, alert and recording rules with their promtool tests,
  from the per-kind tables in :mod:`.stack_rules`.
* :mod:`.metrics_catalog`: ``KNOWN_METRICS``, every series name by kind.

User documentation: docs/exporters.md.
"""
