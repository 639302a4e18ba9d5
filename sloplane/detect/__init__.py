"""The detector service (``sloplane detect serve``): poll, score, alert, act, audit.

The numbers come from :mod:`sloplane.detectors`, a library that knows nothing of
services. This package is the service built around it, one part per module:

- :mod:`~sloplane.detect.poller` reads Prometheus (through a ``PromReader``), feeds
  the detectors and decides when a series fires or recovers;
- :mod:`~sloplane.detect.warmup` primes new series from history,
  :mod:`~sloplane.detect.shard` splits series between replicas,
  :mod:`~sloplane.detect.describe` words the alerts;
- :mod:`~sloplane.detect.outbox` keeps alerts until AlertManager has them;
- :mod:`~sloplane.detect.gate` decides whether an action may run (lease, guards,
  approval) and audits it; :mod:`~sloplane.detect.hooks` knows each hook kind;
- :mod:`~sloplane.detect.rollback` watches SLO burns after deploys;
- :mod:`~sloplane.detect.routes` is the HTTP API, :mod:`~sloplane.detect.metrics`
  the ``/metrics`` collector, :mod:`~sloplane.detect.scheduler` the timing;
- :mod:`~sloplane.detect.store` keeps what must survive a restart (Alembic
  migrations in ``migrations/``); :mod:`~sloplane.detect.signing` signs webhook
  calls; :mod:`~sloplane.detect.approvals` tells approvers;
- :mod:`~sloplane.detect.service` composes them.

Nothing heavy is imported here: dashboards import :mod:`~sloplane.detect.metric_names`.
"""
