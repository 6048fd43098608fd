"""GET /healthz and /readyz (server/routes/health.py), what a load balancer asks a hub
process: alive; ready only with its database reachable, its schema current and not stopping.
The public learns only that status (rate-limited); details go to loopback, a trusted proxy
asking itself, and staff."""
from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient
from limits import parse

from server import migrations


def _status_only(answer, ready: bool) -> bool:
    body = answer.json()
    return body["ready"] is ready and set(body) <= {"ready", "protocol"}


def _from(api, address: str):
    """A client of the in-process API calling from `address` (no lifespan: not `with`)."""
    client = TestClient(api.app, base_url=api.base_url, client=(address, 40000))
    api._clients.append(client)
    return client


def _staff(hub) -> dict:
    return {"Authorization": f"Bearer {hub.settings.admin_token}"}


def test_a_running_hub_is_alive_and_ready(api, hub):
    client = api.fresh()
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz", headers=_staff(hub))
    assert ready.status_code == 200 and ready.headers["cache-control"] == "no-store"
    assert ready.json()["ready"] and ready.json()["schema"] == migrations.LATEST


def test_the_public_reads_only_the_status_and_is_rate_limited(api, hub, monkeypatch):
    public = api.fresh().get("/readyz")
    assert public.status_code == 200 and _status_only(public, True)
    local = _from(api, "127.0.0.1")
    assert local.get("/readyz").json()["schema"] == migrations.LATEST
    monkeypatch.setattr(hub, "settings", replace(hub.settings, trusted_proxies=("10.0.0.5",)))
    balancer = _from(api, "10.0.0.5")
    assert balancer.get("/readyz").json()["schema"] == migrations.LATEST
    forwarded = balancer.get("/readyz", headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9"})
    assert _status_only(forwarded, True)          # a client behind it: the status only
    # attack6: a last address the hub cannot read (a port after it, "unknown") is still a
    # client behind the proxy, never the proxy itself.
    for unreadable in ("203.0.113.9:5678", "unknown", "127.0.0.1, [::1]:80"):
        answer = balancer.get("/readyz", headers={"X-Forwarded-For": unreadable})
        assert _status_only(answer, True), unreadable
    monkeypatch.setitem(api.app.state.limits.items, "public", parse("2/minute"))
    codes = [api.fresh().get("/readyz").status_code for _ in range(3)]
    assert codes[-1] == 429 and "retry-after" in api.fresh().get("/readyz").headers
    assert api.fresh().get("/readyz", headers=_staff(hub)).status_code == 200   # not counted


def test_a_schema_other_than_the_code_s_is_not_ready(api, hub, monkeypatch):
    monkeypatch.setattr(migrations, "LATEST", migrations.LATEST + 1)   # newer code, older base
    answer = api.fresh().get("/readyz")
    assert answer.status_code == 503 and answer.json()["ready"] is False
    assert api.fresh().get("/readyz", headers=_staff(hub)).json()["schema_expected"] == \
        migrations.LATEST
    assert api.fresh().get("/healthz").status_code == 200           # alive all the same


def test_a_stopping_hub_is_not_ready(api, hub):
    api.app.state.streams.closing = True
    answer = api.fresh().get("/readyz", headers=_staff(hub))
    assert answer.status_code == 503 and answer.json()["stopping"] is True
    assert _status_only(api.fresh().get("/readyz"), False)


def test_a_shared_port_is_refused_on_sqlite(tmp_path, monkeypatch, capsys):
    """Two processes on one SQLite file would each keep their own tallies: the worker's
    shared port (PIAZZETTA_HUB_REUSE_PORT, set by `serve --workers`) needs PostgreSQL."""
    from server.admin import serve
    from server.settings import Settings
    monkeypatch.setenv("PIAZZETTA_HUB_REUSE_PORT", "1")
    settings = Settings.from_env({}, data_dir=tmp_path / "hub")
    assert settings.database_url.startswith("sqlite")
    assert serve(settings) == 2
    assert "PostgreSQL" in capsys.readouterr().err
    assert not (tmp_path / "hub" / "hub.db").exists()      # refused before opening anything


def test_an_ipv6_client_taking_the_next_address_of_its_64_is_still_rate_limited(api,
                                                                                monkeypatch):
    """attack6: one home or phone holds a whole IPv6 /64; counted by address, each new one
    passed every rate limit (the streams' cap already counted by /64: one rule now)."""
    monkeypatch.setitem(api.app.state.limits.items, "public", parse("2/minute"))
    codes = [_from(api, f"2001:db8:6:6::{n:x}").get("/readyz").status_code
             for n in range(1, 5)]
    assert codes[:2] == [200, 200] and codes[2:] == [429, 429]
    assert _from(api, "2001:db8:6:7::1").get("/readyz").status_code == 200   # another /64
    assert _from(api, "::ffff:198.51.100.4").get("/readyz").status_code == 200
    assert _from(api, "198.51.100.4").get("/readyz").status_code == 200
    assert _from(api, "198.51.100.4").get("/readyz").status_code == 429    # the same client
    # On the room's own network its phones share one /64: each counts alone, as over IPv4.
    for local in ("fd12:3456:789a:1::5", "fd12:3456:789a:1::6", "fe80::1:2", "fe80::1:3"):
        assert _from(api, local).get("/readyz").status_code == 200, local
