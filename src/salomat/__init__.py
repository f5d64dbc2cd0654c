"""Salomat: open national digital-health platform (Uzbekistan, Kazakhstan)."""

__version__ = "0.1.0"
