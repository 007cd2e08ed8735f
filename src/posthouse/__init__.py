"""posthouse: a complete email system."""

__version__ = "0.1.0"
