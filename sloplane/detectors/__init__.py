"""sloplane.detectors."""
