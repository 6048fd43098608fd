"""Where residents' phones sign up when a room hub's tablets show them a QR (docs/deploy.md,
"Residents' phones in a room"). Apart from server/room.py, which needs the whole hub: the hub
asks this for every enrollment answer."""
from __future__ import annotations

from .upstream import configured, state


def phone_signup(hub) -> dict:
    """Where residents' phones sign up, for this hub's tablets (docs/deploy.md, "Residents'
    phones in a room"): nothing — the hub's own page — unless this hub is a room hub enrolled
    with a central hub and its staff did not turn the room's page on (`room --phones-here`).
    Then `{"phone_signup": {"url", "alias", "signup_key"}}`: the central hub's public address,
    and the alias and key the central hub gave this room hub, with which the tablets mint the
    phones' links (app/tablet.py): a phone opens the central hub's page over the public
    HTTPS its browser trusts, through its own mobile data, attributed to the room's site. A
    phone cannot pin the room's own certificate."""
    if hub.settings.phones_here:
        return {}
    values = state(hub)
    url, alias, key = values.get("url"), values.get("signup_alias"), values.get("signup_key")
    if not configured(values) or not all(isinstance(v, str) and v for v in (url, alias, key)):
        return {}
    return {"phone_signup": {"url": url, "alias": alias, "signup_key": key}}
