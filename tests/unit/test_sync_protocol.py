"""The client's rules that need no network: what an acknowledgement is, enrollment QR codes, hub
addresses, the status a facilitator reads."""
from __future__ import annotations

import json

import pytest

from app.store import Store
from app.store.outbox import append_event
from sync import protocol as p
from sync.client import normalize_hub_url
from sync.content import _safe_relative
from sync.enroll import is_enrolled, parse_enrollment_qr
from sync.service import SyncService
from sync.worker import SyncWorker, read_status

IDS = ["a1", "b2"]


def ack(results, protocol=1):
    return json.dumps({"protocol": protocol, "results": results}).encode()


def test_an_explicit_acknowledgement_is_read_per_event():
    body = ack([{"id": "a1", "status": "stored"}, {"id": "b2", "status": "rejected",
                                                   "message": "Unknown question."}])
    results = p.read_acknowledgement(200, "application/json", body, IDS)
    assert results["a1"]["status"] == "stored" and results["b2"]["status"] == "rejected"


@pytest.mark.parametrize("status, content_type, body", [
    (200, "text/html", b"<html>Please log in to the Wi-Fi</html>"),           # captive portal
    (200, "application/json", b""),                                           # empty 200
    (200, "application/json", ack([{"id": "a1", "status": "stored"}])[:20]),   # cut in half
    (200, "application/json", b'{"ok": true}'),
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "b2", "status": "stored"}], protocol=2)),
    (200, "application/json", ack([{"id": "a1", "status": "stored"}])),        # one missing
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "zz", "status": "stored"}])),        # wrong ID
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "b2", "status": "ok"}])),            # unknown status
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "a1", "status": "stored"}])),        # twice the same
    (500, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "b2", "status": "stored"}])),
    (200, "application/json", b"[1, 2]"),
])
def test_anything_else_acknowledges_nothing(status, content_type, body):
    with pytest.raises(p.NotAcknowledged):
        p.read_acknowledgement(status, content_type, body, IDS)


PIN = "a00b944c0c6d9a777f7245ed823c18869c44791a7847302abb21b3a1373be5e4"


def test_enrollment_qr_codes():
    assert parse_enrollment_qr("piazzetta://enroll?hub=http%3A%2F%2F192.168.1.10%3A8765"
                               "&code=ABCD-EFGH") == ("http://192.168.1.10:8765", "ABCD-EFGH",
                                                      None)
    assert parse_enrollment_qr('{"hub": "hub.local:8765", "code": "abcd efgh"}') == (
        "https://hub.local:8765", "abcd efgh", None)
    # A room hub's QR carries its certificate's fingerprint, which the tablet pins.
    assert parse_enrollment_qr("piazzetta://enroll?hub=https%3A%2F%2F192.168.1.10%3A8765"
                               f"&code=ABCD-EFGH&pin={PIN}") == (
        "https://192.168.1.10:8765", "ABCD-EFGH", PIN)
    assert parse_enrollment_qr(f'{{"hub": "https://h:1", "code": "A", "pin": "{PIN.upper()}"}}'
                               ) == ("https://h:1", "A", PIN)
    for bad in ("", "https://example.org", "piazzetta://enroll?hub=x", None, 42, "{",
                "piazzetta://enroll?code=ABCD", "x" * 5000,
                "piazzetta://enroll?hub=javascript:alert(1)&code=A",
                # a pin over plain HTTP protects nothing; a pin that is not a SHA-256
                f"piazzetta://enroll?hub=http%3A%2F%2Fh%3A1&code=A&pin={PIN}",
                "piazzetta://enroll?hub=https%3A%2F%2Fh%3A1&code=A&pin=abcd",
                '{"hub": "https://h:1", "code": "A", "pin": 42}'):
        with pytest.raises(p.SyncError) as refused:
            parse_enrollment_qr(bad)
        assert str(refused.value)


def test_hub_addresses():
    assert normalize_hub_url(" 10.0.0.2:8765/ ") == "https://10.0.0.2:8765"   # never guessed http
    assert normalize_hub_url("https://hub.example.org/piazzetta") == \
        "https://hub.example.org/piazzetta"
    for bad in ("", "ftp://x", "http://", "http://a b", "http://x?y=1", None, "x" * 600):
        with pytest.raises(p.SyncError) as refused:
            normalize_hub_url(bad)
        assert str(refused.value) == "This does not look like a hub address."


def test_file_paths_from_the_hub_stay_inside_the_bundle():
    assert _safe_relative("images/cover.png") == "images/cover.png"
    for bad in ("../../etc/passwd", "/etc/passwd", "images/../../x", "C:\\x", "a\\..\\b", ""):
        with pytest.raises(p.NotAcknowledged):
            _safe_relative(bad)


def test_errors_carry_translatable_messages():
    assert str(p.HubUnreachable()) == "Hub unreachable"
    revoked = p.DeviceRevoked()
    assert revoked.message.startswith("Staff revoked this tablet")
    assert revoked.describe(lambda s: s.upper()) == revoked.message.upper()
    assert p.CredentialsRefused().message.startswith("The hub refused this tablet's credentials")


def test_status_of_a_tablet_not_yet_enrolled(tmp_path):
    store = Store.open(tmp_path)
    record = store.device_id
    store.close()
    service = SyncService(tmp_path)
    status = service.status()
    assert not status.enrolled and status.device_id == record and status.pending == 0
    store = Store.open(tmp_path)   # a write announced by the store: no worker, the count moves
    with store.transaction() as conn:
        append_event(conn, "answer", {"x": 1}, "2026-01-01T10:00:00Z")
    store.close()
    assert service.status().pending == 1
    # The facilitator's Projector page gets its remote from the service (screens never
    # import sync): on this service's store.
    remote = service.display_remote("the consultation")
    assert remote.store_path == tmp_path / "piazzetta.sqlite3"
    assert remote.consultation == "the consultation"


def test_a_worker_cycle_without_enrollment_says_so(tmp_path):
    published = []
    worker = SyncWorker(tmp_path / "piazzetta.sqlite3", tmp_path / "bundles", published.append)
    store = Store.open(tmp_path)
    assert not is_enrolled(store)
    delay = worker.cycle(store)
    store.close()
    assert delay == worker.poll_interval
    assert published[-1].problem == "This tablet is not enrolled with a hub yet."


def test_backoff_grows_with_jitter_and_is_capped(tmp_path):
    store = Store.open(tmp_path)
    store.set_setting(p.HUB_URL, "http://127.0.0.1:9")      # never contacted: see below
    store.set_setting(p.DEVICE_SECRET, "s")
    worker = SyncWorker(tmp_path / "piazzetta.sqlite3", tmp_path / "b", lambda s: None,
                        backoff=(2.0, 60.0))

    def failing_push(*_args, **_kwargs):
        raise p.HubUnreachable("test")

    import sync.worker as worker_module
    original = worker_module.push_pending
    worker_module.push_pending = failing_push
    try:
        delays = [worker.cycle(store) for _ in range(10)]
    finally:
        worker_module.push_pending = original
        store.close()
    for n, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2.0 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert worker.problem == "Hub unreachable"


def test_an_unexpected_error_does_not_stop_the_worker(tmp_path):
    import threading
    published = []
    seen = threading.Event()
    worker = SyncWorker(tmp_path / "piazzetta.sqlite3", tmp_path / "b", published.append,
                        backoff=(0.05, 0.1))
    calls = []

    def cycle(store):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        seen.set()
        return 10.0

    worker.cycle = cycle
    worker.start()
    try:
        assert seen.wait(10)
        assert worker.is_alive()
        assert published[0].problem == "Sync met an unexpected error; it will try again."
    finally:
        worker.stop()
        worker.join(5)
    assert not worker.is_alive()


# -- the one HTTP client, with the hub's answers made up -----------------------------------------

class FakeHub:
    """Stands for `requests.Session.request`: answers from a queue, remembers what was asked."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked = []

    def __call__(self, method, url, **kwargs):
        import requests
        self.asked.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, content_type, body, headers = (answer + ({},))[:4]
        response = requests.Response()
        response.status_code = status
        response.headers.update({"Content-Type": content_type, **headers})
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.url = url
        return response


def fake_client(*answers, **options):
    from sync.client import HubClient
    client = HubClient("http://hub.test:8765/", **options)
    client.session.request = FakeHub(*answers)
    return client


def sent_headers(client, n=-1):
    asked = client.session.request.asked[n]
    return {**client.session.headers, **(asked.get("headers") or {})}


def test_a_conditional_get_reuses_the_etag_and_costs_nothing_on_304():
    client = fake_client((200, "application/json", {"protocol": 1, "x": 1}, {"ETag": '"r1"'}),
                         (304, "", b"", {"ETag": '"r1"'}))
    assert client.get_json("/api/v1/bundle") == ({"protocol": 1, "x": 1}, '"r1"')
    assert "If-None-Match" not in sent_headers(client)
    assert client.get_json("/api/v1/bundle", '"r1"') == (None, '"r1"')
    assert sent_headers(client)["If-None-Match"] == '"r1"'
    asked = client.session.request.asked
    assert asked[0]["url"] == "http://hub.test:8765/api/v1/bundle"
    assert all(a["allow_redirects"] is False for a in asked)


@pytest.mark.parametrize("answer, error", [
    ((200, "text/html", b"<html>Log in to the Wi-Fi</html>"), p.NotAcknowledged),  # portal
    ((200, "application/json", {"ok": True}), p.NotAcknowledged),                  # no protocol
    ((302, "text/html", b"", {"Location": "http://portal/"}), p.NotAcknowledged),  # not followed
    ((404, "application/json", {"protocol": 1, "error": {"code": "consultation_unknown",
                                                          "message": "Unknown."}}), p.HubRefused),
    ((404, "text/html", b"Not found"), p.NotAcknowledged),
    ((401, "application/json", {"protocol": 1, "error": {"code": "device_revoked"}}),
     p.DeviceRevoked),
    ((401, "application/json", {"protocol": 1, "error": {"code": "device_unknown"}}),
     p.CredentialsRefused),
    ((401, "application/json", {"protocol": 1}), p.CredentialsRefused),
    ((401, "text/html", b"<html>Log in</html>"), p.NotAcknowledged),  # not the hub's 401
    ((503, "text/html", b"busy"), p.HubUnreachable),
])
def test_every_other_answer_is_a_typed_error(answer, error):
    client = fake_client(answer)
    with pytest.raises(error) as raised:
        client.get_json("/api/v1/consultations/c/results")
    if answer[0] in (302, 404):
        assert raised.value.status == answer[0]


def test_no_answer_is_hub_unreachable():
    import requests
    client = fake_client(requests.ConnectionError("refused"))
    with pytest.raises(p.HubUnreachable):
        client.get_json("/api/v1")


def test_a_put_sends_json_in_the_readers_language():
    client = fake_client((200, "application/json", {"protocol": 1, "revision": 3}),
                         device_id="dev", secret="s3cret")
    assert client.put_json(p.consultation_path("a/b c", "display"), {"hidden": True},
                           lang="it") == {"protocol": 1, "revision": 3}
    asked = client.session.request.asked[0]
    assert asked["method"] == "PUT" and asked["json"] == {"hidden": True}
    assert asked["url"] == "http://hub.test:8765/api/v1/consultations/a%2Fb%20c/display"
    headers = sent_headers(client)
    assert headers["Accept-Language"] == "it" and headers["Authorization"] == "Bearer dev:s3cret"


RESULTS = {"protocol": 1, "questions": {"q-ticket": {"counts": {"yes": 2}}}, "ballots": 2,
           "ideas": {"received": 1, "approved": 1}, "revision": 7}
IDEAS = {"protocol": 1, "proposals": [{"short_code": "AB12CD", "title": "Un banc",
                                       "text": "Ici", "contact": "ada@example.org"}]}


def test_the_projectors_results_poll_is_anonymous_and_conditional():
    from sync.results_source import HubResultsSource
    client = fake_client((200, "application/json", RESULTS, {"ETag": '"7"'}),
                         (200, "application/json", IDEAS),
                         (304, "", b""),
                         (200, "text/html", b"<html>portal</html>"),
                         (404, "application/json", {"protocol": 1, "error": {}}))
    source = HubResultsSource("http://hub.test:8765", "alpimed-2030", client=client)
    first = source.poll()
    assert first.reachable and first.snapshot.revision == 7 and first.snapshot.ballots == 2
    assert first.snapshot.approved_ideas == ({"short_code": "AB12CD", "title": "Un banc",
                                              "text": "Ici", "theme": None, "lang": None},)
    unchanged = source.poll()                       # a 304: nothing to redraw
    assert unchanged.reachable and unchanged.snapshot is None
    asked = client.session.request.asked
    assert [a["url"].rsplit("/", 1)[1] for a in asked] == ["results", "proposals", "results"]
    assert asked[2]["headers"]["If-None-Match"] == '"7"'
    assert all("Authorization" not in {**client.session.headers, **a["headers"]} for a in asked)
    portal = source.poll()
    assert not portal.reachable and portal.problem == "Hub unreachable"
    unknown = source.poll()
    assert not unknown.reachable
    assert unknown.problem == "The hub does not know this consultation."


def test_the_projectors_control_poll_hands_each_change_once():
    from sync.display import DisplayControlSource
    control = {"protocol": 1, "revision": 2, "control": {"hidden": True, "view": "q-ticket"},
               "set_at": {"hidden": 2, "view": 1}}
    client = fake_client((200, "application/json", control, {"ETag": '"d2"'}),
                         (304, "", b""),
                         (500, "text/html", b"down"))
    source = DisplayControlSource("http://hub.test:8765", "alpimed-2030", client=client)
    assert source.poll() == {"hidden": True, "view": "q-ticket", "revision": 2}
    assert source.poll() is None
    assert client.session.request.asked[1]["headers"]["If-None-Match"] == '"d2"'
    assert source.poll() is None          # a hub in trouble: nothing to apply
    assert "Authorization" not in client.session.headers


# -- identity: the tablet's own credential, its states ------------------------------------------

HUB = "https://hub.test:8765"


def enrollment_answer(device_id, credential, **extra):
    return (200, "application/json", {"protocol": 1, "device_id": device_id,
                                      "credential": credential, "site_id": "s1",
                                      "alias": "abcdefghijklmnop", "signup_key": "k",
                                      "max_batch": 250, **extra})


def refusal(code, status=409):
    return (status, "application/json", {"protocol": 1, "error": {"code": code,
                                                                  "message": code}})


@pytest.fixture
def fake_hub(monkeypatch):
    """Every HubClient made by sync.enroll answers from the same queue; `fake_hub.asked`."""
    import sync.enroll as enroll_module
    from sync.client import HubClient
    hub = FakeHub()

    class Client(HubClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.session.request = hub

    monkeypatch.setattr(enroll_module, "HubClient", Client)
    return hub


def test_the_credential_is_made_once_kept_across_attempts_and_only_its_hash_is_sent(fake_hub):
    import hashlib

    import requests

    from sync.enroll import credential_for, enroll
    store = Store.memory()
    secret = credential_for(store, HUB + "/")["secret"]
    assert len(secret) >= 43 and credential_for(store, HUB)["secret"] == secret
    binding = hashlib.sha256(secret.encode()).hexdigest()
    fake_hub.answers = [requests.ReadTimeout("answer lost"),
                        (200, "text/html", b"<html>Log in to the Wi-Fi</html>"),
                        enrollment_answer(store.device_id, binding)]
    for expected in (p.HubUnreachable, p.NotAcknowledged):
        with pytest.raises(expected):
            enroll(store, HUB, "ABCD-EFGH")
        assert not is_enrolled(store)
    answer = enroll(store, HUB, "ABCD-EFGH")
    assert answer["alias"] == "abcdefghijklmnop"
    bodies = [a["json"] for a in fake_hub.asked]
    assert [b["credential"] for b in bodies] == [binding] * 3
    assert [b["code"] for b in bodies] == ["ABCD-EFGH"] * 3
    assert all(secret not in json.dumps(a, default=str) for a in fake_hub.asked)
    assert is_enrolled(store) and store.get_setting(p.DEVICE_SECRET) == secret
    assert (store.get_setting("sync.signup_alias"), store.get_setting(p.SITE_ID),
            store.get_setting(p.MAX_BATCH)) == ("abcdefghijklmnop", "s1", 250)
    # Enrolling again with this hub proves the credential; another hub gets another one.
    fake_hub.answers = [enrollment_answer(store.device_id, binding)]
    enroll(store, HUB, "JKLM-NPQR")
    assert fake_hub.asked[-1]["headers"]["Authorization"] == \
        f"Bearer {store.device_id}:{secret}"
    assert credential_for(store, "http://other.test")["secret"] != secret


def test_a_device_enrolled_refusal_is_answered_with_proof_once(fake_hub):
    from sync.enroll import enroll
    store = Store.memory()
    fake_hub.answers = [refusal("device_enrolled"), refusal("device_enrolled")]
    with pytest.raises(p.SyncError) as refused:
        enroll(store, HUB, "ABCD-EFGH")
    assert refused.value.message == p.ENROLLMENT_REFUSALS["device_enrolled"]
    first, second = fake_hub.asked
    assert "Authorization" not in (first.get("headers") or {})
    assert second["headers"]["Authorization"].startswith(f"Bearer {store.device_id}:")
    assert not is_enrolled(store)
    for code in ("device_revoked", "enrollment_code_other_device", "enrollment_superseded",
                 "enrollment_code_invalid"):
        fake_hub.answers = [refusal(code, 400 if code.endswith("invalid") else 409)]
        with pytest.raises(p.SyncError) as refused:
            enroll(store, HUB, "ABCD-EFGH")
        assert refused.value.message == p.ENROLLMENT_REFUSALS[code]


@pytest.mark.parametrize("error, state, revoked", [
    (p.DeviceRevoked(), "revoked", True),
    (p.CredentialsRefused(), "credentials_refused", False),
    (p.HubUnreachable(), "unreachable", False),
    (p.NotAcknowledged("portal"), "login_page", False),
])
def test_the_worker_tells_revoked_refused_and_unreachable_apart(tmp_path, monkeypatch, error,
                                                                state, revoked):
    import sync.worker as worker_module
    from sync.status import ADVICE
    store = Store.open(tmp_path)
    for key, value in ((p.HUB_URL, HUB), (p.DEVICE_SECRET, "s"),
                       ("sync.signup_alias", "abcdefghijklmnop")):
        store.set_setting(key, value)
    store.record_signup({"name": "Ada", "contact": "ada@example.org", "consent": True},
                        consultation_id=None)
    published = []
    worker = SyncWorker(tmp_path / "piazzetta.sqlite3", tmp_path / "b", published.append,
                        backoff=(1.0, 60.0))

    def failing(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(worker_module, "push_pending", failing)
    delay = worker.cycle(store)
    status = published[-1]
    assert (status.state, status.revoked, status.pending) == (state, revoked, 1)
    assert status.problem == error.message and status.advice == ADVICE[state]
    assert status.credentials_refused == (state == "credentials_refused")
    if state in ("revoked", "credentials_refused"):
        assert delay == 60.0                     # the slow pace, until staff act
        again = read_status(store)               # what a restarted app shows
        assert (again.state, again.problem) == (state, error.message)
        # Staff reinstated it: the next cycle's identity check clears the state.
        monkeypatch.setattr(worker_module, "push_pending", lambda *a, **k: {})
        monkeypatch.setattr(worker_module, "refresh_identity", lambda *a, **k: {})
        monkeypatch.setattr(worker_module, "pull_answers", lambda *a, **k: 0)
        monkeypatch.setattr(worker_module, "pull_bundles", lambda *a, **k: 0)
        worker.cycle(store)
        assert published[-1].state == "synced" and not published[-1].revoked
    assert store.outbox_counts()["pending"] == 1     # nothing lost in any state
    store.close()


@pytest.mark.parametrize("consultation_id", [".", "..", "...", "-", "_."])
def test_a_consultation_id_without_a_letter_or_digit_is_no_folder_of_the_bundles(
        tmp_path, consultation_id):
    """The content pull names a folder after each consultation ID (bundles/<id>/): "." and ".."
    would be the bundles' folder itself or the tablet's data folder. Refused, as before the one
    identifier rule (the pull's own check wanted a letter or digit)."""
    from sync.content import pull_bundles
    index = {"protocol": 1, "consultations": [{
        "id": consultation_id, "version": 1, "sha256": "0" * 64,
        "bundle_url": "/api/v1/bundle/x/bundle.json", "files": []}]}
    cards = {"protocol": 1, "site_id": None, "public_key": "a" * 64, "keys": {}}
    client = fake_client((200, "application/json", cards, {"ETag": '"c1"'}),
                         (200, "application/json", index, {"ETag": '"i1"'}))
    bundles = tmp_path / "data" / "bundles"
    with pytest.raises(p.NotAcknowledged):
        pull_bundles(Store.memory(), client, bundles)
    assert sorted(q.name for q in (tmp_path / "data").iterdir()) == ["bundles"]
    assert list(bundles.iterdir()) == [] and len(client.session.request.asked) == 2
