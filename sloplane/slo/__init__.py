"""The SLO model and its compilers.

Write SLOs in Python with these names::

    from sloplane.slo import SLO, EventsSLI

    SLOS = [SLO(service="api", name="availability", objective=99.9,
                sli=EventsSLI(errors='http_requests_total{code=~"5.."}',
                              total="http_requests_total"))]
"""

from sloplane.slo.catalog import Catalog, Document
from sloplane.slo.model import (
    SLO,
    Alerting,
    AlertTier,
    AlertWindow,
    AvailabilitySLI,
    EventsSLI,
    LatencySLI,
    NoDataAlert,
    RawSLI,
)

__all__ = [
    "SLO",
    "AlertTier",
    "AlertWindow",
    "Alerting",
    "AvailabilitySLI",
    "Catalog",
    "Document",
    "EventsSLI",
    "LatencySLI",
    "NoDataAlert",
    "RawSLI",
]
