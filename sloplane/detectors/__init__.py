"""Streaming, causal anomaly detectors and the service that acts on them.

Pick a detector by name with :func:`make_detector`; see ``docs/detectors.md``
for which fits which kind of metric.
"""

from sloplane.detectors.base import Detector
from sloplane.detectors.detectors import DETECTORS, make_detector

__all__ = ["DETECTORS", "Detector", "make_detector"]
