"""SLOs for the console's browser tests, on tests/api/dataset.py's backfilled history.

The same two series (checkout 10 req/s, search 5 req/s) give every status by objective
alone: checkout at 99% is healthy, at 99.75% at risk, at 99.9% breached; a grouped SLO
splits the shop's requests by job (tests/console/dataset.py: one group breached, one at
risk, two ok); an SLO on a metric nobody exports has no data.
"""

from sloplane.slo.model import SLO, EventsSLI

CHECKOUT_ERRORS = 'http_requests_total{job="checkout",code=~"5.."}'
CHECKOUT_TOTAL = 'http_requests_total{job="checkout"}'


def _checkout(name: str, objective: float, description: str) -> SLO:
    return SLO(
        service="checkout",
        name=name,
        objective=objective,
        team="payments",
        description=description,
        runbook_url="https://runbooks.example.com/checkout",
        sli=EventsSLI(errors=CHECKOUT_ERRORS, total=CHECKOUT_TOTAL),
    )


SLOS = [
    _checkout("availability", 99, "Checkout requests answered without a server error."),
    _checkout("availability-tight", 99.75, "The same requests against a tighter target."),
    _checkout("availability-strict", 99.9, "The same requests against a strict target."),
    SLO(
        service="search",
        name="availability",
        objective=99,
        team="discovery",
        sli=EventsSLI(errors='search_requests_total{code=~"5.."}', total="search_requests_total"),
    ),
    SLO(
        service="shop",
        name="availability-by-job",
        objective=99,
        team="payments",
        description="Every job's requests, one group per job.",
        sli=EventsSLI(errors='shop_requests_total{code=~"5.."}', total="shop_requests_total"),
        group_by=("job",),
    ),
    SLO(
        service="ghost",
        name="availability",
        objective=99.5,
        team="discovery",
        sli=EventsSLI(errors='ghost_requests_total{code=~"5.."}', total="ghost_requests_total"),
    ),
]
