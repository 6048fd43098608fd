"""Connectors to the platforms cities already run, at the central hub only (tablets and room
hubs never hold a platform's credentials): server.connectors.decidim speaks to a Decidim
instance's API, server.connectors.outbox sends through it what the hub must hand over, and
server.connectors.files writes the import files for what an instance's API does not take
(docs/connectors.md)."""
