"""Sync between a tablet and a hub: protocol shapes, HTTP client, background worker,
enrollment. Pure Python: never imports Kivy."""
