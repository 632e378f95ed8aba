"""hadir edge: the wall terminal's daemon (capture, recognition, store, feedback, sync)."""

__version__ = "0.1.0"
