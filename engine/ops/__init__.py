"""Day two: monitoring, alerts, budgets, spot watcher, rollback plan."""
