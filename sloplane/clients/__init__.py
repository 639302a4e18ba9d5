"""One client per outside system sloplane reads from or writes to.

* :mod:`sloplane.clients.prometheus`: the PromQL HTTP API (Prometheus, Thanos, Mimir,
  VictoriaMetrics), with a synchronous and an asynchronous face over one decoder;
* :mod:`sloplane.clients.alertmanager`: the AlertManager API v2.

The API, the reports, the detectors and the CLI reach these systems only through
here, so timeouts, retries and the validation of every answer are written once.
"""
