"""Pulling content from the hub: consultation bundles with their images (ETag on the index,
sha256 on every file), the checks of participation cards (ETag on their own index), and the
platform's answers to the ideas collected on this tablet."""
from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path, PurePosixPath

from app.bundle import (AUDIO_SUFFIXES, BUNDLE_FILE, MAX_AUDIO_BYTES, MAX_IMAGE_BYTES,
                        MAX_TILES_BYTES, load_bundle)
from app.bundle_folders import (LEFTOVER_SECONDS, clear_leftovers, folder_for,  # noqa: F401
                                 replace_folder, waiting_folder)
from app.errors import BundleError, ValidationError
from app.identifiers import is_content_id
from app.proposals import ANSWER_STATUSES
from app.cards import CARD_KEYS, CARD_PUBLIC_KEY, OLD_CARD_SETTINGS, hex_public_key, valid_lookup
from app.store import Store

from . import protocol as p
from .client import MAX_ANSWER_BYTES, HubClient

MANIFEST = ".piazzetta-bundle.json"
# The most a bundle's files may hold in all, read from a hub: far above any real bundle
# (images of at most 5 MB, one base map of at most 64 MB), far below a tablet's storage.
MAX_BUNDLE_BYTES = 1024 * 1024 * 1024


def file_limit(rel: str) -> int:
    """The most a bundle file at `rel` may hold (app/bundle.py's limit for its kind): its
    download stops there, not at the largest any file may be (a bundle listing hundreds of
    "images" of 65 MB each filled the disk before the loader refused the first)."""
    suffix = PurePosixPath(rel).suffix.lower()
    return MAX_TILES_BYTES if suffix == ".mbtiles" else \
        MAX_AUDIO_BYTES if suffix in AUDIO_SUFFIXES else MAX_IMAGE_BYTES


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe_relative(path: object) -> str:
    if not isinstance(path, str) or not path or len(path) > 300:
        raise p.NotAcknowledged("bad file path")
    parts = PurePosixPath(path).parts
    if path.startswith(("/", "\\")) or ".." in parts or "\\" in path or ":" in path:
        raise p.NotAcknowledged("bad file path")
    return path


def installed_version(folder: Path) -> str | None:
    return _manifest(folder).get("sha256")


def _manifest(folder: Path) -> dict:
    """What the install of `folder` wrote beside the bundle ({} when none): its `sha256`,
    `version`, whether it is a `draft` and `published`, the highest published version this
    folder held ([version, sha256])."""
    try:
        found = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _newest(target: Path) -> tuple[Path, dict]:
    """(folder, manifest) of the newest version installed for `target`: the one waiting for
    the screens to let go of `target` (app/bundle_folders.py), else `target`'s. Read in that
    order: a swap between the two reads leaves the waiting one in `target`."""
    waiting = waiting_folder(target)
    found = _manifest(waiting)
    return (waiting, found) if found else (target, _manifest(target))


def folder_states(bundles_dir: Path) -> dict[str, tuple[str | None, str | None]]:
    """Per consultation folder under `bundles_dir`: (sha256 of the version shown, of the
    version waiting), what tells a process that another one on the same data folder changed
    it (app/bundle_folders.py)."""
    try:
        folders = [f for f in bundles_dir.iterdir() if not f.name.startswith(".")]
    except OSError:
        return {}
    return {f.name: (installed_version(f), installed_version(waiting_folder(f)))
            for f in folders}


def newest_version(target: Path) -> str | None:
    """The sha256 of the newest version installed for `target` (waiting or shown)."""
    return _newest(target)[1].get("sha256")


def highest_published(target: Path) -> tuple[int, str] | None:
    """(version, sha256) of the highest published version ever installed for `target` (a
    draft tried in rehearsal is not one), None when it never held one."""
    folder, held = _newest(target)
    published = held.get("published")
    if isinstance(published, list) and len(published) == 2 \
            and isinstance(published[0], int) and isinstance(published[1], str):
        return published[0], published[1]
    if "published" in held or not held.get("sha256"):
        return None                     # only drafts so far, or nothing
    # A manifest written before drafts were told apart: what it holds was published.
    version = held.get("version")
    if not isinstance(version, int):
        found = _installed(folder)
        version = found.version if found is not None else None
    return (version, held["sha256"]) if isinstance(version, int) else None


def check_version(target: Path, version: object, sha: str | None, draft: bool = False) -> None:
    """The version rule of every install into `target` (ContentRefused "not_newer" when it
    fails): never below the highest published version this tablet installed, nor that version
    with other bytes. A draft must be above it (the hub makes drafts so); a draft installed
    in rehearsal may then be replaced by the published version, which is lower."""
    published = highest_published(target)
    if published is None:
        return
    if not isinstance(version, int) or version < published[0] \
            or (version == published[0] and (draft or sha != published[1])):
        raise p.ContentRefused("not_newer", "bundle version not newer than the installed one")


def pull_bundles(store: Store, client: HubClient, bundles_dir: Path) -> list[str]:
    """Bring bundles up to date under `bundles_dir/<consultation id>/`, and the card checks
    (pull_card_index); return the consultations updated.

    A new version is written to a temporary folder, checked with the domain's loader, and only
    then renamed into place — or beside it, while a screen reads the version shown
    (app/bundle_folders.py): a cut download never leaves half a bundle, and a resident
    mid-ballot never sees the new version's pictures. A refused consultation
    (ContentRefused) holds back neither the others nor the votes: raised once the others are
    in, with them in its `updated`.
    """
    pull_card_index(store, client)
    index, etag = client.get_json(f"{p.API_PREFIX}/bundle", store.get_setting(p.CONTENT_ETAG))
    if index is None:
        return []
    consultations = index.get("consultations")
    if not isinstance(consultations, list):
        raise p.NotAcknowledged("malformed bundle index")
    bundles_dir.mkdir(parents=True, exist_ok=True)
    updated, seen, refused = [], set(), None
    for item in consultations:
        # A folder is named after it (app/bundle_folders.folder_for).
        if not isinstance(item, dict) or not is_content_id(item.get("id")) \
                or not folder_for(item["id"]):
            raise p.NotAcknowledged("malformed bundle index")
        target = bundles_dir / item["id"]
        # Once per consultation and pull: an index naming one 100,000 times (with other
        # hashes) had it downloaded again and again. A version waiting for the screens to let
        # go of the one shown counts as installed.
        if newest_version(target) == item.get("sha256") or item["id"] in seen:
            continue
        seen.add(item["id"])
        try:
            # A draft is for a tablet in rehearsal: a hub restored from a backup made then
            # still lists it once the session opened (its residents would vote on it).
            if item.get("draft") is True and store.rehearsal_id is None:
                raise p.ContentRefused("draft_in_session", "a draft while the session is open")
            # The index's word first (nothing downloaded for a version going back), the
            # bundle's own once it is read (_install).
            if isinstance(item.get("version"), int):
                check_version(target, item["version"], item.get("sha256"),
                              item.get("draft") is True)
            _install(client, item, target)
        except p.ContentRefused as exc:
            # One refused consultation holds back neither the others nor the votes; the
            # index's ETag is not kept, so that it is asked again (on the content's backoff).
            refused = refused or exc
            continue
        updated.append(item["id"])
    if refused is not None:
        refused.updated = updated
        raise refused
    store.set_setting(p.CONTENT_ETAG, etag)
    return updated


def pull_public_bundle(client: HubClient, consultation_id: str, bundles_dir: Path,
                       etag: str | None = None) -> tuple[bool, str | None]:
    """The current version of one consultation through the hub's public routes (its
    bundle.json, then its files, each checked against its hash), installed under
    `bundles_dir/<id>/` as pull_bundles does: what a projector that follows a hub without
    being enrolled with it (`main.py projector --hub URL`) needs to show a new version.
    Conditional on `etag` (the last answer's); returns (installed a new version, ETag)."""
    if not is_content_id(consultation_id) or not folder_for(consultation_id):
        raise p.NotAcknowledged("bad consultation id")
    base = f"{p.API_PREFIX}/consultations/{consultation_id}"
    data, etag = _capped(client.get_bytes_if_changed, f"{base}/bundle", etag,
                         limit=MAX_ANSWER_BYTES)
    if data is None:
        return False, etag
    target = bundles_dir / consultation_id
    sha = _sha(data)
    if newest_version(target) == sha:
        return False, etag
    try:
        from app.bundle import bundle_files, parse_bundle
        consultation = parse_bundle(json.loads(data))
    except (ValueError, RecursionError, BundleError):
        raise p.ContentRefused("does_not_load", "bundle does not load") from None
    if consultation.id != consultation_id:
        # Another consultation's bundle would replace this one's folder (and, the newest
        # folder, shadow the real one at the next start).
        raise p.ContentRefused("other_consultation", "bundle of another consultation")
    # The hub refuses to import a lower version or the same one changed: an answer going
    # back (a replay, a hub restored from an old backup) keeps what is shown.
    check_version(target, consultation.version, sha)
    bundles_dir.mkdir(parents=True, exist_ok=True)
    _install(client, {"id": consultation_id, "sha256": sha, "version": consultation.version,
                      "bundle_url": f"{base}/bundle",
                      "files": [{"path": path, "url": f"{base}/files/{path}"}
                                for path in bundle_files(consultation)]}, target)
    return True, etag


def _installed(folder: Path):
    """The consultation installed in `folder`, None when there is none (or it does not
    load)."""
    if not (folder / BUNDLE_FILE).is_file():
        return None
    try:
        return load_bundle(folder, check_images=False)
    except BundleError:
        return None


def pull_card_index(store: Store, client: HubClient) -> bool:
    """The card index (GET /api/v1/cards, conditional on its own ETag, apart from the bundle
    index: a card issued changes this one only) saved for offline checks; True when it
    changed."""
    cards, etag = client.get_json(f"{p.API_PREFIX}/cards", store.get_setting(p.CARDS_ETAG))
    if cards is None:
        return False
    if not isinstance(cards, dict) or not isinstance(cards.get("keys"), dict):
        raise p.NotAcknowledged("malformed card index")
    save_card_index(store, cards)
    store.set_setting(p.CARDS_ETAG, etag)
    return True


def save_card_index(store: Store, cards: object) -> None:
    """The hub's public key for participation cards and, per consultation, the public keys of
    issued cards ({lookup: key}), for the identified ballot mode offline (app/cards.py). The
    checks of the cards of before (and the unsalted list before them) are removed."""
    if not isinstance(cards, dict):
        return
    key, keys = cards.get("public_key"), cards.get("keys")
    if isinstance(key, str) and len(key) == 64:
        store.set_setting(CARD_PUBLIC_KEY, key)
    if isinstance(keys, dict):
        store.set_setting(CARD_KEYS, {
            str(c): {str(lookup): card_key for lookup, card_key in per.items()
                     if valid_lookup(lookup) and hex_public_key(card_key)}
            for c, per in keys.items() if isinstance(per, dict)})
    for old in OLD_CARD_SETTINGS:
        if store.get_setting(old) is not None:
            store.set_setting(old, None)


def _capped(get, *args, **kwargs):
    """A download through `get` whose answer over its cap is a refused consultation (a file
    larger than its kind may be), not a misunderstood answer."""
    try:
        return get(*args, **kwargs)
    except p.NotAcknowledged as exc:
        if exc.detail == "answer too large":
            raise p.ContentRefused("too_large", exc.detail) from None
        raise


def _install(client: HubClient, item: dict, target: Path) -> None:
    clear_leftovers(target)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        tmp.mkdir(parents=True)
        data = _capped(client.get_bytes, item["bundle_url"])
        if _sha(data) != item.get("sha256"):
            raise p.ContentRefused("hash", "bundle does not match its hash")
        (tmp / BUNDLE_FILE).write_bytes(data)
        total = 0
        listed = item.get("files") or []
        for f in listed if isinstance(listed, list) else [None]:    # [None]: refused below
            rel = _safe_relative(f.get("path") if isinstance(f, dict) else None)
            limit = min(file_limit(rel), MAX_BUNDLE_BYTES - total)
            if f.get("sha256"):
                content, expected = _capped(client.get_bytes, f["url"], limit), f["sha256"]
            else:           # the public routes: the file's ETag is its hash
                content, etag = _capped(client.get_bytes_if_changed, f["url"], limit=limit)
                expected = (etag or "").strip('"')
            if content is None or _sha(content) != expected:
                raise p.ContentRefused("hash", "file does not match its hash")
            total += len(content)
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
        try:
            loaded = load_bundle(tmp, check_images=bool(item.get("files")))
        except BundleError:
            raise p.ContentRefused("does_not_load", "bundle does not load") from None
        if loaded.id != item["id"]:     # the folder is named after the consultation it holds
            raise p.ContentRefused("other_consultation", "bundle of another consultation")
        draft = item.get("draft") is True
        check_version(target, loaded.version, item["sha256"], draft)    # the bundle's own word
        published = highest_published(target)
        if not draft:
            published = (loaded.version, item["sha256"])
        (tmp / MANIFEST).write_text(json.dumps({
            "sha256": item["sha256"], "version": loaded.version, "draft": draft,
            "published": list(published) if published else None}), encoding="utf-8")
        # In place now, or beside it until no screen reads the version shown (a resident
        # mid-ballot keeps its pictures: app/bundle_folders.py).
        replace_folder(target, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pull_answers(store: Store, client: HubClient, page: int = 500) -> int:
    """Record the platform's answers to this tablet's ideas; return how many were new."""
    cursor = store.get_setting(p.ANSWERS_CURSOR, 0)
    count = 0
    for _ in range(1000):
        data = client.answers(cursor)
        for answer in data["answers"]:
            if not isinstance(answer, dict):
                continue
            status = answer.get("answer_status")
            proposal_id = answer.get("proposal_id")
            if status in ANSWER_STATUSES and isinstance(proposal_id, str):
                text = answer.get("answer_text")
                try:
                    store.record_proposal_answer(proposal_id, status,
                                                 text if isinstance(text, str) else None)
                except ValidationError:
                    continue
                count += 1
        if data["cursor"] <= cursor:
            break
        cursor = data["cursor"]
        store.set_setting(p.ANSWERS_CURSOR, cursor)
        if len(data["answers"]) < page:
            break
    return count
