"""saber-connector: keeps HubSpot contacts enriched with Saber's AI research."""

__version__ = "0.1.0"
