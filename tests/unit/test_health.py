"""GET /healthz and /readyz (server/routes/health.py), what a load balancer asks a hub
process: alive; ready only with its database reachable, its schema current and not stopping."""
from __future__ import annotations

from server import migrations


def test_a_running_hub_is_alive_and_ready(api):
    client = api.fresh()
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.headers["cache-control"] == "no-store"
    assert ready.json()["ready"] and ready.json()["schema"] == migrations.LATEST


def test_a_schema_other_than_the_code_s_is_not_ready(api, monkeypatch):
    monkeypatch.setattr(migrations, "LATEST", migrations.LATEST + 1)   # newer code, older base
    answer = api.fresh().get("/readyz")
    assert answer.status_code == 503 and answer.json()["ready"] is False
    assert api.fresh().get("/healthz").status_code == 200           # alive all the same


def test_a_stopping_hub_is_not_ready(api):
    api.app.state.streams.closing = True
    answer = api.fresh().get("/readyz")
    assert answer.status_code == 503 and answer.json()["stopping"] is True

