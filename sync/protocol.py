"""The sync protocol's shapes, shared by the client and the hub (docs/protocol.md)."""
from __future__ import annotations

import json
from typing import Iterable
from urllib.parse import quote

from app.errors import N_, DomainError

PROTOCOL_VERSION = 1
API_PREFIX = "/api/v1"
ACK_STATUSES = ("stored", "duplicate", "conflict", "rejected")
ACCEPTED_STATUSES = ("stored", "duplicate")   # the others are kept at the hub for review

# Settings the client keeps in the tablet's store (Store.set_setting).
HUB_URL = "sync.hub_url"
DEVICE_SECRET = "sync.device_secret"
SITE_ID = "sync.site_id"
MAX_BATCH = "sync.max_batch"
ANSWERS_CURSOR = "sync.answers_cursor"
CONTENT_ETAG = "sync.content_etag"
CARDS_ETAG = "sync.cards_etag"        # the card index's (GET /api/v1/cards)
LAST_SUCCESS = "sync.last_success"
REFUSED = "sync.refused_events"
REVOKED = "sync.revoked"
# The tablet's own credentials, one per hub URL, made before the first enrollment attempt and
# kept: [{"hub": URL, "secret": 256-bit secret, "bound": whether that hub enrolled it}].
CREDENTIALS = "sync.credentials"
MAX_CREDENTIALS = 8
# The hub's 401 code ("device_revoked", "device_unknown") until the tablet is accepted again.
AUTH_PROBLEM = "sync.auth_problem"
# The SHA-256 fingerprint of the certificate a room hub made for itself, from the enrollment
# QR's `pin`: every request to that hub checks it (sync/client.py); None for a hub with a
# certificate an authority signed (a central hub over public HTTPS).
HUB_PIN = "sync.hub_pin"


def consultation_path(consultation_id: str, tail: str) -> str:
    """The API path of one consultation's resource (`results`, `proposals`, `display`), its
    ID quoted whole."""
    return f"{API_PREFIX}/consultations/{quote(consultation_id, safe='')}/{tail}"


class SyncError(DomainError):
    """A sync step failed; `str()` is a clear English message, `message` its msgid."""


class HubUnreachable(SyncError):
    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__(N_("Hub unreachable"))


class NotAcknowledged(SyncError):
    """The hub's answer was not an acknowledgement (a captive portal, a cut response…);
    `status` is the HTTP status when there was one."""

    def __init__(self, detail: str = "", *, status: int | None = None):
        self.detail = detail
        self.status = status
        super().__init__(N_("The hub's answer was not understood: is this network behind a "
                            "login page?"))


class ContentRefused(NotAcknowledged):
    """A consultation from the hub was read and refused (its files do not match their hashes,
    it does not load, it is another consultation, it is not newer than the one installed, a
    file is over its kind's cap): nothing was installed, the version in use is kept. A
    NotAcknowledged for the callers that catch those, with its own message — not "a login
    page" — and `reason`, one of REASONS' keys. A draft to a tablet whose session is open (a
    hub restored from a backup made in rehearsal) is one too."""

    REASONS = {
        "hash": N_("The consultation sent by the server was refused: its files do not match "
                   "what the server announced. The version in use is kept."),
        "does_not_load": N_("The consultation sent by the server was refused: it cannot be "
                            "read (damaged, or made for a newer Piazzetta). The version in use "
                            "is kept."),
        "other_consultation": N_("The consultation sent by the server was refused: it is not "
                                 "the consultation the server announced. The version in use is "
                                 "kept."),
        "not_newer": N_("The consultation sent by the server was refused: it is not newer than "
                        "the version in use. The version in use is kept."),
        "draft_in_session": N_("The consultation sent by the server was refused: it is a draft, "
                               "tried in rehearsal only, and this tablet's session is open. The "
                               "version in use is kept."),
        "too_large": N_("The consultation sent by the server was refused: one of its files is "
                        "larger than a consultation's files may be. The version in use is "
                        "kept."),
    }

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail or reason.replace("_", " ")
        self.status = None
        self.updated: list[str] = []      # what the same pull installed before or after it
        SyncError.__init__(self, self.REASONS[reason])


class DeviceRevoked(SyncError):
    """401 device_revoked: staff revoked this tablet. Only staff lift it (a code made for this
    tablet, or their reinstate command)."""
    code = "device_revoked"

    def __init__(self):
        super().__init__(N_("Staff revoked this tablet. Its data is kept here."))


class CredentialsRefused(SyncError):
    """401 device_unknown: the hub does not accept this tablet's credentials (it no longer
    knows it, or knows it under other credentials)."""
    code = "device_unknown"

    def __init__(self):
        super().__init__(N_("The hub refused this tablet's credentials. Its data is kept here."))


class CertificateRefused(SyncError):
    """The hub's TLS certificate is not the one expected: with a pin, another certificate than
    the one this tablet enrolled with (a man-in-the-middle, or a replaced room laptop);
    without one, a certificate no authority vouches for. Nothing was sent: the TLS handshake
    failed before any byte of the request."""
    code = "certificate_refused"

    def __init__(self, pinned: bool = True):
        self.pinned = pinned
        super().__init__(
            N_("The hub's certificate is not the one this tablet was enrolled with: someone "
               "may be intercepting the network. Nothing was sent.") if pinned else
            N_("The hub's certificate could not be verified. For a room's hub, scan its "
               "enrollment QR code: it carries the certificate's fingerprint."))


class HubRefused(SyncError):
    """A 4xx with the hub's error body; `code` is the hub's machine word, `status` the HTTP
    status."""

    def __init__(self, message: str, code: str = "", field: str | None = None, *,
                 status: int | None = None):
        self.code = code
        self.status = status
        super().__init__(message, field)


# What the facilitator reads when the hub refuses an enrollment (the hub's error codes).
ENROLLMENT_REFUSALS = {
    "enrollment_code_invalid": N_("This enrollment code is not valid: it may be mistyped, "
                                  "expired or already used."),
    "device_enrolled": N_("This tablet is already enrolled with this hub under other "
                          "credentials. Ask the platform staff for an enrollment code made for "
                          "this tablet."),
    "device_revoked": N_("Staff revoked this tablet. Ask the platform staff for an enrollment "
                         "code made for this tablet."),
    "enrollment_code_other_device": N_("This enrollment code was made for another tablet."),
    "enrollment_superseded": N_("This tablet was enrolled again since this code was used: "
                                "use the latest code."),
}


def read_acknowledgement(status_code: int, content_type: str, body: bytes,
                         sent_ids: Iterable[str]) -> dict[str, dict]:
    """The hub's per-event results, keyed by event ID — or NotAcknowledged.

    Only a 200 JSON object with `"protocol": 1` and exactly one known-status result per event
    sent counts: a captive portal's 200 HTML page, an empty body or a body cut short does not.
    """
    sent = list(sent_ids)
    if status_code != 200:
        raise NotAcknowledged(f"HTTP {status_code}")
    if "application/json" not in (content_type or "").lower():
        raise NotAcknowledged(f"content type {content_type!r}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotAcknowledged("body is not JSON") from None
    if not isinstance(data, dict) or data.get("protocol") != PROTOCOL_VERSION:
        raise NotAcknowledged("not a protocol 1 answer")
    results = data.get("results")
    if not isinstance(results, list) or len(results) != len(sent):
        raise NotAcknowledged("results missing or of the wrong length")
    by_id: dict[str, dict] = {}
    for item in results:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                or item.get("status") not in ACK_STATUSES or item["id"] in by_id:
            raise NotAcknowledged("malformed result")
        by_id[item["id"]] = item
    if set(by_id) != set(sent):
        raise NotAcknowledged("results do not name the events sent")
    return by_id
