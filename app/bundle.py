"""Consultation bundles: a versioned JSON file (`bundle.json`) with its images beside it.

The hub serves bundles to tablets; the demo consultation ships as one in `assets/demo/`.
`load_bundle` validates everything before returning: a bundle that is not valid raises
BundleError naming the file and the field, and nothing is loaded.
The format is described in docs/bundle-format.md.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import N_, BundleError
from .model import (BALLOT_MODES, LANGUAGES, QUESTION_KINDS, SCALE_KINDS, STATUSES,
                    Consultation, Meeting, Option, Project, Question, Site, Theme)

FORMAT = "piazzetta-bundle"
FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# A decoded image bigger than this is refused (a small file can decode to gigabytes); a
# 12-megapixel phone photo fits, and tablets show 1280×800.
MAX_IMAGE_PIXELS = 16_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "MPO"}
MAX_INT = 10 ** 12


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
    from .paths import DEMO_BUNDLE_DIR
    pulled = sorted((f for f in (Path(data_dir) / "bundles").glob("*")
                     if (f / BUNDLE_FILE).is_file()),
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


def check_image_bytes(data: bytes, rel: str) -> None:
    """Refuse what is not a PNG, JPEG or WebP image of at most MAX_IMAGE_BYTES and
    MAX_IMAGE_PIXELS: BundleError naming `rel`. The whole image is decoded, so a file that only
    starts like an image is refused too."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BundleError(N_("The image {path} is too large."), rel, path=rel)
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
                if img.format not in _IMAGE_FORMATS:
                    raise not_an_image
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise too_many
                img.load()          # decodes it all: a truncated file fails here
    except BundleError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None
    except UnidentifiedImageError:
        raise not_an_image from None
    except Exception:
        raise BundleError(N_("The image {path} is broken."), rel, path=rel) from None


def read_bundle_image(folder: str | Path, rel: str) -> bytes:
    """The bytes of image `rel` of the bundle in `folder`, checked: a path inside the folder
    (no absolute path, no `..`, no symbolic link anywhere on the way, nothing that resolves
    outside), a regular file, and an image (check_image_bytes). BundleError names the file."""
    folder = Path(folder)
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or rel.startswith(("/", "\\")) or ".." in parts:
        raise BundleError(N_("An image path inside the bundle (PNG, JPEG or WebP) is expected."),
                          rel)
    current = folder
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise BundleError(N_("The image {path} is a link to another file: copy the image "
                                 "itself into the bundle."), rel, path=rel)
    path = folder / rel
    try:
        inside = path.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
    except (OSError, RuntimeError):
        raise BundleError(N_("The image {path} is missing."), rel, path=rel) from None
    if not inside:
        raise BundleError(N_("The image {path} is a link to another file: copy the image "
                             "itself into the bundle."), rel, path=rel)
    if not path.is_file():
        raise BundleError(N_("The image {path} is missing."), rel, path=rel)
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise BundleError(N_("The image {path} is too large."), rel, path=rel)
    data = path.read_bytes()
    check_image_bytes(data, rel)
    return data


def parse_bundle(data: Any, *, file: str = BUNDLE_FILE, folder: Path | None = None) -> Consultation:
    """Validate bundle data already decoded from JSON. Images are checked when `folder` is set."""
    return _Parser(file, folder).bundle(data)


class _Parser:
    def __init__(self, file: str, folder: Path | None):
        self.file = file
        self.folder = folder
        self.languages: tuple[str, ...] = ()

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
        if not isinstance(value, str) or not value or len(value) > 64 or not all(
                c.isalnum() or c in "-_." for c in value) or not value.isascii():
            raise self.fail(N_("An identifier (letters, digits, - _ .) is expected here."), field)
        return value

    def int(self, value: Any, field: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(N_("A whole number of at least {min} is expected here."), field,
                            min=minimum)
        if value > MAX_INT:  # SQLite stores 64-bit integers; budgets and versions stay far below
            raise self.fail(N_("This number is too large."), field)
        return value

    def text(self, value: Any, field: str, *, required: bool = True) -> dict:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(N_("A text in each language is expected here."), field)
        for lang, text in value.items():
            if lang not in LANGUAGES:
                raise self.fail(N_("Unknown language: {lang}."), f"{field}.{lang}", lang=lang)
            if not isinstance(text, str):
                raise self.fail(N_("A text is expected here."), f"{field}.{lang}")
        for lang in self.languages:
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
                  for i, t in enumerate(self._objs(c.get("themes"), "consultation.themes"))]
        self.unique(themes, "consultation.themes")
        theme_ids = {t.id for t in themes}
        projects = [self.project(p, f"consultation.projects[{i}]", theme_ids)
                    for i, p in enumerate(self._objs(c.get("projects"), "consultation.projects",
                                                     required=False))]
        self.unique(projects, "consultation.projects")
        by_id = {p.id: p for p in projects}
        questions = [self.question(q, f"consultation.questions[{i}]", by_id, theme_ids)
                     for i, q in enumerate(self._objs(c.get("questions"), "consultation.questions"))]
        if not questions:
            raise self.fail(N_("A consultation needs at least one question."),
                            "consultation.questions")
        self.unique(questions, "consultation.questions")
        sites = [Site(self.ident(s.get("id"), f"sites[{i}].id"),
                      self.text(s.get("name"), f"sites[{i}].name"),
                      str(s.get("town", "")))
                 for i, s in enumerate(self._objs(data.get("sites"), "sites", required=False))]
        self.unique(sites, "sites")
        site_ids = {s.id for s in sites}
        meetings = []
        for i, m in enumerate(self._objs(data.get("meetings"), "meetings", required=False)):
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
        return Consultation(
            id=self.ident(c.get("id"), "consultation.id"),
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
            sites=tuple(sites), meetings=tuple(meetings),
        )

    def _objs(self, value: Any, field: str, *, required: bool = True) -> list[dict]:
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
                       theme, cost, self.image(p.get("image"), f"{field}.image"), proposed_by)

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
            help=self.text(q.get("help"), f"{field}.help", required=False), theme=theme)
        if kind in ("colour", "budget"):
            ids = q.get("projects", list(projects))
            ids = self.list(ids, f"{field}.projects")
            if not ids:
                raise self.fail(N_("This question needs projects."), f"{field}.projects")
            for i, pid in enumerate(ids):
                if not isinstance(pid, str) or pid not in projects:
                    raise self.fail(N_("Unknown project: {id}."), f"{field}.projects[{i}]", id=pid)
            if len(set(ids)) != len(ids):
                raise self.fail(N_("A project is listed twice."), f"{field}.projects")
            args["projects"] = tuple(ids)
        if kind in ("choice", "ranking"):
            options = [Option(self.ident(o.get("id"), f"{field}.options[{i}].id"),
                              self.text(o.get("label"), f"{field}.options[{i}].label"))
                       for i, o in enumerate(self._objs(q.get("options"), f"{field}.options"))]
            if len(options) < 2:
                raise self.fail(N_("This question needs at least two options."), f"{field}.options")
            self.unique(options, f"{field}.options")
            args["options"] = tuple(options)
        if kind == "choice":
            args["multiple"] = bool(q.get("multiple", False))
            if args["multiple"]:
                args["max_choices"] = self.int(q.get("max_choices", len(options)),
                                               f"{field}.max_choices", minimum=1)
                if args["max_choices"] > len(options):
                    raise self.fail(N_("More choices allowed than there are options."),
                                    f"{field}.max_choices")
        if kind == "ranking":
            args["max_ranked"] = self.int(q.get("max_ranked", 0), f"{field}.max_ranked")
            if args["max_ranked"] > len(options):
                raise self.fail(N_("More ranks than there are options."), f"{field}.max_ranked")
        if kind == "scale":
            scale_kind = q.get("scale_kind", "agreement")
            if scale_kind not in SCALE_KINDS:
                raise self.fail(N_("A scale measures agreement or importance."),
                                f"{field}.scale_kind")
            labels = self.list(q.get("labels"), f"{field}.labels", required=False)
            if labels and len(labels) != 5:
                raise self.fail(N_("A scale needs five labels, from 1 to 5."), f"{field}.labels")
            args["scale_kind"] = scale_kind
            args["scale_labels"] = tuple(self.text(t, f"{field}.labels[{i}]")
                                         for i, t in enumerate(labels))
        if kind == "budget":
            args["budget_total"] = self.int(q.get("total"), f"{field}.total", minimum=1)
            args["budget_step"] = self.int(q.get("step", 1), f"{field}.step", minimum=1)
            args["currency"] = str(q.get("currency", "EUR"))[:3]
            for pid in args["projects"]:
                if projects[pid].cost is None:
                    raise self.fail(N_("A budget question needs a cost for every project: {id}."),
                                    f"{field}.projects", id=pid)
        if kind == "open":
            args["max_length"] = self.int(q.get("max_length", 1000), f"{field}.max_length",
                                          minimum=1)
        return Question(**args)
