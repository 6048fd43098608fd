"""What the facilitator reads about sync. The worker produces it; the facilitator screen shows
it. `problem` and `advice` are English msgids (translate them with the screen's `_`).

`state` tells apart what the facilitator must act on: the hub cannot be reached (wait, check
the network), the network shows a login page, staff revoked this tablet, the hub refused its
credentials, or a new version of a consultation was refused (the one in use is kept). In
every state nothing is lost: the outbox is kept, and pushes resume once the hub answers or the
tablet is enrolled again.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.errors import N_

# SyncStatus.state
NOT_ENROLLED = "not_enrolled"
SYNCED = "synced"                    # the last contact with the hub went well (or none yet)
UNREACHABLE = "unreachable"          # no answer, a cut answer, a 5xx: tried again by itself
LOGIN_PAGE = "login_page"            # an answer that is not the hub's (captive portal…)
REVOKED = "revoked"                  # 401 device_revoked: staff revoked this tablet
CREDENTIALS_REFUSED = "credentials_refused"   # 401 device_unknown
HUB_REFUSED = "hub_refused"          # another refusal of the hub (kept for review there)
CERTIFICATE_REFUSED = "certificate_refused"   # not the hub's certificate: nothing was sent
CONTENT_REFUSED = "content_refused"  # a new consultation version refused: the old one kept
ERROR = "error"                      # a bug on the tablet; sync tries again

# What the facilitator should do, per state (none for a refusal kept at the hub, or a bug of
# the tablet: their `problem` already says it, and sync tries again by itself).
ADVICE = {
    NOT_ENROLLED: N_("Type the enrollment code the platform staff gave you, or scan its QR "
                     "code."),
    UNREACHABLE: N_("Nothing is lost: everything waits on this tablet and is sent when the hub "
                    "answers. Check the Wi-Fi and the hub's address; sync tries again by "
                    "itself."),
    LOGIN_PAGE: N_("This network shows a login page: open a browser and log in, or use another "
                   "network. Nothing is lost."),
    REVOKED: N_("Ask the platform staff to lift the revocation, or for an enrollment code made "
                "for this tablet (give them the tablet ID shown here), then enroll again. "
                "Everything waiting is sent then."),
    CERTIFICATE_REFUSED: N_("Do not use this network for sync until the staff have checked "
                            "it. Everything waits safely on this tablet. If the room's laptop "
                            "was replaced, enroll again with its new QR code."),
    CONTENT_REFUSED: N_("Votes and ideas are still sent. Tell the platform staff what this "
                        "page says: they can publish the consultation again. The tablet asks "
                        "for it again by itself."),
    CREDENTIALS_REFUSED: N_("Enroll this tablet again. If the hub says it is already "
                            "enrolled, ask the platform staff for an enrollment code made for "
                            "this tablet (give them the tablet ID shown here). Nothing waiting "
                            "is lost."),
}


@dataclass(frozen=True)
class SyncStatus:
    enrolled: bool = False
    hub_url: str | None = None
    device_id: str | None = None        # what staff need to make a code for this tablet
    last_success: str | None = None     # ISO 8601 (device clock), annotation only
    pending: int = 0                    # events waiting for the hub's acknowledgement
    problem: str | None = None          # e.g. "Hub unreachable"; None when all is well
    revoked: bool = False
    refused: int = 0                    # events the hub refused or found in conflict (kept there)
    state: str = NOT_ENROLLED           # one of the states above
    site_id: str | None = None          # the site this tablet is enrolled at
    # The outbox's last number when `pending` was read: the events `pending` counts are those
    # numbered up to it (sync.service adds the store's later announcements, exactly).
    counted_seq: int = 0

    @property
    def credentials_refused(self) -> bool:
        """The hub answered 401 device_unknown: enroll again (maybe with a staff code)."""
        return self.state == CREDENTIALS_REFUSED

    @property
    def advice(self) -> str | None:
        """What the facilitator should do (a msgid), or None when nothing is needed."""
        return ADVICE.get(self.state)
