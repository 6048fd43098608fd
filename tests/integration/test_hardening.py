"""Issue 13 against a real hub process: each finding of the review now fails to do harm.

(1) big anonymous bodies, (2) slow clients, (4) the dashboard's session, (5) rate limits. The
hub runs with small limits (settings through its environment) so that every test sends a
bounded number of requests."""
from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import requests

from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from sync.enroll import enroll

from .conftest import HubProcess

MIB = 1024 * 1024
SMALL_LIMITS = {
    "PIAZZETTA_HUB_MAX_BATCH": "50",
    "PIAZZETTA_HUB_HEADER_TIMEOUT": "2",
    "PIAZZETTA_HUB_BODY_TIMEOUT": "2",
    "PIAZZETTA_HUB_LOG_BURST": "5",
    "PIAZZETTA_HUB_RATE_ENROLL": "5/minute",
    "PIAZZETTA_HUB_RATE_ENROLL_DEVICE": "100/minute",
    "PIAZZETTA_HUB_RATE_SIGNUP": "8/minute",
    "PIAZZETTA_HUB_RATE_CARDS": "2/hour",
    "PIAZZETTA_HUB_RATE_PUBLIC": "1000/minute",
    "PIAZZETTA_HUB_RATE_LOGIN": "1000/minute",
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    process = HubProcess(tmp_path_factory.mktemp("hub"))
    process.env.update(SMALL_LIMITS)
    assert process.import_bundle(DEMO_BUNDLE_DIR) == 0
    process.start()
    yield process
    process.stop()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


def device_auth(hub) -> dict:
    tablet = Store.memory()
    enroll(tablet, hub.url, hub.code())
    return {"Authorization": f"Bearer {tablet.device_id}:"
                             f"{tablet.get_setting('sync.device_secret')}"}


def raw_request(hub, head: bytes, body_chunks=(), timeout: float = 10) -> bytes:
    """Send a request by hand (to lie about or leave out Content-Length); the answer's bytes."""
    with socket.create_connection(("127.0.0.1", hub.port), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass     # the hub answered and closed while we were still sending: that is the point
        answer = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer and b'"error"' in answer:
                    break
        except (ConnectionResetError, socket.timeout):
            pass
        return answer


# -- (1) bodies --------------------------------------------------------------------------------

def test_a_31_mib_anonymous_body_is_refused_before_it_is_read(guarded):
    # The same bytes as b",".join([b"{}"] * n), without join's buffer view of each of the 10.8
    # million items (it took the test's process 0.9 GB above its peak).
    body = b'{"events":[' + b"{}," * (31 * MIB // 3 - 1) + b'{}]}'
    before = rss_kib(guarded.proc.pid)
    started = time.monotonic()
    answer = requests.post(guarded.url + "/api/v1/events", data=body, timeout=30,
                           headers={"Content-Type": "application/json"})
    elapsed = time.monotonic() - started
    assert answer.status_code == 401, answer.text[:300]
    assert answer.json()["error"]["code"]
    assert elapsed < 5
    assert rss_kib(guarded.proc.pid) - before < 4 * 1024, "the hub read the body"


def test_chunked_body_without_length_over_the_limit_gets_413(guarded):
    auth = device_auth(guarded)
    head = (b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: " + auth["Authorization"].encode() + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    chunk = hex(len(piece))[2:].encode() + b"\r\n" + piece + b"\r\n"
    before = rss_kib(guarded.proc.pid)
    answer = raw_request(guarded, head, [chunk] * 64)     # 4 MiB, the limit is ~0.8 MiB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"body_too_large" in answer
    assert rss_kib(guarded.proc.pid) - before < 8 * 1024


def test_a_lying_content_length_does_not_get_around_the_limit(guarded):
    head = (b"POST /api/v1/devices/enroll HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10\r\n\r\n")
    answer = raw_request(guarded, head, [b'{"code":' + b'"x' * 200_000])
    # 10 bytes read, the rest is not a request: a clear 4xx, never a 5xx, never the whole body
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]


def test_an_authenticated_batch_over_the_limit_gets_413_and_a_normal_one_passes(guarded):
    auth = device_auth(guarded)
    limit = 50 * 16 * 1024 + 1024
    big = {"events": [{"pad": "x" * 20_000} for _ in range(50)]}
    answer = requests.post(guarded.url + "/api/v1/events", json=big, headers=auth, timeout=30)
    assert answer.status_code == 413, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] == "body_too_large" and str(limit) in error["message"]
    answer = requests.post(guarded.url + "/api/v1/events", json={"events": []}, headers=auth,
                           timeout=30)
    assert answer.status_code == 200
    french = requests.post(guarded.url + "/api/v1/events", json=big, timeout=30,
                           headers={**auth, "Accept-Language": "fr"})
    assert french.status_code == 413


def test_small_routes_take_small_bodies_and_staff_routes_authenticate_first(guarded):
    answer = requests.post(guarded.url + "/api/v1/devices/enroll", timeout=30,
                           data=b"{" + b" " * (100 * 1024) + b"}",
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    answer = requests.post(guarded.url + "/api/v1/admin/consultations", timeout=30,
                           data=b"x" * (2 * MIB), headers={"Content-Type": "application/json"})
    assert answer.status_code == 401


# -- (2) slow clients --------------------------------------------------------------------------

def test_200_half_sent_requests_do_not_stop_a_normal_push(guarded):
    auth = device_auth(guarded)
    log_before = guarded.log.stat().st_size
    sockets = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=10,
                                        source_address=("127.0.0.2", 0))   # another client
        sock.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n")    # and never the rest
        sockets.append(sock)
    stop = threading.Event()

    def trickle():      # one more header byte now and then, as a slowloris does
        while not stop.is_set():
            for sock in sockets:
                try:
                    sock.send(b"X")
                except OSError:
                    pass
            stop.wait(0.5)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        answer = requests.post(guarded.url + "/api/v1/events", json={"events": []},
                               headers=auth, timeout=10)
        assert answer.status_code == 200
        assert time.monotonic() - started < 5
        # The head deadline (2 s here) closes them all, trickling or not.
        deadline = time.monotonic() + 8
        closed = 0
        for sock in sockets:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while sock.recv(4096):
                    pass
                closed += 1
            except ConnectionResetError:
                closed += 1
            except socket.timeout:
                pass
        assert closed == len(sockets)
    finally:
        stop.set()
        thread.join(5)
        for sock in sockets:
            sock.close()
    assert requests.post(guarded.url + "/api/v1/events", json={"events": []}, headers=auth,
                         timeout=10).status_code == 200
    assert guarded.log.stat().st_size - log_before < 20_000, "the hub's log grew"


def test_a_body_sent_too_slowly_gets_408(guarded):
    head = (b"POST /api/v1/devices/enroll HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    started = time.monotonic()
    answer = raw_request(guarded, head, [b'{"code": '])
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 6


# -- (4) the dashboard -------------------------------------------------------------------------

def test_the_dashboard_session_cookie_csrf_and_headers(guarded):
    url = guarded.url
    token = guarded.admin_token
    refused = requests.get(url + "/dashboard", params={"token": token}, timeout=30)
    assert refused.status_code == 400 and "token" not in refused.headers.get("set-cookie", "")
    assert requests.get(url + "/dashboard/figures.csv", params={"token": token},
                        timeout=30).status_code == 400
    browser = requests.Session()
    page = browser.get(url + "/dashboard", timeout=30)
    assert page.status_code == 401
    for name, value in (("Content-Security-Policy", "frame-ancestors 'none'"),
                        ("X-Content-Type-Options", "nosniff"),
                        ("Referrer-Policy", "no-referrer")):
        assert value in page.headers[name]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    # Without the form's token (a forged cross-site post), or with another one: refused.
    assert requests.post(url + "/dashboard/login", data={"token": token},
                         timeout=30).status_code == 403
    assert browser.post(url + "/dashboard/login", data={"token": token, "csrf": "x" * 32},
                        timeout=30).status_code == 403
    page = browser.get(url + "/dashboard", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    login = browser.post(url + "/dashboard/login", data={"token": token, "csrf": csrf},
                         timeout=30, allow_redirects=False)
    assert login.status_code == 303
    cookie = login.headers["set-cookie"]
    session_id = browser.cookies.get("piazzetta_staff")
    assert session_id and session_id != token and token not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie        # http://127.0.0.1: no TLS, no Secure (the setting)
    page = browser.get(url + "/dashboard", timeout=30)
    assert page.status_code == 200 and "frame-ancestors 'none'" in \
        page.headers["Content-Security-Policy"]
    assert browser.get(url + "/dashboard/figures.csv", timeout=30).status_code == 200
    logout_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert browser.post(url + "/dashboard/logout", data={}, timeout=30).status_code == 403
    out = browser.post(url + "/dashboard/logout", data={"csrf": logout_csrf}, timeout=30,
                       allow_redirects=False)
    assert out.status_code == 303
    # The old cookie is dead at the hub, not only in this browser.
    assert requests.get(url + "/dashboard", cookies={"piazzetta_staff": session_id},
                        timeout=30).status_code == 401


def test_api_docs_are_off_by_default_and_the_schema_stays(guarded):
    assert requests.get(guarded.url + "/docs", timeout=30).status_code == 404
    assert requests.get(guarded.url + "/redoc", timeout=30).status_code == 404
    assert requests.get(guarded.url + "/openapi.json", timeout=30).status_code == 200


# -- (5) rate limits ---------------------------------------------------------------------------

def test_wrong_enrollment_codes_get_429_with_retry_after_after_5_tries(guarded):
    # A made-up X-Forwarded-For changes nothing: no proxy is trusted by default.
    answers = [requests.post(guarded.url + "/api/v1/devices/enroll", timeout=30,
                             json={"code": f"WRONG{i}", "device_id": f"guess-{i}",
                                   "credential": "0" * 64},
                             headers={"X-Forwarded-For": f"192.0.2.{i}"})
               for i in range(7)]
    # 5 tries a minute per address, the tablets enrolled above included: then only 429.
    statuses = [a.status_code for a in answers]
    first = statuses.index(429)
    assert first <= 5 and set(statuses[:first]) <= {400, 401, 404}, statuses
    assert set(statuses[first:]) == {429}, statuses
    assert 1 <= int(answers[first].headers["Retry-After"]) <= 60
    french = requests.post(guarded.url + "/api/v1/devices/enroll", timeout=30,
                           json={"code": "X", "device_id": "guess-x"},
                           headers={"Accept-Language": "fr"})
    assert french.status_code == 429 and french.json()["error"]["code"] == "rate_limited"


def test_emails_per_contact_and_sign_ups_per_address_are_limited(guarded):
    url = guarded.url

    def post(name: str, contact: str):
        page = requests.get(url + "/signup", params={"lang": "en"}, timeout=30)
        key = re.search(r'name="k" value="([^"]+)"', page.text).group(1)
        return requests.post(url + "/signup", timeout=30, data={
            "name": name, "contact": contact, "consent": "1", "k": key, "lang": "en"})

    # The form is never refused for its contact (someone else's sign-ups with your address must
    # not block your card): only the confirmation emails to one address are bounded, and the
    # page says so.
    pages = [post("Mario", "mario+%d@example.org" % i) for i in range(3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert "Several confirmation emails" in pages[2].text
    assert "Several confirmation emails" not in pages[0].text
    statuses = [post(f"P{i}", f"p{i}@example.org").status_code for i in range(6)]
    # 8 posts a minute per address: the 3 above and 5 of these pass, the 6th is refused
    assert statuses == [200] * 5 + [429], statuses
    refused = post("Q", "q@example.org")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert "Trop de demandes" in refused.text          # the page speaks French by default
