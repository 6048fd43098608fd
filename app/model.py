"""What a consultation is made of. Immutable values, built by the bundle loader.

Content strings are multilingual maps (`{"fr": …, "it": …, "en": …}`) read through
`localized`, which falls back along a fixed order when a language is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

LANGUAGES = ("fr", "it", "en")
FALLBACK_ORDER = ("fr", "it", "en")

QUESTION_KINDS = ("colour", "yes_no", "scale", "choice", "ranking", "budget", "open")
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


@dataclass(frozen=True)
class Option:
    id: str
    label: Text


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
