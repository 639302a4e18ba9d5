"""Streaming, causal anomaly detectors: a numeric library with no I/O.

Pick a detector by name with :func:`make_detector`; put it under a watch's
rules (direction, floor, bounds, a false-alarm budget) with :func:`make_watch`.
See ``docs/detectors.md`` for which fits which kind of metric.
"""

from sloplane.detectors.base import Detector
from sloplane.detectors.detectors import DETECTORS, DetectorError, make_detector
from sloplane.detectors.watch import WatchDetector, WatchOptions, make_watch

__all__ = [
    "DETECTORS",
    "Detector",
    "DetectorError",
    "WatchDetector",
    "WatchOptions",
    "make_detector",
    "make_watch",
]
