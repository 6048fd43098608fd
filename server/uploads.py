"""Consultations uploaded as spreadsheets on the dashboard (issue 17; the pages are
server/routes/upload.py): the .xlsx alone, or a .zip holding it with its images and map files.

    check(hub, content) -> Checked        the upload's limits, the spreadsheet's every problem
                                          (server.sheets), then the hub's own verdict (version,
                                          answers already stored); or a summary to confirm
    keep(hub, session_hash, checked)      kept server-side until "Import as version N", under a
                                          random token, for that staff session only, expiring
    import_kept(hub, session_hash, token) the import (Hub.import_bundle), once however often the
                                          form is sent

A .zip is hostile input until proven otherwise: its directory is read first (entries, declared
sizes, names, links, encryption) and nothing is unpacked before every entry passes; each entry is
then read no further than its declared size, checked against what its name says it is (images
decoded in full by Pillow under app.bundle's pixel limit), and written with a name this module
makes from the checked one, inside a private temporary folder deleted afterwards. Every refusal
is a SheetError holding one problem about the whole file: the page lists it like the sheet's.
"""
from __future__ import annotations

import hashlib
import io
import json
import posixpath
import secrets
import stat
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select, update

from app.bundle import (AUDIO_SUFFIXES, IMAGE_SUFFIXES, MAX_AUDIO_BYTES, MAX_IMAGE_BYTES,
                        MAX_TILES_BYTES, check_audio_bytes, check_image_bytes)
from app.canonical import canonical_json
from app.errors import N_, BundleError, DomainError
from app.kinds import QUESTION_KINDS
from app.model import Consultation
from app.paths import DEMO_BUNDLE_DIR

from . import db, ods
from .errors import HubError
from .content import incompatible_question
from .sheets import (MAX_FILE_BYTES, MAX_MAP_JSON_BYTES, SheetError, SheetProblem,
                     build_located)

MB = 1024 * 1024
UPLOAD_MAX_BYTES = 32 * MB        # the upload itself (server.body.Guard adds the form's slack)
FORM_SLACK = 64 * 1024            # multipart boundaries, headers, the CSRF and token fields
MAX_ENTRIES = 300                 # entries in the .zip's directory, folders included
MAX_UNPACKED = 128 * MB           # the entries' declared sizes, all together
MAX_NAME_CHARS = 200
KEEP_MINUTES = 30                 # between the check and "Import as version N"
MAX_KEPT = 5                      # uploads waiting per staff session (older ones are dropped)
IMPORT_WAIT_SECONDS = 30          # a second submit waits this long for the first to finish

_SHEET = ".xlsx"
_ODS = ".ods"                     # LibreOffice's own format, read as well (server/ods.py)
_SHEETS = (_SHEET, _ODS)
# Per kind of entry: the largest accepted, and what its bytes must be.
_ENTRY_LIMITS = {_SHEET: MAX_FILE_BYTES, _ODS: MAX_FILE_BYTES, ".json": MAX_MAP_JSON_BYTES,
                 ".geojson": MAX_MAP_JSON_BYTES, ".mbtiles": MAX_TILES_BYTES,
                 **{s: MAX_IMAGE_BYTES for s in IMAGE_SUFFIXES},
                 **{s: MAX_AUDIO_BYTES for s in AUDIO_SUFFIXES}}
_KIND_NAMES = {_SHEET: "XLSX", _ODS: "ODS", ".json": "JSON", ".geojson": "GeoJSON",
               ".mbtiles": "MBTiles",
               ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP",
               ".ogg": "OGG", ".wav": "WAV", ".mp3": "MP3"}
# What file systems and zip tools add by themselves; skipped, never unpacked.
_LITTER_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def _refusal(message: str, **params) -> SheetError:
    return SheetError([SheetProblem(None, None, None, message, params)])


def _megabytes(size: int) -> str:
    return f"{size / MB:.0f}"


# -- the upload's own checks -----------------------------------------------------------------------

def _is_litter(name: str) -> bool:
    base = posixpath.basename(name.rstrip("/")).lower()
    return (name.startswith("__MACOSX/") or base in _LITTER_NAMES or base.startswith("~$")
            or base.startswith("._"))


def _safe_name(name: str) -> str | None:
    """The entry's name when it stays inside the folder; None for an absolute path, a drive, a
    backslash, '..' or '.', an empty part, a control character or an overlong name."""
    if not name or len(name) > MAX_NAME_CHARS or "\\" in name or name.startswith("/"):
        return None
    if any(ord(ch) < 32 or ch == "\x7f" for ch in name):
        return None
    parts = name.rstrip("/").split("/")
    if ":" in parts[0] or any(part in ("", ".", "..") for part in parts):
        return None
    return "/".join(parts)


def _looks_like(suffix: str, data: bytes) -> bool:
    if suffix in _SHEETS:
        return data[:4] == b"PK\x03\x04"
    if suffix == ".mbtiles":
        return data[:16] == b"SQLite format 3\x00"
    if suffix in (".json", ".geojson"):
        try:
            json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return False
        return True
    return True     # images: check_image_bytes decodes them


def _is_workbook(archive: zipfile.ZipFile) -> bool:
    names = set(archive.namelist())
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def unpack(content: bytes, into: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """(the spreadsheet, the folder its image paths start from, the other files of the .zip
    with their checked bytes) from an upload, written under `into` for the spreadsheet's
    reader; SheetError with one problem when it is refused."""
    if not content:
        raise _refusal(N_("The file is empty: choose the spreadsheet (.xlsx or .ods), or a .zip "
                          "holding it and its images."))
    if len(content) > UPLOAD_MAX_BYTES:
        raise _refusal(N_("The file is too large: at most {limit} MB are accepted."),
                       limit=_megabytes(UPLOAD_MAX_BYTES))
    if content[:4] != b"PK\x03\x04" or not zipfile.is_zipfile(io.BytesIO(content)):
        raise _refusal(N_("This file is neither a spreadsheet (.xlsx, .ods) nor a .zip: save "
                          "the spreadsheet as .xlsx or .ods, or zip it with its images."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise _refusal(N_("The file is damaged and cannot be read: save or zip it again."))
    with archive:
        if _is_workbook(archive):       # the .xlsx alone: its images, if any, are missing
            if len(content) > MAX_FILE_BYTES:
                raise _refusal(N_("The spreadsheet is too large: at most {limit} MB."),
                               limit=_megabytes(MAX_FILE_BYTES))
            sheet = into / "consultation.xlsx"
            sheet.write_bytes(content)
            return sheet, into, {}
        if ods.is_ods(archive):         # LibreOffice's .ods alone
            if len(content) > MAX_FILE_BYTES:
                raise _refusal(N_("The spreadsheet is too large: at most {limit} MB."),
                               limit=_megabytes(MAX_FILE_BYTES))
            sheet = into / "consultation.ods"
            sheet.write_bytes(content)
            return sheet, into, {}
        entries = _checked_directory(archive)
        sheets = [name for name, _info in entries if name.lower().endswith(_SHEETS)]
        if not sheets:
            raise _refusal(N_("The .zip holds no spreadsheet (.xlsx or .ods)."))
        if len(sheets) > 1:
            raise _refusal(N_("The .zip holds several spreadsheets: {names}. Keep only one."),
                           names=", ".join(sorted(sheets)[:5]))
        others = _extract(archive, entries, into / "zip")
    sheet = into / "zip" / sheets[0]
    base = posixpath.dirname(sheets[0])
    images = sheet.parent
    # Named from the spreadsheet's folder, as its image column names them; a file outside
    # that folder keeps its name in the .zip (the sheet cannot name it; one inside wins a
    # clash of names).
    inside = {name: bool(base) and name.startswith(base + "/") for name in others}
    return sheet, images, {name[len(base) + 1:] if inside[name] else name: others[name]
                           for name in sorted(others, key=lambda n: (inside[n], n))}


def _checked_directory(archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    """The entries to unpack, (checked name, info), once every entry of the directory passed:
    count, declared sizes, names, links, kinds, encryption."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _refusal(N_("The .zip holds too many files: at most {limit}."), limit=MAX_ENTRIES)
    if sum(max(0, info.file_size) for info in infos) > MAX_UNPACKED:
        raise _refusal(N_("Unpacked, the .zip would be too large: at most {limit} MB."),
                       limit=_megabytes(MAX_UNPACKED))
    entries, seen = [], set()
    for info in infos:
        name = _safe_name(info.filename)
        if name is None and "\\" in info.filename:
            # Some Windows zip tools write images\p-bus.png: said so, with what to do.
            raise _refusal(N_("The .zip holds a name written with backslashes (\\), as some "
                              "Windows tools write them: {name}. Zip the folder again with "
                              "Windows' own \"Compressed (zipped) folder\", or 7-Zip."),
                           name=info.filename[:MAX_NAME_CHARS])
        if name is None:
            raise _refusal(N_("The .zip holds a name that is not accepted: {name}. Each file "
                              "must stay inside the folder (no absolute path, no '..')."),
                           name=info.filename[:MAX_NAME_CHARS])
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _refusal(N_("The .zip holds a link, not a file: {name}. Zip the files "
                              "themselves."), name=name)
        if info.flag_bits & 0x1:
            raise _refusal(N_("The .zip is protected by a password: zip the files without "
                              "one."))
        if info.is_dir() or _is_litter(info.filename):
            continue
        if name.lower() in seen:
            raise _refusal(N_("The .zip holds the file {name} twice."), name=name)
        seen.add(name.lower())
        suffix = posixpath.splitext(name)[1].lower()
        if suffix not in _ENTRY_LIMITS:
            raise _refusal(N_("The .zip holds a file that has no place in a consultation: "
                              "{name}. Only the spreadsheet (.xlsx or .ods), images (PNG, JPEG, "
                              "WebP) and map files (.json, .geojson, .mbtiles) are accepted."),
                           name=name)
        if info.file_size > _ENTRY_LIMITS[suffix]:
            raise _refusal(N_("The file {name} in the .zip is too large: at most {limit} MB."),
                           name=name, limit=_megabytes(_ENTRY_LIMITS[suffix]))
        entries.append((name, info))
    for name, _info in entries:      # `images/a.png` and `images/a.png/b.png`: no disk holds both
        parts = name.lower().split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in seen:
                clash = next(n for n, _i in entries if n.lower() == folder)
                raise _refusal(N_("The .zip holds {name} both as a file and as a folder: "
                                  "rename one of them."), name=clash)
    return entries


def _extract(archive: zipfile.ZipFile, entries, root: Path) -> dict[str, bytes]:
    """Write each entry under `root` (read no further than its declared size, checked against
    its kind); return the files other than spreadsheets, {name: bytes}."""
    others = {}
    for name, info in entries:
        suffix = posixpath.splitext(name)[1].lower()
        try:
            with archive.open(info) as f:
                data = f.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
                RuntimeError):
            raise _refusal(N_("The file {name} in the .zip is damaged and cannot be read: "
                              "zip it again."), name=name) from None
        if len(data) != info.file_size or not _looks_like(suffix, data):
            raise _refusal(N_("The file {name} in the .zip is not what its name says: a "
                              "{kind} file is expected."), name=name, kind=_KIND_NAMES[suffix])
        if suffix in IMAGE_SUFFIXES:
            check_image_bytes(data, name)    # BundleError: not an image, too many pixels
        elif suffix in AUDIO_SUFFIXES:
            check_audio_bytes(data, name)    # recordings (issue 31)
        target = root.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out:
            out.write(data)
        if suffix not in _SHEETS:
            others[name] = data
    return others


def demo_zip() -> bytes:
    """The demo consultation as staff upload one: consultation.xlsx, images/ and map/."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(DEMO_BUNDLE_DIR.rglob("*")):
            rel = path.relative_to(DEMO_BUNDLE_DIR).as_posix()
            if path.is_file() and (rel == "consultation.xlsx"
                                   or rel.startswith(("images/", "map/"))):
                archive.write(path, rel)
    return out.getvalue()


# -- the check ---------------------------------------------------------------------------------

@dataclass
class Checked:
    """An upload checked: `problems` (with `count`, listed or not), or the bundle to import
    (`bundle`, `files`) and its `summary`, with the sheet's `warnings` either way."""
    problems: list[SheetProblem] = field(default_factory=list)
    count: int = 0
    bundle: dict | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    warnings: list[SheetProblem] = field(default_factory=list)   # shown; the import goes on


# A map drawn at upload: fewer tiles than `map build` may draw (about 10 s of one core).
UPLOAD_MAX_TILES = 800
_MAP_DIR = "map"


def draw_map(images: Path, others: dict[str, bytes]) -> list[str]:
    """A .zip with GeoJSON in map/ and no map/map.json: the map drawn here as `python -m server
    map build` draws it (areas named from their usual properties, the credit from the file),
    written beside them and added to `others`. Returns the GeoJSON files used (none when
    there is nothing to draw); SheetError when they are refused."""
    from .mapbuild import (ID_PROPERTIES, NAME_PROPERTIES, SECTION_FILE, TILES_FILE,
                           MapBuildError, build_map)
    sources = sorted(name for name in others if posixpath.dirname(name) == _MAP_DIR
                     and name.lower().endswith(".geojson"))
    if not sources or f"{_MAP_DIR}/{SECTION_FILE}" in others:
        return []
    messages = {
        N_("The file gives no attribution: give the credit its licence requires with "
           "--attribution \"…\"."):
        N_("The GeoJSON file {file} gives no attribution: add to it an \"attribution\" member "
           "with the credit its licence requires."),
        N_("Feature {number} has none of the properties {names}: name the property that holds "
           "the areas' names with --name (found: {found})."):
        N_("In {file}, feature {number} has none of the properties {names}: rename the "
           "property that holds the areas' names (found: {found})."),
    }
    try:
        build_map([images / name for name in sources], images / _MAP_DIR,
                  name_props=list(NAME_PROPERTIES), id_props=list(ID_PROPERTIES),
                  max_tiles=UPLOAD_MAX_TILES)
    except MapBuildError as exc:
        message = messages.get(exc.message, exc.message)
        params = dict(exc.params)
        if message != exc.message:
            params["file"] = f"{_MAP_DIR}/{exc.file}"
        raise _refusal(message, **params) from None
    for name in (SECTION_FILE, TILES_FILE):
        others[f"{_MAP_DIR}/{name}"] = (images / _MAP_DIR / name).read_bytes()
    return sources


# The files a spreadsheet names, missing because it was sent alone rather than in a .zip.
_FILE_MISSING = (N_("The image {path} is missing."), N_("The map file {path} is missing."))
_SEND_A_ZIP = N_("The spreadsheet names images or map files that were not sent with it: "
                 "upload a .zip holding the spreadsheet and those files, in the folders the "
                 "spreadsheet names.")


def _with_zip_advice(problems: list[SheetProblem], alone: bool) -> list[SheetProblem]:
    """A spreadsheet sent alone whose files are missing: what to do first, above the list."""
    if alone and any(p.message in _FILE_MISSING for p in problems):
        return [SheetProblem(None, None, None, _SEND_A_ZIP), *problems]
    return problems


def check(hub, content: bytes) -> Checked:
    """Everything the import will check, and the hub's verdict, without importing."""
    with tempfile.TemporaryDirectory(prefix="piazzetta-upload-") as tmp:
        sheet = None
        try:
            sheet, images, others = unpack(content, Path(tmp))
            drawn_from = draw_map(images, others)
            data, rels, where, consultation, warnings = build_located(sheet, images)
        except SheetError as exc:
            alone = sheet is not None and sheet.parent == Path(tmp)
            return Checked(problems=_with_zip_advice(exc.problems, alone), count=exc.count,
                           warnings=exc.warnings)
        except BundleError as exc:      # an image of the .zip that is not one
            problem = SheetProblem(None, None, None, exc.message, exc.params)
            return Checked(problems=[problem], count=1)
    # The bytes checked when the .zip was read, not read back from the disk.
    files = {rel: others[rel] for rel in rels}
    unused = sorted(name for name in others if name not in files and name not in drawn_from)
    problems, current, same = _against_hub(hub, consultation, data, where)
    if problems:
        return Checked(problems=problems, count=len(problems), warnings=warnings)
    return Checked(bundle=data, files=files, warnings=warnings,
                   summary=summary(consultation, files, current, same, unused))


def _against_hub(hub, consultation: Consultation, data: dict, where):
    """(problems, the current version on the hub or None, True when this very version is
    already there): the rules Hub.import_bundle applies, told before importing."""
    current = hub.consultation(consultation.id)
    if current is None:
        return [], None, False
    found = hub.bundle_json(consultation.id)
    same = found is not None and found[0] == db.sha256(canonical_json(data))
    if consultation.version < current.version or (
            consultation.version == current.version and not same):
        return [where("consultation", "version", N_(
            "Version {version} of this consultation is already on the hub: give the "
            "spreadsheet version {next} or more."), version=current.version,
            next=current.version + 1)], current, same
    if same:
        return [], current, True
    with hub.engine.connect() as conn:
        misfit = incompatible_question(conn, consultation)
    if misfit is not None:
        index = next(i for i, q in enumerate(consultation.questions) if q.id == misfit)
        return [where(f"consultation.questions[{index}]", "id", N_(
            "Answers or counts already received for the question {question} do not fit it "
            "any more: keep its kind, options and projects, or give the changed question a "
            "new ID."), question=misfit)], current, same
    return [], current, False


def summary(consultation: Consultation, files: dict[str, bytes], current, same: bool,
            unused: list[str]) -> dict:
    kinds = Counter(q.kind for q in consultation.questions)
    tiles = consultation.map.tiles if consultation.map is not None else None
    return {
        "id": consultation.id, "version": consultation.version, "status": consultation.status,
        "title": {lang: consultation.title.get(lang, "") for lang in consultation.languages},
        "languages": list(consultation.languages),
        "questions": len(consultation.questions),
        "kinds": [(kind, kinds[kind]) for kind in QUESTION_KINDS if kinds[kind]],
        "themes": len(consultation.themes), "projects": len(consultation.projects),
        "images": len([rel for rel in files if Path(rel).suffix.lower() in IMAGE_SUFFIXES]),
        "map": consultation.map is not None,
        "areas": len(consultation.map.areas) if consultation.map is not None else 0,
        "base_map": tiles in files if tiles else False,
        "sites": [dict(site.name) for site in consultation.sites],
        "meetings": len(consultation.meetings),
        "opens_on": consultation.opens_on, "closes_on": consultation.closes_on,
        "current_version": current.version if current is not None else None,
        "current_title": dict(current.title) if current is not None else None,
        "same": same, "unused": unused[:20], "unused_more": max(0, len(unused) - 20),
    }


# -- kept between the check and the import -------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _pack(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for rel, content in sorted(files.items()):
            archive.writestr(rel, content)
    return out.getvalue()


def _unpack_kept(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def sweep(hub) -> int:
    """Delete the expired uploads, content and all; how many went."""
    with hub.writer.begin() as conn:
        return conn.execute(delete(db.sheet_uploads).where(
            db.sheet_uploads.c.expires_at <= time.time())).rowcount or 0


def keep(hub, session_hash: str, checked: Checked) -> str:
    """Keep a checked upload for its session; return the token its import form carries.
    Expired uploads (of every session) go, and this session's oldest beyond MAX_KEPT."""
    token, now = secrets.token_urlsafe(32), time.time()
    t = db.sheet_uploads
    with hub.writer.begin() as conn:
        conn.execute(delete(t).where(t.c.expires_at <= now))
        waiting = conn.execute(select(t.c.token_hash).where(
            t.c.session_hash == session_hash, t.c.state == "ready")
            .order_by(t.c.expires_at.desc())).scalars().all()
        for old in waiting[MAX_KEPT - 1:]:
            conn.execute(delete(t).where(t.c.token_hash == old))
        conn.execute(t.insert(), [{
            "token_hash": _hash(token), "session_hash": session_hash,
            "expires_at": now + KEEP_MINUTES * 60, "state": "ready",
            "consultation_id": checked.summary["id"], "version": checked.summary["version"],
            "bundle": canonical_json(checked.bundle), "files": _pack(checked.files)}])
    return token


def gone() -> HubError:
    return HubError(N_("This check has expired or belongs to another session: upload the "
                       "file again."), status=410, code="upload_gone")


def import_kept(hub, session_hash: str, token: str) -> tuple[str, int, bool]:
    """Import the upload kept under `token` for this session: (consultation id, version,
    True when this call imported it; False when an earlier submit of the same form did).
    HubError 410 when there is no such upload for this session (expired, another session's,
    never made); the hub's own refusal (HubError, BundleError) when the import fails, after
    which the upload is gone too."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise gone()
    t, key = db.sheet_uploads, _hash(token)
    deadline = time.monotonic() + IMPORT_WAIT_SECONDS
    while True:
        with hub.writer.begin() as conn:
            row = conn.execute(select(t).where(t.c.token_hash == key)).first()
            if row is None or row.session_hash != session_hash or row.expires_at <= time.time():
                raise gone()
            claimed = row.state == "ready" and conn.execute(
                update(t).where(t.c.token_hash == key, t.c.state == "ready")
                .values(state="importing")).rowcount == 1
        if claimed:
            break
        if row.state == "imported":
            return row.consultation_id, row.version, False
        if time.monotonic() > deadline:
            raise gone()
        time.sleep(0.2)           # the first submit is importing it: show its outcome
    try:
        hub.import_bundle(json.loads(row.bundle), _unpack_kept(row.files))
    except DomainError:
        with hub.writer.begin() as conn:
            conn.execute(delete(t).where(t.c.token_hash == key))
        raise
    except BaseException:
        with hub.writer.begin() as conn:
            conn.execute(update(t).where(t.c.token_hash == key).values(state="ready"))
        raise
    with hub.writer.begin() as conn:
        conn.execute(update(t).where(t.c.token_hash == key).values(
            state="imported", bundle=None, files=None))
    return row.consultation_id, row.version, True
