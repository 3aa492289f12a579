"""The single place the version lives (hatch reads it at build time)."""

__version__ = "0.1.0"
