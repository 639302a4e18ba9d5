"""sloplane.exporters."""
