"""HTTP client for the hub: a requests session with timeouts that turns every failure into a
SyncError the worker understands. Never retries by itself: the worker decides when.

A room hub serves HTTPS with a certificate it made itself (server/tls.py): the client pins its
SHA-256 fingerprint (the enrollment QR's `pin`) instead of asking an authority, so a
man-in-the-middle with any other certificate gets no byte of a request. A hub without a pin (a
central hub over public HTTPS) is checked against the usual authorities."""
from __future__ import annotations

import ipaddress
import re
import ssl
from typing import Any, Mapping
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from app.bundle import MAX_TILES_BYTES
from app.canonical import compact_json
from app.errors import N_

from .protocol import (API_PREFIX, PROTOCOL_VERSION, CertificateRefused, CredentialsRefused,
                       DeviceRevoked, HubRefused, HubUnreachable, NotAcknowledged, SyncError,
                       read_acknowledgement)

DEFAULT_TIMEOUT = (5.0, 30.0)   # (connect, read) seconds
# The most a hub's answer may hold, read before anything is parsed: a hostile hub (a room hub
# on a hall's Wi-Fi, a captive portal) cannot fill the tablet's memory. A JSON answer (the
# bundle index with its card checks, an acknowledgement, a card index) stays far below; a
# file is at most the largest a bundle may carry (app/bundle.py: the base map's tiles).
MAX_ANSWER_BYTES = 32 * 1024 * 1024
MAX_FILE_BYTES = MAX_TILES_BYTES + 1024 * 1024
PIN_MARK = "#pin="              # a hub address with its pin: https://10.0.0.2:8765#pin=ab12…


def normalize_pin(pin: object) -> str:
    """A certificate's SHA-256 fingerprint as 64 lowercase hex digits, from what a QR or a
    person gives (any case, with or without spaces, colons or dashes), or SyncError."""
    if isinstance(pin, str) and len(pin) <= 200:
        digits = re.sub(r"[\s:\-]", "", pin).lower()
        if re.fullmatch(r"[0-9a-f]{64}", digits):
            return digits
    raise SyncError(N_("This does not look like a certificate fingerprint (64 hexadecimal "
                       "digits)."), "pin")


def loopback(host: str | None) -> bool:
    """Whether `host` is this machine: localhost, 127.0.0.0/8 or ::1."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_tls(url: str) -> str:
    """`url` (normalized) when it is https://, or http:// to this machine (a hub run beside
    the tablet or the room hub: `make run`, the tests); else SyncError — a credential, a card's
    proof or a resident's contact would cross the network in clear."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not loopback(parts.hostname):
        raise SyncError(N_("This hub address uses plain http://, which anyone on the network "
                           "can read: use its https:// address."), "hub_url")
    return url


def split_hub_address(address: object) -> tuple[str, str | None]:
    """(hub URL, pin or None) from a hub address as staff give it: `https://host:port`, or
    `https://host:port#pin=<fingerprint>` for a room hub's own certificate (the projector's
    --hub, a typed address). Raises SyncError; a pin needs an https:// address."""
    pin = None
    if isinstance(address, str) and PIN_MARK in address:
        address, _, raw = address.partition(PIN_MARK)
        pin = normalize_pin(raw)
    url = normalize_hub_url(address)
    if pin is not None and not url.startswith("https://"):
        raise SyncError(N_("A certificate fingerprint goes with an https:// hub address."),
                        "hub_url")
    return url, pin


class PinnedAdapter(HTTPAdapter):
    """HTTPS to one certificate: urllib3 compares the SHA-256 of the certificate the server
    shows with `pin` during the handshake (assert_fingerprint), before any byte of a request
    is sent. No authority and no host name are checked: the pin says more than both."""

    def __init__(self, pin: str):
        self.pin = pin
        # One context of our own: urllib3 would otherwise make one per connection and load the
        # system's authorities into it (tens of milliseconds a push), to check nothing.
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        super().__init__()

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host, pool = super().build_connection_pool_key_attributes(request, False, cert)
        pool.update(assert_fingerprint=self.pin, assert_hostname=False,
                    ssl_context=self.context)
        return host, pool

    def send(self, request, **kwargs):
        kwargs["verify"] = False        # the pin, not an authority; never plain trust
        return super().send(request, **kwargs)


def certificate_problem(exc: BaseException) -> bool:
    """Whether a failed connection is the server's certificate (another fingerprint than the
    pin, or no authority vouching for it) rather than the network."""
    seen, stack = set(), [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError) \
                or "Fingerprints did not match" in str(item):
            return True
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None),
                      *item.args])
    return False


def normalize_hub_url(url: object) -> str:
    """`http(s)://host[:port][/path]` without a trailing slash, or SyncError. An address
    without a scheme is an https:// one (plain HTTP is never guessed)."""
    if not isinstance(url, str) or len(url) > 500:
        raise SyncError(N_("This does not look like a hub address."), "hub_url")
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        raise SyncError(N_("This does not look like a hub address."), "hub_url") from None
    # No user part nor backslash: requests reads `http://evil\@127.0.0.1` as host `evil`
    # where urlsplit (the plain-http rule's reading) sees 127.0.0.1.
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or any(ch.isspace() for ch in url) or "\\" in url \
            or "@" in parts.netloc:
        raise SyncError(N_("This does not look like a hub address."), "hub_url")
    return url.rstrip("/")


class HubClient:
    """One hub, as one device, or anonymously (before enrollment, and for the public reads
    of a projector). Every method raises a SyncError: HubUnreachable (no answer, a cut body,
    5xx), DeviceRevoked (the hub's 401 device_revoked), CredentialsRefused (its other 401s,
    device_unknown), HubRefused (a 4xx with the hub's error body), NotAcknowledged (anything
    else that is not a protocol 1 JSON answer, such as a captive portal's page, a 401 included).
    Redirects are never followed; credentials travel in a header, never in a URL."""

    def __init__(self, hub_url: str, device_id: str | None = None, secret: str | None = None,
                 *, pin: str | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 user_agent: str = "piazzetta"):
        self.hub_url, address_pin = split_hub_address(hub_url)
        self.pin = normalize_pin(pin) if pin else address_pin
        if self.pin and not self.hub_url.startswith("https://"):
            raise SyncError(N_("A certificate fingerprint goes with an https:// hub address."),
                            "hub_url")
        self.timeout = timeout
        self.session = requests.Session()
        if self.pin:
            self.session.mount("https://", PinnedAdapter(self.pin))
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        if device_id and secret:
            self.session.headers["Authorization"] = f"Bearer {device_id}:{secret}"
        self.requests_made = 0

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        """The address of `path` on this hub. An index's `bundle_url` or file `url` naming
        another host or scheme (`https://elsewhere/…`, `http://…`) is refused: the session
        would send this device's credentials there, over plain HTTP too."""
        url = urljoin(self.hub_url + "/", path.lstrip("/"))
        here, there = urlsplit(self.hub_url), urlsplit(url)
        if (there.scheme, there.netloc) != (here.scheme, here.netloc):
            raise NotAcknowledged("an address outside the hub")
        return url

    def _request(self, method: str, path: str, *, limit: int = MAX_ANSWER_BYTES,
                 **kwargs) -> requests.Response:
        self.requests_made += 1
        try:
            response = self.session.request(method, self.url(path), timeout=self.timeout,
                                            allow_redirects=False, stream=True, **kwargs)
            # Read it all now, inside the try (a cut body is a failure), and never more than
            # `limit` bytes: an answer announcing or sending more is refused unread.
            _read_capped(response, limit)
        except requests.exceptions.SSLError as exc:
            if certificate_problem(exc):
                raise CertificateRefused(pinned=bool(self.pin)) from None
            raise HubUnreachable(type(exc).__name__) from None
        except requests.RequestException as exc:
            raise HubUnreachable(type(exc).__name__) from None
        if response.status_code == 401:
            # Only the hub's own answer says what happened to this tablet's credentials; a
            # portal's or a proxy's 401 says nothing about them.
            try:
                code = (self._json(response).get("error") or {}).get("code")
            except NotAcknowledged:
                raise NotAcknowledged("HTTP 401", status=401) from None
            raise DeviceRevoked() if code == DeviceRevoked.code else CredentialsRefused()
        if response.status_code >= 500:
            raise HubUnreachable(f"HTTP {response.status_code}")
        return response

    @staticmethod
    def _json(response: requests.Response) -> dict:
        if "application/json" not in response.headers.get("Content-Type", ""):
            raise NotAcknowledged("not JSON")
        try:
            data = response.json()
        except ValueError:
            raise NotAcknowledged("body is not JSON") from None
        if not isinstance(data, dict) or data.get("protocol") != PROTOCOL_VERSION:
            raise NotAcknowledged("not a protocol 1 answer")
        return data

    def _checked(self, response: requests.Response) -> dict:
        status = response.status_code
        if 400 <= status < 500:
            try:
                error = self._json(response).get("error") or {}
            except NotAcknowledged:
                raise NotAcknowledged(f"HTTP {status}", status=status) from None
            raise HubRefused(str(error.get("message") or ""), str(error.get("code") or ""),
                             error.get("field"), status=status)
        if status != 200:
            raise NotAcknowledged(f"HTTP {status}", status=status)
        return self._json(response)

    def info(self) -> dict:
        return self._checked(self._request("GET", API_PREFIX))

    def enroll(self, code: str, device_id: str, credential: str, name: str = "",
               platform: str = "", *, secret: str | None = None,
               kind: str | None = None) -> dict:
        """Ask the hub to bind `credential` (the SHA-256 of the tablet's secret) to
        `device_id`. With `secret`, the request is authenticated with the credential the hub
        may already hold for this ID (enrolling it again). Returns the enrollment's data, which
        must name this device and this credential (a hub of before answers `device_secret`
        instead). `kind="relay"`: a room hub enrolling with the central hub (a room hub's
        code)."""
        headers = {"Authorization": f"Bearer {device_id}:{secret}"} if secret else {}
        body = {"code": code, "device_id": device_id, "credential": credential, "name": name,
                "platform": platform}
        if kind is not None:
            body["kind"] = kind
        data = self._checked(self._request("POST", f"{API_PREFIX}/devices/enroll", json=body,
                                           headers=headers))
        if data.get("device_id") != device_id:
            raise NotAcknowledged("not this device's enrollment")
        if not isinstance(data.get("device_secret"), str) and (
                data.get("credential") != credential or not isinstance(data.get("alias"), str)):
            raise NotAcknowledged("not this credential's enrollment")
        return data

    def whoami(self) -> dict:
        """What the hub knows of this (authenticated) device: site, alias, sign-up key."""
        data, _ = self.get_json(f"{API_PREFIX}/device")
        return data

    def push(self, envelopes: list[dict], path: str = f"{API_PREFIX}/events"
             ) -> dict[str, dict]:
        """Send one batch; return the hub's result per event ID (only if it is a real ack).
        A room hub forwards to `path` /api/v1/relay/events, under the same rules."""
        body = compact_json({"events": envelopes}).encode()
        response = self._request("POST", path, data=body,
                                 headers={"Content-Type": "application/json"})
        if response.status_code in (400, 403, 413, 422):
            self._checked(response)
        if response.status_code == 429:
            # A rate limit on the way (a proxy's, a load balancer's): the hub is busy, not a
            # Wi-Fi login page; the worker backs off and tries again by itself.
            raise HubUnreachable("HTTP 429")
        return read_acknowledgement(response.status_code,
                                    response.headers.get("Content-Type", ""), response.content,
                                    [e["id"] for e in envelopes])

    def get_json(self, path: str, etag: str | None = None) -> tuple[dict | None, str | None]:
        """A GET, conditional when `etag` is given (If-None-Match): (data, the answer's ETag),
        or (None, etag) when the hub says 304 Not Modified, which costs no body."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._request("GET", path, headers=headers)
        if response.status_code == 304:
            return None, etag
        return self._checked(response), response.headers.get("ETag")

    def open_stream(self, path: str, *, last_event_id: str | None = None,
                    read_timeout: float = 30.0) -> requests.Response:
        """GET a text/event-stream (the hub's results stream) and return the response with its
        body left to read (`iter_content`; the caller closes it). `read_timeout` bounds each
        wait for bytes: above the stream's heartbeat. Raises as the other methods do: a 404 of
        an older hub is HubRefused (or NotAcknowledged) with `status` 404."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.requests_made += 1
        try:
            response = self.session.get(self.url(path), headers=headers, stream=True,
                                        timeout=(self.timeout[0], read_timeout),
                                        allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            if certificate_problem(exc):
                raise CertificateRefused(pinned=bool(self.pin)) from None
            raise HubUnreachable(type(exc).__name__) from None
        except requests.RequestException as exc:
            raise HubUnreachable(type(exc).__name__) from None
        if response.status_code == 200 and \
                "text/event-stream" in response.headers.get("Content-Type", ""):
            return response
        try:
            response.content   # an error's small body
        except requests.RequestException as exc:
            raise HubUnreachable(type(exc).__name__) from None
        finally:
            response.close()
        if response.status_code >= 500:
            raise HubUnreachable(f"HTTP {response.status_code}")
        self._checked(response)
        raise NotAcknowledged("not an event stream", status=response.status_code)

    def put_json(self, path: str, body: Mapping[str, Any], *, lang: str | None = None) -> dict:
        """PUT `body` as JSON; return the hub's answer. `lang` asks for the hub's refusals
        in that language (Accept-Language)."""
        return self._send_json("PUT", path, body, lang)

    def post_json(self, path: str, body: Mapping[str, Any], *, lang: str | None = None) -> dict:
        """POST `body` as JSON (a room hub's registrations and cards to the central hub);
        return the hub's answer, HubRefused on a 4xx with the hub's reason."""
        return self._send_json("POST", path, body, lang)

    def _send_json(self, method: str, path: str, body: Mapping[str, Any],
                   lang: str | None) -> dict:
        headers = {"Accept-Language": lang} if lang else {}
        return self._checked(self._request(method, path, json=dict(body), headers=headers))

    def get_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """A file, at most `limit` bytes (NotAcknowledged "answer too large" past it)."""
        response = self._request("GET", path, headers={"Accept": "*/*"},
                                 limit=min(limit, MAX_FILE_BYTES))
        if response.status_code != 200:
            self._checked(response)
        return response.content

    def get_bytes_if_changed(self, path: str, etag: str | None = None,
                             limit: int = MAX_FILE_BYTES) -> tuple[bytes | None, str | None]:
        """A GET of a file of at most `limit` bytes, conditional when `etag` is given: (body,
        the answer's ETag), or (None, etag) on 304 Not Modified."""
        headers = {"Accept": "*/*", **({"If-None-Match": etag} if etag else {})}
        response = self._request("GET", path, headers=headers,
                                 limit=min(limit, MAX_FILE_BYTES))
        if response.status_code == 304:
            return None, etag
        if response.status_code != 200:
            self._checked(response)
        return response.content, response.headers.get("ETag")

    def answers(self, since: int) -> dict[str, Any]:
        data, _ = self.get_json(f"{API_PREFIX}/proposals/answers?since={int(since)}")
        if not isinstance(data.get("answers"), list) or not isinstance(data.get("cursor"), int):
            raise NotAcknowledged("malformed answers")
        return data


def _read_capped(response: requests.Response, limit: int) -> None:
    """Read `response`'s body into it (`response.content` then works as usual), refusing one
    longer than `limit` bytes — announced by its Content-Length or found while reading — with
    NotAcknowledged, the connection closed."""
    try:
        announced = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        announced = 0
    if announced > limit:
        response.close()
        raise NotAcknowledged("answer too large")
    if response._content is not False:      # already read (an adapter that reads it all)
        if len(response.content or b"") > limit:
            raise NotAcknowledged("answer too large")
        return
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            response.close()
            raise NotAcknowledged("answer too large")
        chunks.append(chunk)
    response._content = b"".join(chunks)   # what requests itself does in `.content`
    response._content_consumed = True
