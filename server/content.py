"""Consultations on the hub: bundles imported (a new version must fit what is stored), their
files checked and served, the index each device syncs from (docs/protocol.md, "Bundles"), and
draft versions tried on chosen tablets in rehearsal (docs/protocol.md, "Draft versions")."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from app import bundle as bundles
from app.answers import validate_answer
from app.bundle import (BUNDLE_FILE, bundle_files, check_map_tiles, check_media_bytes,
                        parse_bundle, read_bundle_media)
from app.canonical import canonical_json
from app.clock import now_iso
from app.errors import N_, BundleError, ValidationError
from app.model import Consultation

from . import db
from .db import sha256
from .devices import upsert_site
from .errors import HubError


class Content:
    """The consultations and their bundles, behind `hub` (server.hub.Hub)."""

    def __init__(self, hub):
        self.hub = hub
        self._consultations: dict[tuple[str, int], Consultation] = {}
        self._card_bodies: dict[tuple, tuple[int, str, bytes]] = {}   # card_index_body's

    def consultation(self, consultation_id: str, version: int | None = None) -> Consultation | None:
        """The current (or a given) version of a consultation, parsed once and cached."""
        if version is None:
            with self.hub.engine.connect() as conn:
                version = conn.execute(select(db.consultations.c.version).where(
                    db.consultations.c.id == consultation_id)).scalar()
            if version is None:
                return None
        key = (consultation_id, version)
        found = self._consultations.get(key)
        if found is None:
            with self.hub.engine.connect() as conn:
                raw = conn.execute(select(db.consultation_versions.c.bundle).where(
                    db.consultation_versions.c.consultation_id == consultation_id,
                    db.consultation_versions.c.version == version)).scalar()
            if raw is None:
                return None
            found = self._consultations[key] = parse_bundle(json.loads(raw))
        return found

    def _remember(self, consultation: Consultation) -> None:
        self._consultations[(consultation.id, consultation.version)] = consultation

    def consultations(self) -> list[dict]:
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(db.consultations.c.id, db.consultations.c.version,
                                       db.consultations.c.sha256, db.consultations.c.site_ids)
                                .order_by(db.consultations.c.id)).all()
        out = []
        for row in rows:
            c = self.consultation(row.id, row.version)
            out.append({"id": c.id, "version": c.version, "status": c.status,
                        "title": dict(c.title), "languages": list(c.languages),
                        "opens_on": c.opens_on, "closes_on": c.closes_on, "goal": c.goal,
                        "sites": json.loads(row.site_ids), "sha256": row.sha256})
        return out

    def import_bundle(self, source: str | Path | dict, files: dict[str, bytes] | None = None
                      ) -> Consultation:
        """Import a bundle (a folder, its bundle.json, or decoded JSON plus its files).

        Every file the bundle lists (app.bundle.bundle_files: images, the base map) is checked
        before anything is written (checked_bundle_files); a folder must hold them all, while
        decoded JSON may come without files (tablets then show no images and no base map).

        A higher version replaces the current one; the same version again is accepted only when
        identical; a lower version is refused.
        """
        if isinstance(source, dict):
            data, folder = source, None
        else:
            path = Path(source)
            file = path if path.suffix == ".json" else path / BUNDLE_FILE
            folder = file.parent
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise BundleError(N_("The bundle file is missing."), str(file)) from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BundleError(N_("The bundle file cannot be read: {reason}"), str(file),
                                  reason=str(exc)) from None
        consultation = parse_bundle(data, folder=None)
        files = checked_bundle_files(consultation, folder, files)
        raw = canonical_json(data)
        digest = sha256(raw)
        now = now_iso()
        with self.hub.unit_of_work() as uow:
            conn = uow.conn
            current = conn.execute(select(db.consultations.c.version, db.consultations.c.sha256)
                                   .where(db.consultations.c.id == consultation.id)).first()
            if current is not None:
                if consultation.version < current.version or (
                        consultation.version == current.version and digest != current.sha256):
                    raise HubError(
                        N_("Version {version} of this consultation is already on the hub; "
                           "give the new bundle a higher version."),
                        status=409, code="bundle_version", version=current.version)
                if digest == current.sha256:
                    return consultation
                misfit = incompatible_question(conn, consultation)
                if misfit is not None:
                    raise HubError(
                        N_("This version cannot replace the current one: answers or counts "
                           "already received for the question {question} do not fit it. "
                           "Keep that question's kind, options and projects, or give the "
                           "changed question a new ID."),
                        status=409, code="bundle_incompatible", field=misfit,
                        question=misfit)
            row = {"id": consultation.id, "version": consultation.version,
                   "sha256": digest, "imported_at": now,
                   "site_ids": json.dumps([s.id for s in consultation.sites])}
            if current is None:
                conn.execute(db.consultations.insert(), [row])
            else:
                conn.execute(db.consultations.update()
                             .where(db.consultations.c.id == consultation.id),
                             {k: v for k, v in row.items() if k != "id"})
            conn.execute(db.consultation_versions.insert(), [{
                "consultation_id": consultation.id, "version": consultation.version,
                "bundle": raw, "sha256": digest, "imported_at": now}])
            conn.execute(db.bundle_files.delete().where(
                db.bundle_files.c.consultation_id == consultation.id))
            rows = [{"consultation_id": consultation.id, "path": p, "content": content,
                     "sha256": sha256(content), "size": len(content)}
                    for p, content in sorted(files.items())]
            if rows:
                conn.execute(db.bundle_files.insert(), rows)
            for site in consultation.sites:
                upsert_site(conn, site.id, dict(site.name), site.town, now)
            uow.on_commit(lambda: self._remember(consultation))
            uow.follow({consultation.id: consultation.version})
        return consultation

    # -- draft versions (issue 30) -------------------------------------------------------------

    def import_draft(self, source: str | Path | dict, device_ids: list[str],
                     files: dict[str, bytes] | None = None) -> Consultation:
        """Keep a bundle as the draft of its consultation, for the tablets `device_ids` only,
        and only while they run in rehearsal; the published version (and every other tablet)
        is untouched. Checked like an import (the bundle, its files); its version must be above
        the published one. A later draft of the same consultation replaces this one; publishing
        the version (import_bundle) makes it stale (left out of every index)."""
        from .devices import check_device_id
        if not isinstance(device_ids, (list, tuple)) or not device_ids:
            raise HubError(N_("Name the tablets (device IDs) that try this draft."),
                           field="device_ids")
        named = sorted({check_device_id(d) for d in device_ids})
        if isinstance(source, dict):
            data, folder = source, None
        else:
            path = Path(source)
            file = path if path.suffix == ".json" else path / BUNDLE_FILE
            folder = file.parent
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise BundleError(N_("The bundle file is missing."), str(file)) from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BundleError(N_("The bundle file cannot be read: {reason}"), str(file),
                                  reason=str(exc)) from None
        consultation = parse_bundle(data, folder=None)
        files = checked_bundle_files(consultation, folder, files)
        raw = canonical_json(data)
        with self.hub.writer.begin() as conn:
            current = conn.execute(select(db.consultations.c.version).where(
                db.consultations.c.id == consultation.id)).scalar()
            if current is not None and consultation.version <= current:
                raise HubError(
                    N_("Version {version} of this consultation is already published: give "
                       "the draft a higher version."),
                    status=409, code="draft_version", version=current)
            conn.execute(db.drafts.delete().where(
                db.drafts.c.consultation_id == consultation.id))
            conn.execute(db.draft_files.delete().where(
                db.draft_files.c.consultation_id == consultation.id))
            conn.execute(db.drafts.insert(), [{
                "consultation_id": consultation.id, "version": consultation.version,
                "bundle": raw, "sha256": sha256(raw), "device_ids": json.dumps(named),
                "uploaded_at": now_iso()}])
            rows = [{"consultation_id": consultation.id, "path": p, "content": content,
                     "sha256": sha256(content), "size": len(content)}
                    for p, content in sorted(files.items())]
            if rows:
                conn.execute(db.draft_files.insert(), rows)
        return consultation

    def remove_draft(self, consultation_id: str) -> bool:
        """Drop the draft of a consultation (its tablets go back to the published version at
        their next pull); whether there was one."""
        with self.hub.writer.begin() as conn:
            conn.execute(db.draft_files.delete().where(
                db.draft_files.c.consultation_id == consultation_id))
            return bool(conn.execute(db.drafts.delete().where(
                db.drafts.c.consultation_id == consultation_id)).rowcount)

    def drafts(self) -> list[dict]:
        """Every draft: consultation, version, the tablets that try it, when it came."""
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(db.drafts.c.consultation_id, db.drafts.c.version,
                                       db.drafts.c.device_ids, db.drafts.c.uploaded_at)
                                .order_by(db.drafts.c.consultation_id)).all()
        return [{"consultation_id": r.consultation_id, "version": r.version,
                 "device_ids": json.loads(r.device_ids), "uploaded_at": r.uploaded_at}
                for r in rows]

    def draft_for(self, consultation_id: str, device: dict):
        """The draft row of `consultation_id` this device gets now (named by it, in rehearsal,
        the consultation open to its site, above the published version), or None."""
        with self.hub.engine.connect() as conn:
            row = conn.execute(select(db.drafts).where(
                db.drafts.c.consultation_id == consultation_id)).first()
            if row is None or device.get("id") not in json.loads(row.device_ids):
                return None
            current = conn.execute(select(db.consultations.c.version).where(
                db.consultations.c.id == consultation_id)).scalar()
        if current is not None and row.version <= current:
            return None                       # published since: the draft is stale
        if not self.hub.rehearsal.device_running(device["id"]):
            return None
        from .ingest import open_to_site
        if not open_to_site(self.draft_consultation(row), device.get("site_id")):
            return None
        return row

    def draft_consultation(self, row) -> Consultation:
        key = ("draft", row.consultation_id, row.sha256)
        found = self._consultations.get(key)
        if found is None:
            found = self._consultations[key] = parse_bundle(json.loads(row.bundle))
        return found

    def draft_file(self, consultation_id: str, path: str) -> tuple[str, bytes] | None:
        with self.hub.engine.connect() as conn:
            row = conn.execute(select(db.draft_files.c.sha256, db.draft_files.c.content).where(
                db.draft_files.c.consultation_id == consultation_id,
                db.draft_files.c.path == path)).first()
        return (row.sha256, bytes(row.content)) if row else None

    def _drafts_index(self, device: dict) -> dict[str, dict]:
        """consultation ID → the index entry of the draft this device gets in its place."""
        with self.hub.engine.connect() as conn:
            ids = conn.execute(select(db.drafts.c.consultation_id)).scalars().all()
            if not ids:
                return {}
            files = conn.execute(select(db.draft_files.c.consultation_id,
                                        db.draft_files.c.path, db.draft_files.c.sha256,
                                        db.draft_files.c.size)
                                 .order_by(db.draft_files.c.path)).all()
        out = {}
        for consultation_id in ids:
            row = self.draft_for(consultation_id, device)
            if row is None:
                continue
            base = f"/api/v1/consultations/{consultation_id}/draft"
            out[consultation_id] = {
                "id": consultation_id, "version": row.version, "sha256": row.sha256,
                "draft": True, "bundle_url": f"{base}/bundle",
                "files": [{"path": f.path, "sha256": f.sha256, "size": f.size,
                           "url": f"{base}/files/{f.path}"}
                          for f in files if f.consultation_id == consultation_id]}
        return out

    def bundle_json(self, consultation_id: str) -> tuple[str, str] | None:
        """(sha256, bundle.json text) of the current version."""
        current, versions = db.consultations, db.consultation_versions
        with self.hub.engine.connect() as conn:
            row = conn.execute(select(current.c.sha256, versions.c.bundle).join_from(
                current, versions, (versions.c.consultation_id == current.c.id)
                & (versions.c.version == current.c.version))
                .where(current.c.id == consultation_id)).first()
        return (row.sha256, row.bundle) if row else None

    def bundle_file(self, consultation_id: str, path: str) -> tuple[str, bytes] | None:
        with self.hub.engine.connect() as conn:
            row = conn.execute(select(db.bundle_files.c.sha256, db.bundle_files.c.content).where(
                db.bundle_files.c.consultation_id == consultation_id,
                db.bundle_files.c.path == path)).first()
        return (row.sha256, bytes(row.content)) if row else None

    def bundle_index(self, device: dict) -> dict:
        """The consultations for this device's site, with their files' hashes. The cards'
        checks are not in it (card_index): issuing a card leaves this index and its ETag as
        they were."""
        site_id = device.get("site_id")
        rows = self._rows_for_site(site_id)
        with self.hub.engine.connect() as conn:
            files = conn.execute(select(db.bundle_files.c.consultation_id, db.bundle_files.c.path,
                                        db.bundle_files.c.sha256, db.bundle_files.c.size)
                                 .order_by(db.bundle_files.c.path)).all()
        out = []
        for row in rows:
            base = f"/api/v1/consultations/{row.id}"
            out.append({"id": row.id, "version": row.version, "sha256": row.sha256,
                        "bundle_url": f"{base}/bundle",
                        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size,
                                   "url": f"{base}/files/{f.path}"}
                                  for f in files if f.consultation_id == row.id]})
        # A tablet named by a draft, in rehearsal, gets the draft in the published version's
        # place; once the session opens it gets the published version back (its sha256).
        drafts = self._drafts_index(device)
        if drafts:
            out = [drafts.pop(entry["id"], entry) for entry in out] + list(drafts.values())
            out.sort(key=lambda entry: entry["id"])
        return {"site_id": site_id, "consultations": out}

    def card_index(self, device: dict) -> dict:
        """What this device checks participation cards with, offline, for the consultations of
        its site: the hub's public key and, per consultation, {lookup: public key} of the
        issued cards (server.issued_cards.card_index). Served apart from the bundle index,
        with its own ETag (GET /api/v1/cards)."""
        site_id = device.get("site_id")
        ids = [row.id for row in self._rows_for_site(site_id)]
        return {"site_id": site_id, **self.hub.participation.card_index(ids)}

    def card_index_body(self, device: dict) -> tuple[str, bytes]:
        """GET /api/v1/cards: (ETag, body) of card_index, built again only when the site's
        consultations or the issued cards changed, not at each device's ask (20,000 cards: 160
        ms a request, 304 or not). Issued cards are only ever added (by this process, a room
        hub's import, or staff's `cards print` in another process): their count tells."""
        from . import PROTOCOL_VERSION
        cards = self.hub.participation.cards
        with self.hub.engine.connect() as conn:     # read first: a card added meanwhile rebuilds
            generation = conn.execute(select(func.count()).select_from(
                db.issued_cards)).scalar()
        site_id = device.get("site_id")
        ids = [row.id for row in self._rows_for_site(site_id)]
        key = (site_id, tuple(ids))
        cached = self._card_bodies.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1], cached[2]
        body = canonical_json({"protocol": PROTOCOL_VERSION, "site_id": site_id,
                               **cards.card_index(ids)}).encode()
        etag = f'"{sha256(body)[:32]}"'
        if len(self._card_bodies) >= 64:
            self._card_bodies.clear()
        self._card_bodies[key] = (generation, etag, body)
        return etag, body

    def _rows_for_site(self, site_id: str | None) -> list:
        """The current consultations sent to `site_id`'s devices: those whose bundle lists the
        site, or lists no sites at all."""
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(db.consultations.c.id, db.consultations.c.version,
                                       db.consultations.c.sha256, db.consultations.c.site_ids)
                                .order_by(db.consultations.c.id)).all()
        return [row for row in rows
                if not (ids := json.loads(row.site_ids)) or site_id in ids]


def incompatible_question(conn, consultation: Consultation) -> str | None:
    """The first question of `consultation` (a new version) that a stored answer or a current
    count does not fit (its kind, options or projects changed), or None when all fit.
    Questions the new version drops are fine: their answers simply stop counting."""
    from app.counts import validate_count
    for question_id, value in conn.execute(
            select(db.ballot_answers.c.question_id, db.ballot_answers.c.value).where(
                db.ballot_answers.c.consultation_id == consultation.id,
                db.ballot_answers.c.value.is_not(None))
            .distinct().order_by(db.ballot_answers.c.question_id)):
        question = consultation.question(question_id)
        if question is None:
            continue
        try:
            validate_answer(consultation, question, json.loads(value))
        except (ValidationError, ValueError, TypeError):
            return question_id
    for question_id, channel, counts, ballots in conn.execute(
            select(db.tally_counts.c.question_id, db.tally_counts.c.channel,
                   db.tally_counts.c.counts, db.tally_counts.c.ballots).where(
                db.tally_counts.c.consultation_id == consultation.id,
                db.tally_counts.c.superseded_by.is_(None))
            .order_by(db.tally_counts.c.question_id)):
        if consultation.question(question_id) is None:
            continue
        try:
            validate_count(consultation, question_id, channel, json.loads(counts), ballots)
        except (ValidationError, ValueError, TypeError):
            return question_id
    return None


def checked_bundle_files(consultation: Consultation, folder: Path | None,
                         files: dict[str, bytes] | None) -> dict[str, bytes]:
    """The files of `consultation`'s bundle to store and serve, {path inside the bundle: bytes},
    each checked by app.bundle's rules: images by read_bundle_image (from `folder`: a regular
    file inside it, no link, an image within the size and pixel limits) or check_image_bytes
    (given bytes); the base map by check_map_tiles, up to the map's own size limit, on the very
    bytes stored, with the bundle's zoom levels among those it holds. Given files the bundle
    does not list are left out. BundleError names the file."""
    tiles = consultation.map.tiles if consultation.map is not None else None
    checked: dict[str, bytes] = {}
    for rel in bundle_files(consultation):
        if folder is not None:
            if rel == tiles:
                check_map_tiles(folder, rel)      # the path's rules, before reading it
                content = _read_bounded(folder / rel, rel)
            else:
                checked[rel] = read_bundle_media(folder, rel)   # an image or a recording
                continue
        else:
            content = (files or {}).get(rel)
            if content is None:
                continue
            if isinstance(content, (bytearray, memoryview)):
                content = bytes(content)
        if rel == tiles:
            check_map_bytes(consultation, content, rel)
        elif not isinstance(content, bytes):
            raise BundleError(N_("The image {path} is not a PNG, JPEG or WebP picture."), rel,
                              path=rel)
        else:
            check_media_bytes(content, rel)
        checked[rel] = content
    return checked


def _read_bounded(path: Path, rel: str) -> bytes:
    with open(path, "rb") as f:
        content = f.read(bundles.MAX_TILES_BYTES + 1)
    if len(content) > bundles.MAX_TILES_BYTES:
        raise BundleError(N_("The map file {path} is too large."), rel, path=rel)
    return content


def check_map_bytes(consultation: Consultation, content: object, rel: str) -> None:
    """Check the base map given as bytes: written to a private temporary folder under its path
    in the bundle, then check_map_tiles, and the bundle's zoom levels among those it holds."""
    if not isinstance(content, bytes) or content[:16] != b"SQLite format 3\x00":
        raise BundleError(N_("The map file {path} is not an MBTiles (SQLite) database."), rel,
                          path=rel)
    if len(content) > bundles.MAX_TILES_BYTES:
        raise BundleError(N_("The map file {path} is too large."), rel, path=rel)
    with tempfile.TemporaryDirectory(prefix="piazzetta-map-") as tmp:
        target = Path(tmp) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        low, high = check_map_tiles(tmp, rel)
    perimeter = consultation.map
    for level in (perimeter.min_zoom, perimeter.max_zoom):
        if not low <= level <= high:
            raise BundleError(N_("The map file {path} holds zoom levels {min} to {max} only."),
                              rel, "consultation.map.tiles", path=rel, min=low, max=high)
