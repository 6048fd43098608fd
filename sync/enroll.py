"""Enrollment: a code typed by the facilitator, or read from the QR the hub's staff show (it
holds the hub's URL and the code). The device keeps its own ID; the hub gives it a secret."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from app.errors import N_
from app.signup import SIGNUP_KEY
from app.store import Store

from . import protocol as p
from .client import HubClient, normalize_hub_url


def parse_enrollment_qr(text: object) -> tuple[str, str]:
    """(hub URL, code) from a QR's text: `piazzetta://enroll?hub=…&code=…` (or the same as
    JSON `{"hub": …, "code": …}`). Raises SyncError when it is not an enrollment QR."""
    not_ours = p.SyncError(N_("This QR code is not a Piazzetta enrollment code."), "qr")
    if not isinstance(text, str) or len(text) > 2000:
        raise not_ours
    text = text.strip()
    hub = code = None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise not_ours from None
        if isinstance(data, dict):
            hub, code = data.get("hub"), data.get("code")
    else:
        parts = urlsplit(text)
        if parts.scheme == "piazzetta" and parts.netloc == "enroll":
            query = parse_qs(parts.query)
            hub = (query.get("hub") or [None])[0]
            code = (query.get("code") or [None])[0]
    if not isinstance(hub, str) or not isinstance(code, str) or not code.strip():
        raise not_ours
    return normalize_hub_url(hub), code.strip()


def enroll(store: Store, hub_url: str, code: str, *, name: str = "", platform: str = "",
           timeout: tuple[float, float] = (5.0, 15.0)) -> dict:
    """Enroll this tablet with the hub; keep the hub's URL and the secret in the store.

    Raises SyncError (HubUnreachable, or a refusal with a clear message). Nothing is kept
    unless the hub said yes.
    """
    hub_url = normalize_hub_url(hub_url)
    if not isinstance(code, str) or not code.strip():
        raise p.SyncError(N_("Type the enrollment code."), "code")
    client = HubClient(hub_url, timeout=timeout)
    try:
        answer = client.enroll(code.strip(), store.device_id, name=name, platform=platform)
    except p.HubRefused as exc:
        if exc.code == "enrollment_code_invalid":
            raise p.SyncError(N_("This enrollment code is not valid: it may be mistyped, expired "
                                 "or already used."), "code") from None
        raise p.SyncError(N_("The hub refused the enrollment."), "code") from None
    finally:
        client.close()
    previous_hub = store.get_setting(p.HUB_URL)
    store.set_setting(p.HUB_URL, hub_url)
    store.set_setting(p.DEVICE_SECRET, answer["device_secret"])
    if previous_hub and previous_hub != hub_url:
        # Another hub (say the central one after a room's laptop) has none of what the last
        # one acknowledged: send everything again; each event is stored there once.
        store.forget_acknowledgements()
    store.set_setting(p.SITE_ID, answer.get("site_id"))
    max_batch = answer.get("max_batch")
    store.set_setting(p.MAX_BATCH, max_batch if isinstance(max_batch, int) and max_batch > 0
                      else 100)
    store.set_setting(p.REVOKED, False)
    # The key this tablet signs its sign-up links with, offline (app/signup.py).
    signup_key = answer.get("signup_key")
    store.set_setting(SIGNUP_KEY, signup_key if isinstance(signup_key, str) else None)
    return answer


def is_enrolled(store: Store) -> bool:
    return bool(store.get_setting(p.HUB_URL) and store.get_setting(p.DEVICE_SECRET))


def client_for(store: Store, timeout: tuple[float, float] = (5.0, 30.0)) -> HubClient:
    return HubClient(store.get_setting(p.HUB_URL), store.device_id,
                     store.get_setting(p.DEVICE_SECRET), timeout=timeout)
