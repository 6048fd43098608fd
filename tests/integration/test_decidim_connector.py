"""The Decidim connector through a real hub process (issue 28): ideas collected on a tablet,
moderated there, pushed to the hub; the hub's outbox sends the approved ones to a Decidim
stand-in (tests/integration/decidim_standin.py) over real HTTP, through a proxy that breaks
requests (5xx, stalls past the timeout, responses cut after the stand-in committed), with the
stand-in rate-limiting and the hub killed once; then an edit, and the city's answers made in
Decidim reach the resident's receipt page in their language."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from server.connectors.decidim import marker
from sync.content import pull_bundles
from sync.enroll import client_for, enroll
from sync.worker import push_pending

from .conftest import HubProcess
from .decidim_standin import DecidimStandIn
from .faultproxy import FaultProxy



CONSULTATION = "alpimed-2030"


def wait_for(condition, timeout: float = 90.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout} s: {what}")


def decidim_file(path, url: str, timeout: float = 2.0) -> None:
    path.write_text(json.dumps({
        "instances": {"city": {"url": url, "api_key": "piazzetta-key",
                               "api_secret": "piazzetta-secret"}},
        "consultations": {CONSULTATION: {
            "instance": "city", "proposals_component": "12",
            "space": {"type": "ParticipatoryProcess", "id": "4"},
            "locales": {"fr": "fr", "it": "it", "en": "en"}, "timeout": timeout}}}),
        encoding="utf-8")
    path.chmod(0o600)


@pytest.fixture
def connected(tmp_path):
    standin = DecidimStandIn()
    proxy = FaultProxy(standin.port, hold_seconds=3.0, slow_seconds=3.0)
    hub = HubProcess(tmp_path / "hub")
    hub.data_dir.mkdir(parents=True)
    decidim_file(hub.data_dir / "decidim.json", proxy.url)
    hub.env.update({"PIAZZETTA_HUB_DECIDIM_INTERVAL": "1",
                    "PIAZZETTA_HUB_DECIDIM_ANSWERS_INTERVAL": "1"})
    imported = hub.cli("import-bundle", str(DEMO_BUNDLE_DIR))
    assert imported.returncode == 0, imported.stderr
    hub.start()
    yield hub, standin, proxy
    hub.stop()
    proxy.close()
    standin.close()


def queue(hub) -> dict:
    answer = hub.admin("GET", "/decidim/queue", params={"consultation_id": CONSULTATION})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.slow        # a chaos/kill test
def test_every_approved_idea_reaches_decidim_once_and_the_city_answer_comes_back(
        connected, tmp_path):
    hub, standin, proxy = connected
    store = Store.open(tmp_path / "tablet")
    try:
        enroll(store, hub.url, hub.code())
        client = client_for(store)
        pull_bundles(store, client, tmp_path / "tablet" / "bundles")
        consultation = load_bundle(tmp_path / "tablet" / "bundles" / CONSULTATION)
        approved = [store.submit_proposal(
            consultation, title=f"Un banc à l'ombre numéro {n}",
            text=f"Un banc sous les platanes de la place, le numéro {n}.",
            lang="it" if n % 3 == 0 else "fr") for n in range(12)]
        short = store.submit_proposal(consultation, title="Banc",
                                      text="Un banc près de la fontaine du port.", lang="fr")
        rejected = store.submit_proposal(consultation, title="Publicité pour un magasin",
                                         text="Achetez nos chaussures en solde.", lang="fr")
        for idea in (*approved, short):
            store.moderate_proposal(idea.id, "approved")
        store.moderate_proposal(rejected.id, "rejected", reason="Publicité")
        # Faults from the first request: refused connections, 500s, stalls past the
        # connector's 2 s timeout, and answers cut after the stand-in committed.
        proxy.chaos(0.2, ("http500", "cut_response", "stall", "refuse"), seed=28)
        standin.rate_limit(3)
        counts = push_pending(store, client)
        assert {s for s, n in counts.items() if n} == {"stored"}

        # A crash of the hub in the middle of sending: what it had not finished is sent again
        # after the restart, never a second time.
        wait_for(lambda: standin.mutations >= 3, what="the first proposals made")
        hub.kill()
        hub.start()

        def all_there():
            return all(len(standin.marked(marker(i.id))) >= 1 for i in approved) \
                and queue(hub)["counts"]["waiting"] == 0
        try:
            wait_for(all_there, timeout=180, what="every approved idea in the stand-in")
        except AssertionError:
            print(json.dumps(queue(hub), indent=1), proxy.faults_done,
                  hub.log.read_text(errors="replace")[-3000:])
            raise
        # Cut responses happened: the stand-in made proposals whose answer never came back.
        assert "cut_response" in proxy.faults_done
        for idea in approved:
            assert len(standin.marked(marker(idea.id))) == 1, idea.id
        assert standin.marked(marker(rejected.id)) == []
        assert len(standin.proposals) == len(approved)
        state = {row["proposal_id"]: row for row in queue(hub)["queue"]}
        assert state.keys() == {i.id for i in (*approved, short)}
        assert state[short.id]["state"] == "refused"
        assert "Title is too short (under 15 characters)" in state[short.id]["message"]
        for idea in approved:
            row = state[idea.id]
            assert row["state"] == "sent"
            assert standin.marked(marker(idea.id))[0]["id"] == row["decidim_id"]
        italian = standin.proposals[state[approved[0].id]["decidim_id"]]
        assert set(italian["title"]) == {"it"}           # the idea's own language
        assert set(standin.proposals[state[approved[1].id]["decidim_id"]]["title"]) == {"fr"}
        assert standin.invalid == [] and standin.documents
        # The dashboard shows the queue, Decidim's refusal in its own words.
        board = requests.get(f"{hub.url}/dashboard", params={"lang": "fr"}, timeout=10,
                             headers={"Authorization": f"Bearer {hub.admin_token}"})
        assert board.status_code == 200
        assert f"Envoyées\u00a0: {len(approved)} · en attente\u00a0: 0 · refusées\u00a0: 1" \
            in board.text
        assert "Title is too short (under 15 characters)" in board.text

        # An edit after moderation updates the proposal; the short one, corrected, is made.
        proxy.chaos(0.0, ("http500",))
        store.moderate_proposal(approved[1].id, "approved",
                                title="Un banc à l'ombre des platanes, corrigé")
        store.moderate_proposal(short.id, "approved", title="Un banc près de la fontaine")
        push_pending(store, client)
        edited = state[approved[1].id]["decidim_id"]
        wait_for(lambda: standin.proposals[edited]["title"]
                 == {"fr": "Un banc à l'ombre des platanes, corrigé"}, what="the edit")
        wait_for(lambda: len(standin.marked(marker(short.id))) == 1, what="the corrected idea")
        assert len(standin.proposals) == len(approved) + 1

        # The city answers in Decidim; the resident's receipt page shows it in their language.
        standin.answer(edited, "accepted", {"fr": "<p>Oui : il sera posé en mars &amp; avril.</p>",
                                            "it": "<p>Sì: sarà posato a marzo.</p>"})
        standin.answer(state[approved[0].id]["decidim_id"], "evaluating",
                       {"it": "<p>Lo stiamo studiando.</p>"})
        page = f"{hub.url}/ideas/{approved[1].short_code}"
        wait_for(lambda: "Sì: sarà posato a marzo." in requests.get(
            page, params={"lang": "it"}, timeout=10).text, what="the answer in Italian")
        french = requests.get(page, params={"lang": "fr"}, timeout=10).text
        assert "Oui : il sera posé en mars &amp; avril." in french
        other = f"{hub.url}/ideas/{approved[0].short_code}"
        wait_for(lambda: "Lo stiamo studiando." in requests.get(
            other, params={"lang": "fr"}, timeout=10).text, what="the only language there is")
        ideas = {i["id"]: i for i in hub.admin(
            "GET", "/proposals", params={"consultation_id": CONSULTATION}).json()["proposals"]}
        assert ideas[approved[1].id]["answer_status"] == "accepted"
        assert ideas[approved[0].id]["answer_status"] == "under_study"
        assert len(standin.proposals) == len(approved) + 1
        assert standin.invalid == []
    finally:
        store.close()


def test_an_instance_slow_to_resolve_then_slow_to_send_its_headers_is_given_up_on(
        monkeypatch):
    """attack6: the deadline fired while the instance's name was still resolving (its DNS is
    the instance's own to slow down, or several addresses each tried for a timeout): no socket
    yet to shut, so nothing was shut, and the headers then trickled in for as long as the
    instance liked. The connections are shut again until the request ends."""
    import socket

    from server.connectors.decidim import DecidimClient, DecidimConfig, DecidimUnavailable

    real = socket.getaddrinfo

    def slow_resolver(*args, **kwargs):      # the instance's slow name server
        time.sleep(2.0)                       # past the deadline: 3 × 0.5 s
        return real(*args, **kwargs)
    standin = DecidimStandIn()
    try:
        client = DecidimClient(DecidimConfig(
            consultation_id=CONSULTATION, url=f"http://localhost:{standin.port}",
            api_key="piazzetta-key", api_secret="piazzetta-secret", proposals_component="12",
            version="0.32.0", timeout=0.5))
        standin.header_pause = 0.1          # ~900 header bytes: the whole trickle ~90 s
        monkeypatch.setattr(socket, "getaddrinfo", slow_resolver)
        failed = []

        def sign_in():
            try:
                client.sign_in()
            except DecidimUnavailable as exc:
                failed.append(str(exc))
        thread = threading.Thread(target=sign_in, daemon=True)
        thread.start()
        wait_for(lambda: standin.hung_up == 1, 30, "the stand-in sees the hang-up")
        thread.join(30)
        assert failed and "too slow" in failed[0] and client.token is None
        client.close()
    finally:
        standin.close()


def test_an_instance_slow_to_send_its_headers_is_given_up_on_then_used_again():
    """The stand-in sends its answers' headers a byte now and then, each well within the
    timeout between reads: the connector's only thread would wait for the whole trickle (and
    every consultation's sending with it). The request has one deadline in all (connect,
    headers, body): the connector hangs up before the headers end, and the next request, the
    instance quick again, goes through."""
    from server.connectors.decidim import DecidimClient, DecidimConfig, DecidimUnavailable

    standin = DecidimStandIn()
    try:
        client = DecidimClient(DecidimConfig(
            consultation_id=CONSULTATION, url=standin.url, api_key="piazzetta-key",
            api_secret="piazzetta-secret", proposals_component="12", version="0.32.0",
            timeout=0.5))
        standin.header_pause = 0.1       # ~900 header bytes: the whole trickle ~90 s
        with pytest.raises(DecidimUnavailable, match="too slow"):
            client.sign_in()
        assert client.token is None
        wait_for(lambda: standin.hung_up == 1, 30, "the stand-in sees the hang-up")
        assert standin.sign_ins == 1     # it answered; the connector did not wait for it
        standin.header_pause = 0.0
        assert client.execute("query { decidim { version } }")["decidim"]["version"]
        client.close()
    finally:
        standin.close()
