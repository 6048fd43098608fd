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
        # Opened from a tablet in rehearsal: the phones' answers are the rehearsal's, refused
        # while a tablet of the site is still in rehearsal (server.rehearsal's phone check).
        changes["phones_rehearsal"] = bool(device is not None and changes["phones"]
                                           and hub.rehearsal.device_running(device["id"]))
    with hub.unit_of_work() as uow:
        conn = uow.conn
        row = conn.execute(select(db.display_controls).where(
            db.display_controls.c.consultation_id == consultation.id)).first()
        merged = json.loads(row.control) if row else {}
        set_at = json.loads(row.set_at) if row else {}
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
    # Committed: the projectors' streams send it (server.results_stream).
    hub.results.changes.notify(consultation.id, display=True)
    return {"consultation_id": consultation.id, "revision": revision, "control": merged,
            "set_at": set_at}
