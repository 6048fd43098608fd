"""The projector's controls at the hub, independent of HTTP (docs/protocol.md, "Display
controls").

Display controls (app/display.py's DisplayControl) are kept per consultation as the merged
state a facilitator asked for, numbered by a revision, with the revision at which each key was
last set, so that a projector applies only what changed since it last looked (and its own
keyboard keeps working in between).
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from sqlalchemy import select, update

from app.canonical import canonical_json, compact_json
from app.clock import now_iso
from app.display import parse_control, views_of
from app.errors import N_, ValidationError

from . import PROTOCOL_VERSION, db
from .errors import HubError
from .ingest import NOT_OPEN_HERE, open_to_site
from .results import DisplayDelta

PHONES_OPEN_ELSEWHERE = N_("Phones are open at another site for this consultation: only that "
                           "site's tablets, or staff, can change or close them.")
PHONE_KEYS = ("phones", "phones_cards")


def read_display(hub, consultation_id: str) -> tuple[str, bytes] | None:
    """(ETag, JSON body) of the display control of a consultation; None when unknown."""
    consultation = hub.consultation(consultation_id)
    if consultation is None:
        return None
    with hub.engine.connect() as conn:
        row = conn.execute(select(db.display_controls).where(
            db.display_controls.c.consultation_id == consultation.id)).first()
    body = {"protocol": PROTOCOL_VERSION, "consultation_id": consultation.id,
            "revision": row.revision if row else 0,
            "control": json.loads(row.control) if row else {},
            "set_at": json.loads(row.set_at) if row else {},
            "views": list(views_of(consultation))}
    data = compact_json(body).encode()
    return f'"display.{consultation.id}.{consultation.version}.{body["revision"]}"', data


def set_display(hub, consultation_id: str, control: Any, by: str,
                device: dict | None = None) -> dict:
    """Merge a DisplayControl into the consultation's display state; return the new state.
    Checked with app.display.parse_control: a refused control changes nothing. `device` is the
    device asking (None: staff); a device changes only the projector of a consultation open to
    the site it was enrolled at (403 consultation_not_open_here)."""
    consultation = hub.consultation(consultation_id)
    if consultation is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    if device is not None and not open_to_site(consultation, device.get("site_id")):
        raise HubError(NOT_OPEN_HERE, status=403, code="consultation_not_open_here")
    if not isinstance(control, Mapping):
        raise ValidationError(N_("A display control is a JSON object."), None)
    control = {k: v for k, v in control.items() if k != "revision"}  # the hub numbers them
    changes = parse_control(control, views_of(consultation))
    if not changes:
        raise HubError(N_("This display control changes nothing."), field="control")
    if "phones" in changes:
        # Phones answer at the site of whoever opened them (server/phone_ballot.py): the
        # tablet's own, or one staff name among the consultation's.
        site = device.get("site_id") if device is not None else control.get("phones_site")
        if site is not None and (not isinstance(site, str) or (consultation.sites and not any(
                s.id == site for s in consultation.sites))):
            raise ValidationError(N_("Unknown site."), "phones_site")
        changes["phones_site"] = site
    if changes.get("closing"):
        _check_closing(hub, changes["closing"])

    def merge(uow) -> tuple[int, dict, dict]:
        conn = uow.conn
        # FOR UPDATE: two processes' changes are merged one after the other (SQLite: the
        # write transaction is the database's already); two first rows at once: the loser
        # runs again (UnitsOfWork.run) and merges into the winner's.
        row = conn.execute(select(db.display_controls).where(
            db.display_controls.c.consultation_id == consultation.id).with_for_update()).first()
        merged = json.loads(row.control) if row else {}
        set_at = json.loads(row.set_at) if row else {}
        if device is not None and _opened_elsewhere(merged, device.get("site_id"), changes):
            raise HubError(PHONES_OPEN_ELSEWHERE, status=403, code="phones_open_elsewhere")
        revision = (row.revision if row else 0) + 1
        merged.update(changes)
        set_at.update({key: revision for key in changes})
        values = {"control": canonical_json(merged), "set_at": canonical_json(set_at),
                  "revision": revision, "updated_at": now_iso(), "updated_by": by[:80]}
        if row is None:
            conn.execute(db.display_controls.insert(),
                         [{"consultation_id": consultation.id, **values}])
        else:
            conn.execute(update(db.display_controls).where(
                db.display_controls.c.consultation_id == consultation.id).values(**values))
        # Once committed, the projectors' streams send it (server.results_stream), from every
        # hub process on the database.
        uow.tally(DisplayDelta(consultation.id))
        return revision, merged, set_at
    revision, merged, set_at = hub.units.run(merge)
    return {"consultation_id": consultation.id, "revision": revision, "control": merged,
            "set_at": set_at}


def _opened_elsewhere(merged: Mapping, site_id: str | None, changes: Mapping) -> bool:
    """Whether a tablet enrolled at `site_id` asks to change the phones' opening of another
    site: one opening per consultation, attributed to the site that opened it (its tablets
    and staff keep it; another site's tablet waits until it is closed). Read under the row's
    lock: two sites opening at once, the second is refused."""
    if not any(key in changes for key in PHONE_KEYS):
        return False
    return bool(merged.get("phones")) and merged.get("phones_site") != site_id


def _check_closing(hub, url: str) -> None:
    """A closing QR on the big screen: only this hub's own public page of a closing record it
    holds (its own, or a room hub's kept here). app.display's pattern lets any host through:
    an enrolled tablet (or a stolen credential) could otherwise put a look-alike address on
    every projector of the consultation, a phishing QR the whole room scans."""
    prefix = f"{hub.settings.public_url.rstrip('/')}/closing/"
    closing_id = url[len(prefix):] if url.startswith(prefix) else ""
    found = False
    if closing_id:
        with hub.engine.connect() as conn:
            found = any(conn.execute(select(table.c.id).where(table.c.id == closing_id))
                        .first() is not None for table in (db.closings, db.relay_closings))
    if not found:
        raise ValidationError(N_("The address of a closing record is expected here."),
                              "closing")
