"""sloplane.dashboards."""
