"""sloplane.api."""
