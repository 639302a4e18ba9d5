"""sloplane.alerts."""
