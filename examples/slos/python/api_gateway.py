"""SLOs for the public HTTP API, measured at the gateway (what users actually see).

Queries without ``{{.window}}`` are counter expressions: sloplane wraps each
selector in ``rate(...[window])`` and sums by ``group_by`` (see docs/inputs.md).
"""

from sloplane.slo.model import SLO, Alerting, AlertTier, EventsSLI, LatencySLI, NoDataAlert

GATEWAY = 'job="gateway",route!~"/health|/metrics"'

SLOS = [
    SLO(
        service="api",
        name="availability",
        description="Requests answered without a server error (5xx) at the gateway.",
        objective=99.9,
        window="30d",
        sli=EventsSLI(
            errors=f'http_requests_total{{{GATEWAY},code=~"5.."}}',
            total=f"http_requests_total{{{GATEWAY}}}",
        ),
        team="platform",
        runbook_url="https://runbooks.example.com/api/availability",
        labels={"tier": "1"},
        alerting=Alerting(
            page=AlertTier(labels={"route_to": "platform-oncall"}),
            ticket=AlertTier(labels={"route_to": "platform-tickets"}),
            no_data=NoDataAlert(enabled=True, **{"for": "15m"}),
        ),
    ),
    SLO(
        service="api",
        name="latency",
        description="Requests served in under 300 ms at the gateway.",
        objective=99,
        window="30d",
        sli=LatencySLI(
            metric="http_request_duration_seconds",
            threshold="0.3",
            selector=GATEWAY,
        ),
        team="platform",
    ),
]
