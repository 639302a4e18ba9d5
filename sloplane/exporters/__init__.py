"""sloplane.exporters: metrics for the stack SLOs depend on, and instrumentation for Python apps.

* ``sloplane exporter --config exporters.yaml`` (:mod:`.cli`) serves ``/metrics`` for the
  configured targets and ``/probe?module=&target=`` for any address (:mod:`.server`,
  :mod:`.exporter`); collectors: :mod:`.postgres`, :mod:`.redis_collector`, :mod:`.rabbitmq`,
  :mod:`.http_probe`, each behind a :class:`.target.Target` (timeout, single-flight, ``_up``).
* :mod:`.asgi`: ``PrometheusMiddleware``, ``add_metrics_route`` and ``setup_tracing`` for
  FastAPI/Starlette services.
* :mod:`.rules`: ``stack_rule_files()``, alert and recording rules with their promtool tests.
* :mod:`.metrics_catalog`: ``KNOWN_METRICS``, every series name by kind.

User documentation: docs/exporters.md.
"""
