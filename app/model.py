"""What a consultation is made of. Immutable values, built by the bundle loader.

Content strings are multilingual maps (`{"fr": …, "it": …, "en": …}`) read through
`localized`, which falls back along a fixed order when a language is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

from .geo import BBox, Shape, area_of, bbox_union, nearest_area

LANGUAGES = ("fr", "it", "en")
FALLBACK_ORDER = ("fr", "it", "en")

COLOURS = ("green", "orange", "red")
YES_NO = ("yes", "no", "abstain")
SCALE_KINDS = ("agreement", "importance")
STATUSES = ("draft", "open", "closed")
BALLOT_MODES = ("open", "facilitated", "identified")

Text = Mapping[str, str]


def localized(text: Text | None, lang: str, fallback: tuple[str, ...] = FALLBACK_ORDER) -> str:
    """The text in `lang`, else in the first language of `fallback` that has it, else ''."""
    if not text:
        return ""
    if text.get(lang):
        return text[lang]
    for other in fallback:
        if text.get(other):
            return text[other]
    return next((v for v in text.values() if v), "")


@dataclass(frozen=True)
class Theme:
    id: str
    title: Text


@dataclass(frozen=True)
class Project:
    id: str
    title: Text
    description: Text
    theme: str
    cost: int | None = None
    image: str | None = None
    proposed_by: str = "partner"  # "partner" or "citizen"
    # Issue 31: the title and description in easy-read words (FALC), per language.
    title_easy: Text = field(default_factory=dict)
    description_easy: Text = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    id: str
    label: Text
    # Issue 31: the easy-read words (FALC), a picture, a recording per language (paths inside
    # the bundle).
    label_easy: Text = field(default_factory=dict)
    image: str | None = None
    audio: Text = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    prompt: Text
    help: Text = field(default_factory=dict)
    theme: str | None = None
    options: tuple[Option, ...] = ()
    projects: tuple[str, ...] = ()          # colour and budget: the projects evaluated
    multiple: bool = False                  # choice
    max_choices: int = 1                    # choice (multiple)
    max_ranked: int = 0                     # ranking: 0 means every option
    scale_kind: str = "agreement"           # scale
    scale_labels: tuple[Text, ...] = ()     # scale: five labels, 1 to 5
    budget_total: int = 0                   # budget, in whole currency units
    budget_step: int = 1
    currency: str = "EUR"
    max_length: int = 1000                  # open
    prompt_easy: Text = field(default_factory=dict)     # easy-read words (issue 31)
    audio: Text = field(default_factory=dict)           # the prompt recorded, per language
    # place: nothing of its own; the map is the consultation's (Consultation.map)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    @property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options)

    @property
    def ranking_length(self) -> int:
        return self.max_ranked or len(self.options)


@dataclass(frozen=True)
class Site:
    id: str
    name: Text
    town: str = ""


@dataclass(frozen=True)
class Meeting:
    id: str
    site: str
    title: Text
    starts_at: str          # ISO 8601 local time, as published
    place: Text = field(default_factory=dict)


# A meeting has a start only: it is taken to last this long (a date alone: the whole day).
MEETING_HOURS = 3


def meeting_ends(meeting: Meeting):
    """When `meeting` is taken to be over (datetime, naive local or aware as published)."""
    from datetime import datetime, timedelta
    start = datetime.fromisoformat(meeting.starts_at)
    if len(meeting.starts_at) <= 10:
        return start + timedelta(days=1)
    return start + timedelta(hours=MEETING_HOURS)


def upcoming_meetings(meetings, now, site: str | None = None, limit: int = 2) -> list[Meeting]:
    """The meetings that have not ended at `now` (a local datetime), soonest first, of `site`
    when given; at most `limit`. A start the bundle checker let through unreadable is left out."""
    kept = []
    for meeting in meetings:
        if site and meeting.site != site:
            continue
        try:
            ends = meeting_ends(meeting)
            over = ends <= (now if ends.tzinfo is None else now.astimezone())
        except (ValueError, TypeError):
            continue
        if not over:
            kept.append(meeting)
    return sorted(kept, key=lambda m: m.starts_at)[:limit]


@dataclass(frozen=True)
class MapArea:
    """One area of a consultation's perimeter (a commune, a neighbourhood), with its shape.
    `parent` names the area it lies within, when the perimeter nests areas."""
    id: str
    name: Text
    shape: Shape
    parent: str | None = None


@dataclass(frozen=True)
class ConsultationMap:
    """A consultation's map: the perimeter's areas, the offline base map (an MBTiles file of
    the bundle), the first view and zoom limits, the attribution to show, and how many
    decimals public exports keep of a place (a pin can point at someone's home)."""
    tiles: str                      # path of the MBTiles file inside the bundle
    center: tuple[float, float]     # (lon, lat) of the first view
    zoom: int
    min_zoom: int
    max_zoom: int
    attribution: Text
    areas: tuple[MapArea, ...]
    export_decimals: int = 3
    snap_metres: int = 0            # a point this near an area, outside every one, counts in it

    def area(self, area_id: str) -> MapArea | None:
        return next((a for a in self.areas if a.id == area_id), None)

    @property
    def area_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.areas)

    @cached_property
    def bbox(self) -> BBox:
        """The perimeter's bounding box (west, south, east, north)."""
        return bbox_union(a.shape.bbox for a in self.areas)

    def ancestors(self, area_id: str) -> tuple[str, ...]:
        """The areas `area_id` lies within, nearest first (none when the perimeter is flat)."""
        return self._ancestors.get(area_id, ())

    def depth(self, area_id: str) -> int:
        return len(self.ancestors(area_id))

    def area_of(self, lon: float, lat: float) -> str | None:
        """The id of the area the point falls in, or None outside the perimeter. The most
        nested area wins (a neighbourhood before its commune); between areas of the same depth
        — a point exactly on a border two communes share — the first in the bundle's order.
        A point in no area but within `snap_metres` of one counts in the nearest."""
        found = area_of(self._search_order, lon, lat)
        if found is None and self.snap_metres:
            found = nearest_area(self._search_order, lon, lat, self.snap_metres)
        return found

    @cached_property
    def _ancestors(self) -> dict[str, tuple[str, ...]]:
        parents = {a.id: a.parent for a in self.areas}
        chains = {}
        for area in self.areas:
            chain, current = [], area.parent
            while current is not None and current not in chain and len(chain) < len(parents):
                chain.append(current)
                current = parents.get(current)
            chains[area.id] = tuple(chain)
        return chains

    @cached_property
    def _search_order(self) -> tuple[tuple[str, Shape], ...]:
        ordered = sorted(enumerate(self.areas), key=lambda ia: (-self.depth(ia[1].id), ia[0]))
        return tuple((a.id, a.shape) for _i, a in ordered)


@dataclass(frozen=True)
class Consultation:
    id: str
    version: int
    status: str
    languages: tuple[str, ...]
    title: Text
    description: Text
    themes: tuple[Theme, ...]
    projects: tuple[Project, ...]
    questions: tuple[Question, ...]
    opens_on: str = ""
    closes_on: str = ""
    goal: int = 0                 # participation goal shown on the projector
    image: str | None = None
    anonymous: bool = True        # invariant 5: votes are anonymous unless this says otherwise
    sites: tuple[Site, ...] = ()
    meetings: tuple[Meeting, ...] = ()
    map: ConsultationMap | None = None   # the perimeter and base map, for `place` questions
    title_easy: Text = field(default_factory=dict)      # easy-read title (issue 31)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def project(self, project_id: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id), None)

    def theme(self, theme_id: str) -> Theme | None:
        return next((t for t in self.themes if t.id == theme_id), None)

    def projects_of(self, question: Question) -> tuple[Project, ...]:
        return tuple(p for p in (self.project(pid) for pid in question.projects) if p)

    def site(self, site_id: str) -> Site | None:
        return next((s for s in self.sites if s.id == site_id), None)
