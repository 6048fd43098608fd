"""Consultation bundles: a versioned JSON file (`bundle.json`) with its images beside it.

The hub serves bundles to tablets; the demo consultation ships as one in `assets/demo/`.
`load_bundle` validates everything before returning: a bundle that is not valid raises
BundleError naming the file and the field, and nothing is loaded.
The format is described in docs/bundle-format.md.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import threading
import time
from pathlib import Path
from typing import Any

from .errors import N_, BundleError
from .geo import Shape, bbox_contains, is_coordinate, is_position, ring_area, tms_row
from .identifiers import is_content_id
from .kinds import KINDS, QUESTION_KINDS
from .model import (BALLOT_MODES, LANGUAGES, STATUSES, Consultation, ConsultationMap, MapArea,
                    Meeting, Project, Question, Site, Theme)

FORMAT = "piazzetta-bundle"
FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# A decoded image bigger than this is refused (a small file can decode to gigabytes); a
# 12-megapixel phone photo fits, and tablets show 1280×800.
MAX_IMAGE_PIXELS = 16_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# Recordings of questions and options (issue 31): a sentence or two, read by a human voice.
AUDIO_SUFFIXES = (".ogg", ".wav", ".mp3")
MAX_AUDIO_BYTES = 4 * 1024 * 1024
_IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "MPO"}
# The formats a name's suffix may hold (the hub serves the file as the type its name says).
_FORMATS_BY_SUFFIX = {".png": {"PNG"}, ".jpg": {"JPEG", "MPO"}, ".jpeg": {"JPEG", "MPO"},
                      ".webp": {"WEBP"}}
MAX_INT = 10 ** 12

# The map (docs/bundle-format.md, "Map"): bounds on what a bundle can make a tablet hold.
MAX_TILES_BYTES = 64 * 1024 * 1024
MAX_TILE_BYTES = 1024 * 1024
TILE_PIXELS = 256
TILE_FORMATS = ("png", "jpg")
MAX_ZOOM = 22
MAX_MAP_AREAS = 500
MAX_MAP_POSITIONS = 200_000
MAX_EXPORT_DECIMALS = 4
MAX_SNAP_METRES = 1000
DEFAULT_EXPORT_DECIMALS = 3
_SQLITE_HEADER = b"SQLite format 3\x00"
# A hostile MBTiles file could hold views that never finish: each check gets this long.
_TILES_CHECK_SECONDS = 5.0


def load_bundle(path: str | Path, *, check_images: bool = True) -> Consultation:
    """Load and validate the bundle in folder `path` (or the `bundle.json` file itself)."""
    path = Path(path)
    folder, file = (path.parent, path) if path.suffix == ".json" else (path, path / BUNDLE_FILE)
    try:
        raw = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(N_("The bundle file is missing."), str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(N_("The bundle file cannot be read: {reason}"), str(file),
                          reason=str(exc)) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BundleError(N_("The bundle is not valid JSON: {reason}"), str(file),
                          reason=f"{exc.msg}, line {exc.lineno}") from None
    return parse_bundle(data, file=str(file), folder=folder if check_images else None)


def installed_bundles(data_dir: str | Path, demo_dir: Path | None = None
                      ) -> list[tuple[Consultation, Path]]:
    """The consultations a tablet can show: those sync pulled into `<data_dir>/bundles/`
    (newest first) and the demo. Each was checked whole when installed, so images are not
    decoded again here; a folder that does not load is left out."""
    from .bundle_folders import consultation_folders
    from .paths import DEMO_BUNDLE_DIR
    # Not the folders sync works in (`.<id>.<hex>.tmp`, a replaced `.old`, a new version
    # waiting for the screens to let go of the one shown: `.<id>.next`); a version waiting
    # for a folder no screen reads any longer takes its place first.
    folders = consultation_folders(Path(data_dir) / "bundles")
    pulled = sorted((f for f in folders if (f / BUNDLE_FILE).is_file()),
                    key=lambda f: (f / BUNDLE_FILE).stat().st_mtime, reverse=True)
    found, seen = [], set()
    for folder in pulled + [demo_dir or DEMO_BUNDLE_DIR]:
        try:
            consultation = load_bundle(folder, check_images=False)
        except BundleError:
            continue
        if consultation.id not in seen:
            seen.add(consultation.id)
            found.append((consultation, folder))
    return found


# The SHA-256 of the last images check_image_bytes passed: an uploaded image is checked where
# it arrives (the .zip), by the spreadsheet's image column, by the bundle's parser and at the
# import; it is decoded the first time only. Bounded; a digest names bytes, not a path.
_PASSED_IMAGES: dict[bytes, None] = {}
_PASSED_MAX = 512
_passed_lock = threading.Lock()


def check_image_bytes(data: bytes, rel: str) -> None:
    """Refuse what is not a PNG, JPEG or WebP image of at most MAX_IMAGE_BYTES and
    MAX_IMAGE_PIXELS: BundleError naming `rel`. The whole image is decoded, so a file that only
    starts like an image is refused too — once per content: the same bytes again (their
    SHA-256) pass without a second decoding."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BundleError(N_("The image {path} is too large."), rel, path=rel)
    # The same bytes under another kind's name are checked again (their kind is part of it).
    digest = hashlib.sha256(Path(rel).suffix.lower().encode() + b"|" + data).digest()
    with _passed_lock:
        if digest in _PASSED_IMAGES:
            return
    _decode_image(data, rel)
    with _passed_lock:
        _PASSED_IMAGES[digest] = None
        while len(_PASSED_IMAGES) > _PASSED_MAX:
            del _PASSED_IMAGES[next(iter(_PASSED_IMAGES))]


def _decode_image(data: bytes, rel: str) -> None:
    import io
    import warnings
    from PIL import Image, UnidentifiedImageError
    too_many = BundleError(N_("The image {path} has too many pixels: at most {max} million."),
                           rel, path=rel, max=MAX_IMAGE_PIXELS // 1_000_000)
    not_an_image = BundleError(N_("The image {path} is not a PNG, JPEG or WebP picture."), rel,
                               path=rel)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in _FORMATS_BY_SUFFIX.get(Path(rel).suffix.lower(),
                                                             _IMAGE_FORMATS):
                    raise not_an_image
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise too_many
                img.load()          # decodes it all: a truncated file fails here
                if not _image_ends_at_its_end(img.format, data):
                    raise not_an_image
    except BundleError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None
    except UnidentifiedImageError:
        raise not_an_image from None
    except Exception:
        raise BundleError(N_("The image {path} is broken."), rel, path=rel) from None


def _image_ends_at_its_end(image_format: str, data: bytes) -> bool:
    """A PNG's last chunk (IEND) or a WebP's RIFF size ends the file: a page or an archive
    appended to a picture is not decoded, so not checked. (A JPEG may carry more after its
    end: a phone's other pictures, MPO.)"""
    if image_format == "PNG":
        return data.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")
    if image_format == "WEBP":
        return len(data) >= 8 and struct.unpack_from("<I", data, 4)[0] + 8 in (
            len(data), len(data) - 1)
    return True


def _bundle_file(folder: str | Path, rel: str, *, expected: str, link: str,
                 missing: str) -> Path:
    """The path of file `rel` of the bundle in `folder`, checked: inside the folder (no
    absolute path, no `..`, no symbolic link anywhere on the way, nothing that resolves
    outside) and a regular file. The three msgids say what is refused (an image, a map file)."""
    folder = Path(folder)
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or rel.startswith(("/", "\\")) or ".." in parts:
        raise BundleError(expected, rel)
    current = folder
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise BundleError(link, rel, path=rel)
    path = folder / rel
    try:
        inside = path.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
    except (OSError, RuntimeError):
        raise BundleError(missing, rel, path=rel) from None
    if not inside:
        raise BundleError(link, rel, path=rel)
    if not path.is_file():
        raise BundleError(missing, rel, path=rel)
    return path


def read_bundle_image(folder: str | Path, rel: str) -> bytes:
    """The bytes of image `rel` of the bundle in `folder`, checked: a path inside the folder
    (no absolute path, no `..`, no symbolic link anywhere on the way, nothing that resolves
    outside), a regular file, and an image (check_image_bytes). BundleError names the file."""
    path = _bundle_file(
        folder, rel,
        expected=N_("An image path inside the bundle (PNG, JPEG or WebP) is expected."),
        link=N_("The image {path} is a link to another file: copy the image itself into the "
                "bundle."),
        missing=N_("The image {path} is missing."))
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise BundleError(N_("The image {path} is too large."), rel, path=rel)
    data = path.read_bytes()
    check_image_bytes(data, rel)
    return data


def is_audio_path(value: Any) -> bool:
    """A relative path, inside the bundle, of an audio file by its name (OGG, WAV, MP3)."""
    return isinstance(value, str) and bool(value) and not value.startswith(("/", "\\")) \
        and ".." not in Path(value).parts and Path(value).suffix.lower() in AUDIO_SUFFIXES


def check_audio_bytes(data: bytes, rel: str) -> None:
    """Refuse what is not an OGG, WAV or MP3 file of at most MAX_AUDIO_BYTES, of the kind its
    name says (the hub serves it with that content type): BundleError naming `rel`. Read as
    far as the standard library can: a WAV's header and the length it declares (`wave`), an
    OGG's chain of pages to the file's last byte (Vorbis or Opus in its first), an MP3's
    ID3 tag and then MPEG audio frames following one another (not their CRCs or samples)."""
    if len(data) > MAX_AUDIO_BYTES:
        raise BundleError(N_("The recording {path} is too large: at most {max} MB."), rel,
                          path=rel, max=MAX_AUDIO_BYTES // (1024 * 1024))
    whole = {".ogg": _ogg_is_whole, ".wav": _wav_is_whole, ".mp3": _mp3_is_whole}.get(
        Path(rel).suffix.lower())
    if whole is None or not whole(data):
        raise BundleError(N_("The recording {path} is not an OGG, WAV or MP3 file."), rel,
                          path=rel)


def _wav_is_whole(data: bytes) -> bool:
    import io
    import wave
    if not (data.startswith(b"RIFF") and data[8:12] == b"WAVE"):
        return False
    if not _riff_chunks_fill(data):
        return False
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            frames, width, channels = wav.getnframes(), wav.getsampwidth(), wav.getnchannels()
            rate = wav.getframerate()
            sound = wav.readframes(frames)
    except (wave.Error, EOFError, ValueError, struct.error):
        return False
    return frames > 0 and 0 < rate <= 384000 and len(sound) == frames * width * channels


def _riff_chunks_fill(data: bytes) -> bool:
    """Every byte after `RIFF….WAVE` belongs to a chunk (`wave` stops at the samples: bytes
    after them, a page or an archive, passed unread)."""
    position = 12
    while position + 8 <= len(data):
        size = struct.unpack_from("<I", data, position + 4)[0]
        position += 8 + size + (size & 1)
    return position in (len(data), len(data) + 1)     # the last pad byte may be missing


def _ogg_is_whole(data: bytes) -> bool:
    position, pages = 0, 0
    while position < len(data):
        header = data[position:position + 27]
        if len(header) < 27 or not header.startswith(b"OggS") or header[4] != 0:
            return False
        segments = header[26]
        table = data[position + 27:position + 27 + segments]
        if len(table) < segments:
            return False
        body = position + 27 + segments
        if pages == 0 and not (header[5] & 0x02 and (data[body:body + 7] == b"\x01vorbis"
                                                    or data[body:body + 8] == b"OpusHead")):
            return False
        position = body + sum(table)
        pages += 1
    return pages > 0 and position == len(data)


# MPEG audio layer III: kbit/s by bitrate index (MPEG-1; MPEG-2 and 2.5), Hz by rate index.
_MP3_BITRATES = ((0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
                 (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160))
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_length(data: bytes, position: int) -> int:
    """The length of the layer III frame whose header starts at `position`; 0: none there."""
    head = data[position:position + 4]
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return 0
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
        return 0
    kbits = _MP3_BITRATES[version != 3][bitrate]
    per = 144 if version == 3 else 72
    return per * kbits * 1000 // _MP3_RATES[version][rate] + ((head[2] >> 1) & 1)


def _mp3_is_whole(data: bytes) -> bool:
    position = 0
    if data.startswith(b"ID3"):
        if len(data) < 10 or any(b & 0x80 for b in data[6:10]):
            return False
        size = 0             # syncsafe: 7 bits a byte
        for b in data[6:10]:
            size = size << 7 | b
        position = 10 + size + (10 if data[5] & 0x10 else 0)
    frames = 0
    while position < len(data):
        length = _mp3_frame_length(data, position)
        if length == 0:
            # Only trailing tags (APEv2, then ID3v1) may follow the frames, nothing after them.
            return frames >= 2 and _mp3_tags_fill(data[position:])
        position += length
        frames += 1
    # Every frame followed by the next one; the last may be cut short (tools that trim).
    return frames >= 2 or (frames == 1 and position == len(data))


def _mp3_tags_fill(tail: bytes) -> bool:
    """Whether `tail` is an APEv2 tag (by the size its footer declares), an ID3v1 tag (128
    bytes, "TAG") or the one then the other: a tag's name followed by anything passed before."""
    if len(tail) >= 128 and tail[-128:].startswith(b"TAG"):
        tail = tail[:-128]
    if not tail:
        return True
    footer = tail[-32:]
    if len(footer) < 32 or not footer.startswith(b"APETAGEX"):
        return False
    size, _items, flags = struct.unpack_from("<III", footer, 12)
    return len(tail) == size + (32 if flags & 0x80000000 else 0)


def read_bundle_audio(folder: str | Path, rel: str) -> bytes:
    """The bytes of recording `rel` of the bundle in `folder`, checked as images are (a
    regular file inside the folder, no link) and by check_audio_bytes."""
    path = _bundle_file(
        folder, rel,
        expected=N_("An audio file inside the bundle (OGG, WAV or MP3) is expected."),
        link=N_("The recording {path} is a link to another file: copy the file itself into "
                "the bundle."),
        missing=N_("The recording {path} is missing."))
    with open(path, "rb") as f:
        data = f.read(MAX_AUDIO_BYTES + 1)
    check_audio_bytes(data, rel)
    return data


def read_bundle_media(folder: str | Path, rel: str) -> bytes:
    """An image or a recording of the bundle, by its name, checked."""
    return read_bundle_audio(folder, rel) if is_audio_path(rel) else read_bundle_image(folder, rel)


def check_media_bytes(data: bytes, rel: str) -> None:
    check_audio_bytes(data, rel) if is_audio_path(rel) else check_image_bytes(data, rel)


def _map_file(folder: str | Path, rel: str) -> Path:
    path = _bundle_file(
        folder, rel,
        expected=N_("A map file path inside the bundle (.mbtiles) is expected."),
        link=N_("The map file {path} is a link to another file: copy the file itself into the "
                "bundle."),
        missing=N_("The map file {path} is missing."))
    if path.stat().st_size > MAX_TILES_BYTES:
        raise BundleError(N_("The map file {path} is too large."), rel, path=rel)
    with open(path, "rb") as f:
        if f.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            raise BundleError(N_("The map file {path} is not an MBTiles (SQLite) database."),
                              rel, path=rel)
    return path


def _open_tiles_database(path: Path, *, seconds: float | None = None,
                         same_thread: bool = True) -> sqlite3.Connection:
    # Read-only and immutable: nothing is ever written to a bundle, and no lock or journal
    # file appears beside it. The file comes from outside: no trusted schema functions, and
    # a query that runs too long is stopped.
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True,
                           check_same_thread=same_thread)
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.execute("PRAGMA query_only = ON")
    if seconds is not None:
        deadline = time.monotonic() + seconds
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    return conn


def check_map_tiles(folder: str | Path, rel: str) -> tuple[int, int]:
    """Check the base map `rel` of the bundle in `folder` and return the lowest and highest
    zoom levels it holds. Refused with BundleError naming the file: a path that is not a
    regular file inside the bundle (read_bundle_image's rules), a file over MAX_TILES_BYTES,
    one that is not SQLite, without the MBTiles `metadata` and `tiles` tables, whose
    metadata `format` is not png or jpg, that holds no tiles, or a zoom level whose first tile
    is not a 256×256 PNG or JPEG image."""
    path = _map_file(folder, rel)
    conn = None
    try:
        conn = _open_tiles_database(path, seconds=_TILES_CHECK_SECONDS)
        names = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name IN ('metadata', 'tiles')")}
        if names != {"metadata", "tiles"}:
            raise BundleError(N_("The map file {path} lacks the MBTiles tables metadata and "
                                 "tiles."), rel, path=rel)
        metadata = {}
        for name, value in conn.execute("SELECT name, value FROM metadata LIMIT 1000"):
            metadata[name] = value
        if metadata.get("format") not in TILE_FORMATS:
            raise BundleError(N_("The map file {path} must give its tiles' format (png or "
                                 "jpg) in its metadata."), rel, path=rel)
        low, high = conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        if not isinstance(low, int) or not isinstance(high, int):
            raise BundleError(N_("The map file {path} holds no tiles."), rel, path=rel)
        if low < 0 or high > MAX_ZOOM:
            raise BundleError(N_("A zoom level from 0 to 22 is expected here."), rel)
        for zoom in range(low, high + 1):
            row = conn.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? LIMIT 1",
                               (zoom,)).fetchone()
            if row is None or not _is_tile_image(row[0]):
                raise BundleError(N_("A tile of the map file {path} at zoom {zoom} is not a "
                                     "256-pixel PNG or JPEG image."), rel, path=rel, zoom=zoom)
        return low, high
    except sqlite3.DatabaseError:
        raise BundleError(N_("The map file {path} is not an MBTiles (SQLite) database."),
                          rel, path=rel) from None
    finally:
        if conn is not None:
            conn.close()


def _is_tile_image(data: Any) -> bool:
    if not isinstance(data, bytes) or not data or len(data) > MAX_TILE_BYTES:
        return False
    import io
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG", "MPO") or img.size != (TILE_PIXELS,
                                                                        TILE_PIXELS):
                return False
            img.load()
    except Exception:
        return False
    return True


class MapTiles:
    """The base map's tiles, read from a bundle's MBTiles file (open_map_tiles). One
    read-only connection that any thread may use (a lock serialises reads), so a widget can
    decode tiles off the UI thread. Rows are XYZ (y from the north) here; the file's TMS rows
    are turned round inside."""

    def __init__(self, path: Path):
        self.path = path
        self._conn = _open_tiles_database(path, same_thread=False)
        self._lock = threading.Lock()

    def tile(self, zoom: int, x: int, y: int) -> bytes | None:
        """The encoded image (PNG or JPEG) of XYZ tile (x, y) at `zoom`, or None."""
        if zoom < 0 or not (0 <= x < 2 ** zoom and 0 <= y < 2 ** zoom):
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ?"
                " AND tile_row = ?", (zoom, x, tms_row(y, zoom))).fetchone()
        return row[0] if row and isinstance(row[0], bytes) else None

    def metadata(self) -> dict[str, str]:
        """The MBTiles metadata (name, format, bounds, attribution…), as text."""
        with self._lock:
            return {str(k): str(v) for k, v in
                    self._conn.execute("SELECT name, value FROM metadata LIMIT 1000")}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "MapTiles":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_map_tiles(folder: str | Path, consultation_map: ConsultationMap) -> MapTiles:
    """The base map of the bundle in `folder` for reading tiles, after the path checks of
    read_bundle_image (the whole file was checked when the bundle was loaded or installed)."""
    return MapTiles(_map_file(folder, consultation_map.tiles))


def bundle_files(consultation: Consultation) -> list[str]:
    """Every file of the bundle that goes with its bundle.json (images, recordings, the base
    map), as paths inside the bundle, sorted: what a hub stores and serves to tablets."""
    paths = [consultation.image] + [p.image for p in consultation.projects]
    for question in consultation.questions:
        paths += list(question.audio.values())
        for option in question.options:
            paths += [option.image, *option.audio.values()]
    if consultation.map is not None:
        paths.append(consultation.map.tiles)
    return sorted({p for p in paths if p})


def parse_bundle(data: Any, *, file: str = BUNDLE_FILE, folder: Path | None = None) -> Consultation:
    """Validate bundle data already decoded from JSON. Images are checked when `folder` is set."""
    return _Parser(file, folder).bundle(data)


class _Parser:
    def __init__(self, file: str, folder: Path | None):
        self.file = file
        self.folder = folder
        self.languages: tuple[str, ...] = ()
        self.consultation_map: ConsultationMap | None = None
        self.positions = 0

    def fail(self, message: str, field: str, **params) -> BundleError:
        return BundleError(message, self.file, field, **params)

    def obj(self, value: Any, field: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(N_("An object is expected here."), field)
        return value

    def list(self, value: Any, field: str, *, required: bool = True) -> list:
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise self.fail(N_("A list is expected here."), field)
        return value

    def ident(self, value: Any, field: str) -> str:
        if not is_content_id(value):
            raise self.fail(N_("An identifier (letters, digits, - _ .) is expected here."), field)
        return value

    def int(self, value: Any, field: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(N_("A whole number of at least {min} is expected here."), field,
                            min=minimum)
        if value > MAX_INT:  # SQLite stores 64-bit integers; budgets and versions stay far below
            raise self.fail(N_("This number is too large."), field)
        return value

    def text(self, value: Any, field: str, *, required: bool = True,
             languages: tuple[str, ...] | None = None) -> dict:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(N_("A text in each language is expected here."), field)
        for lang, text in value.items():
            if lang not in LANGUAGES:
                raise self.fail(N_("Unknown language: {lang}."), f"{field}.{lang}", lang=lang)
            if not isinstance(text, str):
                raise self.fail(N_("A text is expected here."), f"{field}.{lang}")
        for lang in self.languages if languages is None else languages:
            if not (value.get(lang) or "").strip():
                raise self.fail(N_("The translation in {lang} is missing."), f"{field}.{lang}",
                                lang=lang)
        return dict(value)

    def unique(self, items: list, field: str) -> None:
        seen = set()
        for index, item in enumerate(items):
            if item.id in seen:
                raise self.fail(N_("Duplicate identifier: {id}."), f"{field}[{index}].id",
                                id=item.id)
            seen.add(item.id)

    def image(self, value: Any, field: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value or value.startswith(("/", "\\")) \
                or ".." in Path(value).parts or Path(value).suffix.lower() not in IMAGE_SUFFIXES:
            raise self.fail(N_("An image path inside the bundle (PNG, JPEG or WebP) is expected."),
                            field)
        if self.folder is not None:
            try:
                read_bundle_image(self.folder, value)
            except BundleError as exc:
                raise self.fail(exc.message, field, **exc.params) from None
        return value

    def easy_text(self, value: Any, field: str) -> dict:
        """An easy-read variant: any of the consultation's languages (the usual words stand in
        for a missing one)."""
        return self.text(value, field, required=False, languages=())

    def audio(self, value: Any, field: str) -> dict:
        """Recordings per language: {lang: path of an audio file inside the bundle}."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(N_("A recording per language is expected here."), field)
        for lang, path in value.items():
            if lang not in LANGUAGES:
                raise self.fail(N_("Unknown language: {lang}."), f"{field}.{lang}", lang=lang)
            if not is_audio_path(path):
                raise self.fail(N_("An audio file inside the bundle (OGG, WAV or MP3) is "
                                   "expected."), f"{field}.{lang}")
            if self.folder is not None:
                try:
                    read_bundle_audio(self.folder, path)
                except BundleError as exc:
                    raise self.fail(exc.message, f"{field}.{lang}", **exc.params) from None
        return dict(value)

    def bundle(self, data: Any) -> Consultation:
        data = self.obj(data, "$")
        if data.get("format") != FORMAT:
            raise self.fail(N_("This is not a Piazzetta bundle."), "format")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise self.fail(N_("Unsupported bundle format version: {version}."),
                            "format_version", version=version)
        c = self.obj(data.get("consultation"), "consultation")
        langs = self.list(c.get("languages"), "consultation.languages")
        if not langs or any(lang not in LANGUAGES for lang in langs) or len(set(langs)) != len(langs):
            raise self.fail(N_("Languages must be listed once each, among fr, it, en."),
                            "consultation.languages")
        self.languages = tuple(langs)
        status = c.get("status", "open")
        if status not in STATUSES:
            raise self.fail(N_("Unknown status: {status}."), "consultation.status", status=status)
        themes = [Theme(self.ident(t.get("id"), f"consultation.themes[{i}].id"),
                        self.text(t.get("title"), f"consultation.themes[{i}].title"))
                  for i, t in enumerate(self.objs(c.get("themes"), "consultation.themes"))]
        self.unique(themes, "consultation.themes")
        theme_ids = {t.id for t in themes}
        projects = [self.project(p, f"consultation.projects[{i}]", theme_ids)
                    for i, p in enumerate(self.objs(c.get("projects"), "consultation.projects",
                                                     required=False))]
        self.unique(projects, "consultation.projects")
        by_id = {p.id: p for p in projects}
        self.consultation_map = self.map(c.get("map"), "consultation.map")
        questions = [self.question(q, f"consultation.questions[{i}]", by_id, theme_ids)
                     for i, q in enumerate(self.objs(c.get("questions"), "consultation.questions"))]
        if not questions:
            raise self.fail(N_("A consultation needs at least one question."),
                            "consultation.questions")
        self.unique(questions, "consultation.questions")
        sites = [Site(self.ident(s.get("id"), f"sites[{i}].id"),
                      self.text(s.get("name"), f"sites[{i}].name"),
                      str(s.get("town", "")))
                 for i, s in enumerate(self.objs(data.get("sites"), "sites", required=False))]
        self.unique(sites, "sites")
        site_ids = {s.id for s in sites}
        meetings = []
        for i, m in enumerate(self.objs(data.get("meetings"), "meetings", required=False)):
            field = f"meetings[{i}]"
            site = m.get("site")
            if not isinstance(site, str) or site not in site_ids:
                raise self.fail(N_("Unknown site: {id}."), f"{field}.site", id=site)
            starts_at = m.get("starts_at")
            if not isinstance(starts_at, str) or len(starts_at) < 10:
                raise self.fail(N_("A date and time (ISO 8601) is expected here."),
                                f"{field}.starts_at")
            meetings.append(Meeting(self.ident(m.get("id"), f"{field}.id"), site,
                                    self.text(m.get("title"), f"{field}.title"), starts_at,
                                    self.text(m.get("place"), f"{field}.place", required=False)))
        self.unique(meetings, "meetings")
        mode = c.get("default_mode", "open")
        if mode not in BALLOT_MODES:
            raise self.fail(N_("Unknown ballot mode: {mode}."), "consultation.default_mode",
                            mode=mode)
        from .bundle_folders import folder_for
        consultation_id = self.ident(c.get("id"), "consultation.id")
        if not folder_for(consultation_id):     # a tablet keeps it in bundles/<id>/
            raise self.fail(N_("A consultation identifier holds a letter or a digit and does "
                               "not begin with a dot."), "consultation.id")
        return Consultation(
            id=consultation_id,
            version=self.int(c.get("version", 1), "consultation.version", minimum=1),
            status=status,
            languages=self.languages,
            title=self.text(c.get("title"), "consultation.title"),
            description=self.text(c.get("description"), "consultation.description",
                                  required=False),
            themes=tuple(themes), projects=tuple(projects), questions=tuple(questions),
            opens_on=str(c.get("opens_on", "")), closes_on=str(c.get("closes_on", "")),
            goal=self.int(c.get("goal", 0), "consultation.goal"),
            image=self.image(c.get("image"), "consultation.image"),
            anonymous=bool(c.get("anonymous", True)),
            sites=tuple(sites), meetings=tuple(meetings), map=self.consultation_map,
            title_easy=self.easy_text(c.get("title_easy"), "consultation.title_easy"),
        )

    def objs(self, value: Any, field: str, *, required: bool = True) -> list[dict]:
        items = self.list(value, field, required=required)
        return [self.obj(item, f"{field}[{i}]") for i, item in enumerate(items)]

    def project(self, p: dict, field: str, theme_ids: set) -> Project:
        theme = p.get("theme")
        if not isinstance(theme, str) or theme not in theme_ids:
            raise self.fail(N_("Unknown theme: {id}."), f"{field}.theme", id=theme)
        cost = p.get("cost")
        if cost is not None:
            cost = self.int(cost, f"{field}.cost", minimum=1)
        proposed_by = p.get("proposed_by", "partner")
        if proposed_by not in ("partner", "citizen"):
            raise self.fail(N_("Proposed by a partner or by a citizen."), f"{field}.proposed_by")
        return Project(self.ident(p.get("id"), f"{field}.id"),
                       self.text(p.get("title"), f"{field}.title"),
                       self.text(p.get("description"), f"{field}.description"),
                       theme, cost, self.image(p.get("image"), f"{field}.image"), proposed_by,
                       self.easy_text(p.get("title_easy"), f"{field}.title_easy"),
                       self.easy_text(p.get("description_easy"), f"{field}.description_easy"))

    def question(self, q: dict, field: str, projects: dict, theme_ids: set) -> Question:
        kind = q.get("kind")
        if kind not in QUESTION_KINDS:
            raise self.fail(N_("Unknown question kind: {kind}."), f"{field}.kind", kind=kind)
        qid = self.ident(q.get("id"), f"{field}.id")
        theme = q.get("theme")
        if theme is not None and (not isinstance(theme, str) or theme not in theme_ids):
            raise self.fail(N_("Unknown theme: {id}."), f"{field}.theme", id=theme)
        args: dict[str, Any] = dict(
            id=qid, kind=kind, prompt=self.text(q.get("prompt"), f"{field}.prompt"),
            help=self.text(q.get("help"), f"{field}.help", required=False), theme=theme,
            prompt_easy=self.easy_text(q.get("prompt_easy"), f"{field}.prompt_easy"),
            audio=self.audio(q.get("audio"), f"{field}.audio"))
        KINDS[kind].parse(self, q, field, projects, args)
        return Question(**args)

    # -- the map ---------------------------------------------------------------------------

    def map(self, value: Any, field: str) -> ConsultationMap | None:
        if value is None:
            return None
        m = self.obj(value, field)
        raw_areas = self.objs(m.get("areas"), f"{field}.areas")
        if not raw_areas:
            raise self.fail(N_("The map needs at least one area."), f"{field}.areas")
        if len(raw_areas) > MAX_MAP_AREAS:
            raise self.fail(N_("Too many areas: at most {max}."), f"{field}.areas",
                            max=MAX_MAP_AREAS)
        # Area names in French and Italian (those the consultation offers); English may
        # fall back to them.
        name_languages = tuple(lang for lang in self.languages if lang != "en") \
            or self.languages
        areas = []
        for i, a in enumerate(raw_areas):
            where = f"{field}.areas[{i}]"
            parent = a.get("parent")
            if parent is not None:
                parent = self.ident(parent, f"{where}.parent")
            areas.append(MapArea(self.ident(a.get("id"), f"{where}.id"),
                                 self.text(a.get("name"), f"{where}.name",
                                           languages=name_languages),
                                 self.geometry(a.get("geometry"), f"{where}.geometry"),
                                 parent))
        self.unique(areas, f"{field}.areas")
        self.area_parents(areas, f"{field}.areas")
        center = self.obj(m.get("center"), f"{field}.center")
        lon, lat = center.get("lon"), center.get("lat")
        if not (is_coordinate(lon, 180) and is_coordinate(lat, 90)):
            raise self.fail(N_("A position is a longitude from -180 to 180 and a latitude from "
                               "-90 to 90, in degrees."), f"{field}.center")
        zoom = self.zoom(m.get("zoom"), f"{field}.zoom")
        min_zoom = self.zoom(m.get("min_zoom"), f"{field}.min_zoom")
        max_zoom = self.zoom(m.get("max_zoom"), f"{field}.max_zoom")
        if min_zoom > max_zoom:
            raise self.fail(N_("The zoom levels must be in order: min_zoom ≤ zoom ≤ max_zoom."),
                            f"{field}.min_zoom")
        if not min_zoom <= zoom <= max_zoom:
            raise self.fail(N_("The zoom levels must be in order: min_zoom ≤ zoom ≤ max_zoom."),
                            f"{field}.zoom")
        decimals = m.get("export_decimals", DEFAULT_EXPORT_DECIMALS)
        if isinstance(decimals, bool) or not isinstance(decimals, int) \
                or not 0 <= decimals <= MAX_EXPORT_DECIMALS:
            raise self.fail(N_("Public exports round coordinates to 0 to {max} decimals."),
                            f"{field}.export_decimals", max=MAX_EXPORT_DECIMALS)
        snap = m.get("snap_metres", 0)
        if isinstance(snap, bool) or not isinstance(snap, int) \
                or not 0 <= snap <= MAX_SNAP_METRES:
            raise self.fail(N_("A distance from 0 to {max} metres is expected here."),
                            f"{field}.snap_metres", max=MAX_SNAP_METRES)
        tiles = m.get("tiles")
        if not isinstance(tiles, str) or not tiles or tiles.startswith(("/", "\\")) \
                or ".." in Path(tiles).parts or Path(tiles).suffix.lower() != ".mbtiles":
            raise self.fail(N_("A map file path inside the bundle (.mbtiles) is expected."),
                            f"{field}.tiles")
        result = ConsultationMap(
            tiles=tiles, center=(float(lon), float(lat)), zoom=zoom, min_zoom=min_zoom,
            max_zoom=max_zoom, attribution=self.text(m.get("attribution"),
                                                     f"{field}.attribution"),
            areas=tuple(areas), export_decimals=decimals, snap_metres=snap)
        if not bbox_contains(result.bbox, result.center[0], result.center[1]):
            raise self.fail(N_("The first view's centre is outside the perimeter's bounding "
                               "box."), f"{field}.center")
        if self.folder is not None:
            try:
                low, high = check_map_tiles(self.folder, tiles)
            except BundleError as exc:
                raise self.fail(exc.message, f"{field}.tiles", **exc.params) from None
            for name, level in (("min_zoom", min_zoom), ("max_zoom", max_zoom)):
                if not low <= level <= high:
                    raise self.fail(N_("The map file {path} holds zoom levels {min} to {max} "
                                       "only."), f"{field}.{name}", path=tiles, min=low,
                                    max=high)
        return result

    def zoom(self, value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ZOOM:
            raise self.fail(N_("A zoom level from 0 to 22 is expected here."), field)
        return value

    def area_parents(self, areas: list[MapArea], field: str) -> None:
        parents = {a.id: a.parent for a in areas}
        for i, area in enumerate(areas):
            if area.parent is None:
                continue
            if area.parent == area.id:
                raise self.fail(N_("An area cannot lie within itself: {id}."),
                                f"{field}[{i}].parent", id=area.id)
            if area.parent not in parents:
                raise self.fail(N_("Unknown area: {id}."), f"{field}[{i}].parent",
                                id=area.parent)
            seen, current = {area.id}, area.parent
            while current is not None:
                if current in seen:
                    raise self.fail(N_("Areas lie within each other in a circle: {id}."),
                                    f"{field}[{i}].parent", id=area.id)
                seen.add(current)
                current = parents[current]

    def geometry(self, value: Any, field: str) -> Shape:
        g = self.obj(value, field)
        kind, coordinates = g.get("type"), g.get("coordinates")
        if kind == "Polygon":
            polygons, where = [coordinates], [f"{field}.coordinates"]
        elif kind == "MultiPolygon":
            polygons = self.list(coordinates, f"{field}.coordinates")
            where = [f"{field}.coordinates[{i}]" for i in range(len(polygons))]
        else:
            raise self.fail(N_("A GeoJSON Polygon or MultiPolygon is expected here."),
                            f"{field}.type")
        if not polygons:
            raise self.fail(N_("A GeoJSON Polygon or MultiPolygon is expected here."),
                            f"{field}.coordinates")
        for rings, place in zip(polygons, where):
            if not isinstance(rings, list) or not rings:
                raise self.fail(N_("A GeoJSON Polygon or MultiPolygon is expected here."), place)
            for r, ring in enumerate(rings):
                self.ring(ring, f"{place}[{r}]")
        return Shape.from_geojson({"type": kind, "coordinates": coordinates})

    def ring(self, ring: Any, field: str) -> None:
        if not isinstance(ring, list) or len(ring) < 4:
            raise self.fail(N_("A ring needs at least 4 positions, the last repeating the "
                               "first."), field)
        self.positions += len(ring)
        if self.positions > MAX_MAP_POSITIONS:
            raise self.fail(N_("Too many positions in the map: at most {max}."), field,
                            max=MAX_MAP_POSITIONS)
        for k, position in enumerate(ring):
            if not is_position(position):
                raise self.fail(N_("A position is a longitude from -180 to 180 and a latitude "
                                   "from -90 to 90, in degrees."), f"{field}[{k}]")
        if ring[0][:2] != ring[-1][:2]:
            raise self.fail(N_("A ring must be closed: its last position repeats its first."),
                            field)
        if ring_area([(p[0], p[1]) for p in ring]) == 0:
            raise self.fail(N_("A ring must enclose an area."), field)
