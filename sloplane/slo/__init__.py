"""sloplane.slo."""
