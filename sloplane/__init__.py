"""sloplane: SLOs as code, compiled into everything that watches them."""

__version__ = "0.1.0"
