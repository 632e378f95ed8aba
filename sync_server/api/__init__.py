"""HTTP routers: terminal endpoints, admin endpoints, health and metrics."""
