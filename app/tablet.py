"""What a tablet shows and checks from what its enrollment and its last bundle gave it: its
sign-up link (minted offline), an idea's receipt link, the card checks of the identified mode,
and the ideas it collected that a resident follows. Each reads the tablet's store."""
from __future__ import annotations

import time

from .cards import CARD_KEYS, CARD_PUBLIC_KEY
from .errors import N_, StoreError, ValidationError
from .proposals import idea_url, read_idea_code
from .signup import SIGNUP_ALIAS, SIGNUP_KEY, SIGNUP_TTL, mint_signup_token, signup_url
from .store import Proposal, Store

HUB_URL = "sync.hub_url"     # the setting sync.protocol.HUB_URL names
# Where a room hub sends residents' phones (server/room.py phone_signup): the central hub's
# public address, with the alias and key the central hub knows the room hub by; None: the
# tablet's own hub.
PHONE_SIGNUP = "sync.phone_signup"


def kiosk_signup_url(store: Store, *, consultation_id: str | None, site_id: str | None,
                     meeting_id: str | None, ttl: int = SIGNUP_TTL) -> str:
    """The sign-up link this tablet shows (minted offline), or "" when it is not enrolled, or
    has no alias from its hub yet: then no sign-up QR is shown at all. The link names the
    tablet by the alias the hub gave it, never by its device ID (residents see the link).
    A tablet of a room hub enrolled with a central hub sends phones there (PHONE_SIGNUP): the
    link then names the room hub, as the central hub knows it."""
    hub_url = store.get_setting(HUB_URL)
    key, alias = store.get_setting(SIGNUP_KEY), store.get_setting(SIGNUP_ALIAS)
    phones = store.get_setting(PHONE_SIGNUP)
    if isinstance(phones, dict):
        hub_url, key, alias = phones.get("url"), phones.get("signup_key"), phones.get("alias")
    if not hub_url or not key or not alias:
        return ""
    try:
        token = mint_signup_token(key, consultation=consultation_id, site=site_id,
                                  meeting=meeting_id, device=alias, ttl=ttl)
    except ValueError:
        return ""
    return signup_url(hub_url, token)


class SignupLink:
    """The sign-up link a screen shows for a long time (the projector): minted from the store's
    enrollment settings, and minted again once an hour so that it never nears its expiry.
    Call it for the current URL ("" when the device is not enrolled)."""

    def __init__(self, store: Store, *, consultation_id: str | None, site_id: str | None = None,
                 meeting_id: str | None = None, refresh: float = 3600.0):
        self.store, self.refresh = store, refresh
        self.claims = dict(consultation_id=consultation_id, site_id=site_id,
                           meeting_id=meeting_id)
        self._url, self._at = "", None

    def __call__(self) -> str:
        now = time.monotonic()
        if self._at is None or now - self._at >= self.refresh:
            self._url, self._at = kiosk_signup_url(self.store, **self.claims), now
        return self._url


def kiosk_idea_url(store: Store, short_code: str) -> str:
    """The receipt link of an idea collected here, or "" when the tablet knows no hub (then
    only the short code is shown). It names this tablet by its alias (`?d=`), so that the hub
    shows this tablet's idea even when another tablet made the same code offline."""
    hub_url = store.get_setting(HUB_URL)
    if not hub_url or not short_code:
        return ""
    alias = store.get_setting(SIGNUP_ALIAS)
    return idea_url(hub_url, short_code) + ("?d=" + alias if alias else "")


def card_keys(store: Store, consultation_id: str) -> tuple[str | None, dict[str, str]]:
    """(the hub's public key, {lookup: card's public key} of the cards issued for this
    consultation) as the last bundle index gave them."""
    checks = store.get_setting(CARD_KEYS) or {}
    mine = checks.get(consultation_id) if isinstance(checks, dict) else None
    return store.get_setting(CARD_PUBLIC_KEY), mine if isinstance(mine, dict) else {}


def follow_idea(store: Store, short_code: object) -> Proposal:
    """The idea with this short code collected on this tablet, with the status and answer
    synced from the hub; ValidationError when the code is not one of this tablet's ideas."""
    code = read_idea_code(short_code)
    try:
        return store.proposal(code)
    except StoreError:
        raise ValidationError(N_("No idea with this code was sent from this tablet."),
                              "code") from None
