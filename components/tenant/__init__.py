"""One tenant in one region: namespace, identity, key, database, messaging, services, observability."""
