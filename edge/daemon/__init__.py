"""The edge daemon: lifecycle under systemd (notify, watchdog) and the main loop."""

from edge.daemon.notify import SystemdNotifier, Watchdog, watchdog_interval

__all__ = ["SystemdNotifier", "Watchdog", "watchdog_interval"]
