"""Attacks on the surfaces added for issues 28-30, from outside (in process, the real hub on a
temporary SQLite database): what each found is fixed in the product and checked here."""
from __future__ import annotations

import json

from server import closing as closings
from server import display_controls

CONSULTATION = "alpimed-2030"
MEETING = "m-menton-1203"


def _auth(device):
    return {"Authorization": f"Bearer {device['id']}:{device['secret']}"}


def test_an_enrolled_tablet_cannot_put_a_foreign_closing_qr_on_the_projectors(hub, tablet, api):
    """Phishing on the big screen: the display control `closing` is drawn as a QR over every
    view; a tablet's credentials (or a stolen one) must not point it anywhere but a closing
    record this hub holds, at this hub's own public address."""
    _store, device = tablet(hub)
    client = api.fresh()
    url = f"/api/v1/consultations/{CONSULTATION}/display"
    own = hub.settings.public_url.rstrip("/")
    for address in ("https://piazzetta-verifica.example/closing/" + "ab" * 16,
                    "https://evil.example/login/closing/" + "cd" * 16,
                    f"{own}/closing/" + "ef" * 16):           # ours, but no such record
        answer = client.put(url, json={"closing": address}, headers=_auth(device))
        assert answer.status_code == 400, (address, answer.text)
        assert answer.json()["error"]["field"] == "closing"
    control = json.loads(display_controls.read_display(hub, CONSULTATION)[1])["control"]
    assert not control.get("closing")
    # A real closing record of this hub is shown (closing the meeting puts it there), and a
    # facilitator's tablet may take it off and put it back.
    row = closings.make_for(hub, meeting_id=MEETING)
    real = f"{own}/closing/{row['id']}"
    assert client.put(url, json={"closing": ""}, headers=_auth(device)).status_code == 200
    assert client.put(url, json={"closing": real}, headers=_auth(device)).status_code == 200
    control = json.loads(display_controls.read_display(hub, CONSULTATION)[1])["control"]
    assert control["closing"] == real


def test_a_decidim_participants_proposal_carrying_an_ideas_marker_is_not_taken_for_it(
        hub, tablet, push):
    """A hostile participant of the city's Decidim reads an approved idea's ID in the hub's
    public list and writes a proposal of their own ending with `Piazzetta #<id>` before the
    admin imports the file (a 0.31 instance). The connector must not link it: else the idea
    leaves the import file (never reaching the city) and the answer to the impostor's
    proposal shows on the resident's receipt as the city's."""
    from server.connectors import files, outbox
    from server.connectors.decidim import marker
    from server.connectors.outbox import DecidimOutbox, city_answer
    from tests.integration.decidim_standin import DecidimStandIn
    from tests.unit.test_decidim_connector import ideas_on_the_hub, read_proposals, write_config
    made = ideas_on_the_hub(hub, tablet, push)
    idea = made["fr"].id
    assert idea in {p["id"] for p in hub.proposals(CONSULTATION, public=True)}  # public
    standin = DecidimStandIn(version="0.31.0")
    try:
        write_config(hub, url=standin.url, api_key="piazzetta-key",
                     api_secret="piazzetta-secret", timeout=5)
        sender = DecidimOutbox(hub, interval=1, answers_interval=1)
        sender.round()
        standin.proposals["900"] = {
            "id": "900", "title": {"fr": "Un banc"}, "state": None, "answer": None,
            "body": {"fr": f"Copie.\n\n{marker(idea)}\n{marker(idea)}/0123456789abcdef"},
            "publishedAt": "2026-12-06T10:00:00Z"}
        standin.answer("900", "rejected", {"fr": "<p>Refusé : hors sujet.</p>"})
        sender.answers_due.clear()
        sender.round()
        rows = {r["proposal_id"]: r for r in outbox.queue(hub.engine, CONSULTATION)}
        assert rows[idea]["decidim_id"] is None and rows[idea]["state"] == "waiting"
        assert city_answer(hub.engine, idea, "fr", "fr") is None
        assert {i["id"]: i for i in hub.proposals(CONSULTATION)}[idea]["answer_status"] is None
        # The idea is still in the import file, and the admin's import of it is linked.
        text = files.import_file(hub, files.config_for(hub, CONSULTATION), "proposals")
        bodies = [p["body"]["fr"] for p in read_proposals(text)]
        assert any(marker(idea) in b for b in bodies)
        for n, row in enumerate(read_proposals(text)):
            standin.proposals[str(500 + n)] = {
                "id": str(500 + n), "title": row["title"], "body": row["body"],
                "state": None, "answer": None, "publishedAt": "2026-12-06T10:00:00Z"}
        sender.answers_due.clear()
        sender.round()
        rows = {r["proposal_id"]: r for r in outbox.queue(hub.engine, CONSULTATION)}
        assert rows[idea]["decidim_id"] in {"500", "501"}
        sender.stop()
    finally:
        standin.close()


class _Hostile:
    """A tiny HTTP server on 127.0.0.1 whose POST answer a test chooses (`answer(handler)`),
    recording each request's path and body: a hostile or hijacked Decidim, or a collector."""

    def __init__(self, answer):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append((self.path, raw))
                answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _config(url):
    from server.connectors.decidim import DecidimConfig
    return DecidimConfig(consultation_id=CONSULTATION, url=url, api_key="the-key",
                         api_secret="the-api-secret", proposals_component="12",
                         version="0.32.0", timeout=5)


def test_a_redirect_from_decidim_never_carries_the_api_secret_elsewhere():
    """A hijacked Decidim (or a proxy before it) answers the sign-in with a 307 to another
    address: requests would POST the form again there, API secret included (and a 302 to an
    internal address would be fetched from the hub)."""
    import pytest

    from server.connectors.decidim import DecidimClient, DecidimUnavailable

    def ok(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")
    collector = _Hostile(ok)

    def redirect(handler):
        handler.send_response(307 if handler.path == "/api/sign_in" else 302)
        handler.send_header("Location", collector.url + "/steal")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    hostile = _Hostile(redirect)
    try:
        client = DecidimClient(_config(hostile.url))
        with pytest.raises(DecidimUnavailable):
            client.sign_in()
        client.token = "a-token"
        with pytest.raises(DecidimUnavailable):
            client.execute("query { decidim { version } }")
        client.close()
        assert [path for path, _ in hostile.seen] == ["/api/sign_in", "/api"]
        assert b"the-api-secret" in hostile.seen[0][1]
        assert collector.seen == []
    finally:
        hostile.close()
        collector.close()


def test_a_huge_answer_from_decidim_is_cut_not_held_in_memory():
    """A hostile Decidim answers with a body without end: the connector stops reading past its
    limit and waits for the next round (nothing refused, nothing kept)."""
    import pytest

    from server.connectors import decidim
    from server.connectors.decidim import DecidimClient, DecidimUnavailable

    def endless(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()           # no length: read until the connection ends
        chunk = b" " * 65536
        try:
            handler.wfile.write(b'{"data": {"x": "')
            for _ in range(decidim.MAX_ANSWER // len(chunk) + 64):
                handler.wfile.write(chunk)
        except OSError:
            pass                         # the connector hung up: what is expected
        handler.close_connection = True
    hostile = _Hostile(endless)
    try:
        client = DecidimClient(_config(hostile.url))
        client.token = "a-token"
        with pytest.raises(DecidimUnavailable, match="too large"):
            client.execute("query { decidim { version } }")
        client.close()
    finally:
        hostile.close()


def test_the_api_secret_never_travels_over_plain_http_to_another_machine():
    """A Decidim address written http:// by mistake (or downgraded): the sign-in form and the
    JWT would cross the network in clear. Nothing is sent; the outbox waits and says why."""
    import socket

    import pytest

    from server.connectors.decidim import DecidimClient, DecidimUnavailable
    # A listener on this machine's non-loopback address: it must receive nothing.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))          # no packet sent: picks the outgoing address
        address = probe.getsockname()[0]
    finally:
        probe.close()
    if address.startswith("127."):
        pytest.skip("no non-loopback address on this machine")
    listener = socket.socket()
    listener.bind((address, 0))
    listener.listen(1)
    listener.settimeout(0.5)
    try:
        client = DecidimClient(_config(f"http://{address}:{listener.getsockname()[1]}"))
        with pytest.raises(DecidimUnavailable, match="https"):
            client.sign_in()
        client.close()
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()


def test_the_data_folder_keeps_no_phones_card_code_cookie_address_or_answer_time(hub, api):
    """The operator reads every byte of the data folder after phones answered in both modes:
    no card code typed on a phone, no phone's cookie, no client address, and no phone
    answer's time finer than the hour (its arrival is the moment it was typed)."""
    import re
    from pathlib import Path

    card, = hub.participation.issue_cards(CONSULTATION, 1)
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket"],
                                                     "phones_cards": False}, "test")
    phone = api.fresh()
    assert phone.post(f"/v/{CONSULTATION}/q-ticket",
                      data={"lang": "fr", "value": "yes"}).status_code == 200
    cookies = [c.value for c in phone.cookies.jar]
    assert cookies
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket", "q-cooperation"],
                                                     "phones_cards": True}, "test")
    other = api.fresh()
    for question, value in (("q-ticket", "no"), ("q-cooperation", "4")):
        assert other.post(f"/v/{CONSULTATION}/{question}", data={
            "lang": "fr", "value": value, "card": card.typed}).status_code == 200
    with hub.engine.connect() as conn:
        times = conn.exec_driver_sql(
            "SELECT recorded_at, received_at FROM events WHERE device_id LIKE 'phone-%'").all()
    assert len(times) >= 4
    assert all(re.search(r"T\d\d:00:00(\.0+)?(\+00:00|Z)$", t) for row in times for t in row), \
        times
    secrets_ = [card.typed, card.typed.replace("-", "").replace(" ", ""), *cookies,
                "testclient"]
    folder = Path(hub.settings.data_dir)
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets_:
                assert secret.encode() not in data, (path.name, secret[:12])


def test_a_long_answer_in_decidim_is_cut_and_the_other_answers_still_come_back(
        hub, tablet, push):
    """Decidim has no length limit on an answer; the hub keeps 4,000 characters. A longer
    answer raised in the middle of the listing, every round: no later proposal's answer ever
    came back. It is cut, and the others arrive."""
    from server.connectors import files
    from server.connectors.outbox import ANSWER_MAX, DecidimOutbox, city_answer
    from tests.integration.decidim_standin import DecidimStandIn
    from tests.unit.test_decidim_connector import ideas_on_the_hub, read_proposals, write_config
    made = ideas_on_the_hub(hub, tablet, push)
    standin = DecidimStandIn(version="0.31.0")
    try:
        write_config(hub, url=standin.url, api_key="piazzetta-key",
                     api_secret="piazzetta-secret", timeout=5)
        sender = DecidimOutbox(hub, interval=1, answers_interval=1)
        sender.round()
        text = files.import_file(hub, files.config_for(hub, CONSULTATION), "proposals")
        for n, row in enumerate(read_proposals(text)):
            standin.proposals[str(500 + n)] = {
                "id": str(500 + n), "title": row["title"], "body": row["body"],
                "state": None, "answer": None, "publishedAt": "2026-12-06T10:00:00Z"}
        long_one, other = sorted(standin.proposals)
        standin.answer(long_one, "accepted", {"fr": "<p>" + "Très long. " * 600 + "</p>",
                                              "it": "<p>" + "Lunghissimo. " * 600 + "</p>"})
        standin.answer(other, "rejected", {"fr": "<p>Non.</p>", "it": "<p>No.</p>"})
        sender.answers_due.clear()
        sender.round()
        ideas = {i["id"]: i for i in hub.proposals(CONSULTATION)}
        linked = (made["fr"].id, made["it"].id)
        states = {ideas[i]["answer_status"] for i in linked}
        assert states == {"accepted", "rejected"}, states
        longest = max((city_answer(hub.engine, i, "fr", "fr") or "" for i in linked), key=len)
        assert len(longest) == ANSWER_MAX and longest.endswith("…")
        sender.stop()
    finally:
        standin.close()


def test_the_public_list_of_ideas_gives_their_hour_not_their_moment(hub, tablet, push, api):
    """An outsider reads /api/v1/consultations/<id>/proposals (public): each approved idea
    with its site and meeting. Its exact arrival time would name its author to anyone who saw
    who stood at the tablet then; the public list keeps the hour (staff keep the moment)."""
    import re
    store, device = tablet(hub)
    idea = store.submit_proposal(hub.consultation(CONSULTATION), title="Un banc à l'ombre",
                                 text="Sur la place du marché.", lang="fr")
    store.moderate_proposal(idea.id, "approved")
    push(hub, store, device)
    listed = api.fresh().get(f"/api/v1/consultations/{CONSULTATION}/proposals").json()
    [public] = [p for p in listed["proposals"] if p["id"] == idea.id]
    assert re.search(r"T\d\d:00:00(\.0+)?(\+00:00|Z)$", public["created_at"]), public
    assert "contact" not in public and "device_id" not in public
    [staff] = [p for p in hub.proposals(CONSULTATION) if p["id"] == idea.id]
    assert staff["created_at"][:13] == public["created_at"][:13]


def test_an_answer_trickled_a_byte_at_a_time_is_dropped_not_waited_for():
    """A hostile Decidim sends its answer's headers, then a byte now and then, each within the
    timeout between bytes: the connector's only thread would wait for it for hours (every
    consultation's sending with it). It is dropped after a few timeouts."""
    import time

    import pytest

    from server.connectors.decidim import DecidimClient, DecidimUnavailable

    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        try:
            for _ in range(100000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass                         # the connector hung up: what is expected
    hostile = _Hostile(trickle)
    try:
        config = _config(hostile.url)
        client = DecidimClient(type(config)(**{**config.__dict__, "timeout": 1.0}))
        client.token = "a-token"
        with pytest.raises(DecidimUnavailable, match="too slow"):
            client.execute("query { decidim { version } }")
        client.close()
    finally:
        hostile.close()
