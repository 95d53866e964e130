"""The long-running service: `saber-connector run` (scheduler, HTTP endpoints, webhooks, metrics)."""
