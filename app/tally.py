"""Tallies for every question kind. The tablet, the hub and the projector all use this code.

A tally is a set of counters: `add(answer, weight)` and `remove(answer, weight)` keep it up to
date as answers arrive or are replaced, so nobody has to rescan every ballot to read results.
`weight` lets a facilitator's paper or show-of-hands count enter as many votes at once.
`result()` returns plain JSON-ready data.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Iterable

from .model import COLOURS, YES_NO, Consultation, Question


def _share(count: int | float, total: int | float) -> float:
    return round(count / total, 4) if total else 0.0


class Tally:
    kind = ""

    def __init__(self, consultation: Consultation, question: Question):
        self.consultation = consultation
        self.question = question
        self.ballots = 0

    def add(self, answer: Any, weight: int = 1) -> None:
        self.ballots += weight
        self._count(answer, weight)

    def remove(self, answer: Any, weight: int = 1) -> None:
        self.ballots -= weight
        self._count(answer, -weight)

    def _count(self, answer: Any, weight: int) -> None:
        raise NotImplementedError

    def result(self) -> dict:
        return {"question": self.question.id, "kind": self.question.kind,
                "ballots": self.ballots, **self._result()}

    def _result(self) -> dict:
        raise NotImplementedError


class ColourTally(Tally):
    """Green / orange / red counts per project."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = {pid: Counter() for pid in question.projects}

    def _count(self, answer, weight):
        for project_id, colour in answer.items():
            self.counts.setdefault(project_id, Counter())[colour] += weight

    def _result(self):
        projects = {}
        for project_id, counter in self.counts.items():
            total = sum(counter[c] for c in COLOURS)
            projects[project_id] = {
                "counts": {c: counter[c] for c in COLOURS},
                "shares": {c: _share(counter[c], total) for c in COLOURS},
                "total": total,
            }
        return {"projects": projects}


class YesNoTally(Tally):
    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = Counter()

    def _count(self, answer, weight):
        self.counts[answer] += weight

    def _result(self):
        total = sum(self.counts[k] for k in YES_NO)
        expressed = self.counts["yes"] + self.counts["no"]
        return {
            "counts": {k: self.counts[k] for k in YES_NO},
            "shares": {k: _share(self.counts[k], total) for k in YES_NO},
            "yes_share_of_expressed": _share(self.counts["yes"], expressed),
            "total": total,
        }


class ScaleTally(Tally):
    """Distribution over 1..5, mean and median."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = Counter()

    def _count(self, answer, weight):
        self.counts[answer] += weight

    def _result(self):
        distribution = {str(v): self.counts[v] for v in range(1, 6)}
        total = sum(self.counts[v] for v in range(1, 6))
        mean = sum(v * self.counts[v] for v in range(1, 6)) / total if total else None
        return {
            "scale_kind": self.question.scale_kind,
            "distribution": distribution,
            "shares": {k: _share(n, total) for k, n in distribution.items()},
            "total": total,
            "mean": round(mean, 3) if mean is not None else None,
            "median": _median_from_counts(self.counts, total),
        }


def _median_from_counts(counts: Counter, total: int) -> float | None:
    """Median of values 1..5 given their counts; the mean of the two middle values when even."""
    if total <= 0:
        return None

    def nth(n: int) -> int:  # the n-th smallest value, 0-based
        seen = 0
        for v in range(1, 6):
            seen += counts[v]
            if seen > n:
                return v
        return 5

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


class ChoiceTally(Tally):
    """Counts per option; shares are of ballots (several options per ballot when multiple)."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = Counter()

    def _count(self, answer, weight):
        for option_id in answer:
            self.counts[option_id] += weight

    def _result(self):
        options = self.question.option_ids
        ranked = sorted(options, key=lambda o: (-self.counts[o], options.index(o)))
        return {
            "counts": {o: self.counts[o] for o in options},
            "shares": {o: _share(self.counts[o], self.ballots) for o in options},
            "order": ranked,
        }


class RankingTally(Tally):
    """Borda count: with n options, first place earns n points, second n-1, … unranked 0."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.points = Counter()
        self.first_places = Counter()

    def _count(self, answer, weight):
        n = len(self.question.options)
        for position, option_id in enumerate(answer):
            self.points[option_id] += (n - position) * weight
        if answer:
            self.first_places[answer[0]] += weight

    def _result(self):
        options = self.question.option_ids
        order = sorted(options, key=lambda o: (-self.points[o], -self.first_places[o],
                                               options.index(o)))
        return {
            "points": {o: self.points[o] for o in options},
            "first_places": {o: self.first_places[o] for o in options},
            "order": order,
            "max_points": len(options) * self.ballots,
        }


class BudgetTally(Tally):
    """Amount allocated per project, how many ballots fund each, and which projects the total
    would fund: by amount allocated, greedily, while the budget lasts."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.allocated = Counter()
        self.funding_ballots = Counter()

    def _count(self, answer, weight):
        for project_id, amount in answer.items():
            self.allocated[project_id] += amount * weight
            if amount > 0:
                self.funding_ballots[project_id] += weight

    def _result(self):
        projects = {}
        left = self.question.budget_total
        order = sorted(self.question.projects,
                       key=lambda p: (-self.allocated[p], self.question.projects.index(p)))
        funded = set()
        for project_id in order:
            project = self.consultation.project(project_id)
            cost = project.cost if project and project.cost is not None else 0
            if self.allocated[project_id] > 0 and cost <= left:
                funded.add(project_id)
                left -= cost
        for project_id in self.question.projects:
            project = self.consultation.project(project_id)
            projects[project_id] = {
                "allocated": self.allocated[project_id],
                "mean_per_ballot": round(self.allocated[project_id] / self.ballots, 2)
                if self.ballots else 0.0,
                "funding_ballots": self.funding_ballots[project_id],
                "cost": project.cost if project else None,
                "funded": project_id in funded,
            }
        return {"budget_total": self.question.budget_total, "currency": self.question.currency,
                "projects": projects, "order": order}


_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
WORD_MAX = 40            # longer runs of letters are not words anyone reads in a cloud

# A word is shown (word cloud, public results, exports) only once this many answers use it:
# a name or an address typed by one resident never leaves the count (invariant 5).
MIN_WORD_ANSWERS = 3
# The open-question word counts keep at most this many words (memory and time bounded however
# many answers arrive); when more come, the least used half is forgotten at once.
WORDS_KEPT = 2000


def word_key(word: str) -> str:
    """What an open answer's word is counted under: the same word in one language, whatever
    its case, its Unicode form or its number — transports and transport (French), trasporti
    and trasporto (Italian) — but never a word of the other language: transport and trasporti
    stay two words, and so do ville (town) and villa.

    Only endings that mark a plural in one language alone are folded: a final -s or -x
    (French and English; no Italian plural ends so), and Italian -i for -o (trasporti,
    mercati; French has almost no words in -o). The Italian -e of -a (piazze) is left alone:
    French words end in a mute -e (ville, porte) that would meet Italian words in -a."""
    return _fold(unicodedata.normalize("NFC", word).lower())


def _fold(word: str) -> str:
    """word_key of a word already in lower case and NFC."""
    if len(word) >= 5:
        if word[-1] in "sx" and word[-2] not in "sx":
            return word[:-1]
        if word[-1] == "i" and word[-2] not in "aeiou":
            return word[:-1] + "o"
    return word


class OpenTally(Tally):
    """Number of answers and the most frequent words (four letters or more, used by at least
    MIN_WORD_ANSWERS answers), for a word cloud. Variants of one word in one language count as
    one (`word_key`), shown in the form most answers used.

    The words are a bounded count: at most WORDS_KEPT words are kept. A word forgotten to make
    room starts again from nothing if it comes back, so a count never exceeds the number of
    answers that really use the word — the publication rule above still holds."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.words = Counter()
        self.forms: dict[str, Counter] = {}     # key -> how often each written form was used

    def _count(self, answer, weight):
        forms = {}
        for written in set(_WORD.findall(unicodedata.normalize("NFC", answer).lower())):
            if len(written) <= WORD_MAX:
                forms.setdefault(_fold(written), []).append(written)
        for key, written_forms in forms.items():
            if weight < 0 and key not in self.words:
                continue            # forgotten earlier: nothing to take away
            self.words[key] += weight
            used = self.forms.setdefault(key, Counter())
            for written in written_forms:
                used[written] += weight
                if used[written] <= 0:
                    del used[written]
            if self.words[key] <= 0:
                del self.words[key]
                self.forms.pop(key, None)
        if len(self.words) > WORDS_KEPT:
            self._forget_least_used()

    def _forget_least_used(self):
        kept = self.words.most_common(WORDS_KEPT // 2)
        self.words = Counter(dict(kept))
        self.forms = {key: self.forms.get(key, Counter()) for key in self.words}

    def shown_form(self, key: str) -> str:
        """The written form most answers used (the shorter one, then the first in alphabetical
        order, on a tie)."""
        used = self.forms.get(key)
        if not used:
            return key
        return min(used.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[0]

    def _result(self):
        shared = [[self.shown_form(w), n] for w, n in self.words.most_common(40)
                  if n >= MIN_WORD_ANSWERS]
        return {"total": self.ballots, "words": shared}


# A place tally keeps at most this many distinct points for the map (memory, time and the size
# of the results the projector polls stay bounded however many answers arrive).
PLACE_POINTS_KEPT = 1000
DEFAULT_EXPORT_DECIMALS = 3


class PlaceTally(Tally):
    """Answers per area of the consultation's perimeter, and the points placed, for the map.

    Counts: each answer — a point on the map or an area chosen from the list — counts in its
    area and in every area that area lies within (a neighbourhood's answers count in its
    commune too). Shares are of ballots. Points: only point answers, grouped by their position
    rounded to the map's `export_decimals` (a pin can point at someone's home; public results
    never hold more), with how many answers fell there. At most PLACE_POINTS_KEPT distinct
    rounded points are kept; answers at a new point beyond that are counted in
    `points_left_out` instead. Once that bound is reached which points are kept depends on the
    order answers came and went (a freed place is taken by the next new point); the counts
    per area are always exact."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        perimeter = consultation.map
        self.decimals = perimeter.export_decimals if perimeter else DEFAULT_EXPORT_DECIMALS
        self.counts = Counter()
        self.forms = Counter()
        self.points: Counter = Counter()
        self.points_left_out = 0

    def _count(self, answer, weight):
        area = answer.get("area")
        perimeter = self.consultation.map
        if isinstance(area, str):
            for area_id in (area, *(perimeter.ancestors(area) if perimeter else ())):
                self.counts[area_id] += weight
                if not self.counts[area_id]:
                    del self.counts[area_id]
        if "lon" not in answer:
            self.forms["area"] += weight
            return
        self.forms["point"] += weight
        key = (round(answer["lon"], self.decimals), round(answer["lat"], self.decimals),
               area if isinstance(area, str) else "")
        if key in self.points:
            self.points[key] += weight
            if self.points[key] <= 0:
                del self.points[key]
        elif weight > 0 and len(self.points) < PLACE_POINTS_KEPT:
            self.points[key] = weight
        else:
            self.points_left_out += weight

    def _result(self):
        perimeter = self.consultation.map
        areas = list(perimeter.area_ids) if perimeter else []
        areas += sorted(a for a in self.counts if a not in areas)   # areas of older versions
        order = sorted(areas, key=lambda a: (-self.counts[a], areas.index(a)))
        points = sorted(self.points.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "counts": {a: self.counts[a] for a in areas},
            "shares": {a: _share(self.counts[a], self.ballots) for a in areas},
            "order": order,
            "forms": {"point": self.forms["point"], "area": self.forms["area"]},
            "points": [{"lon": lon, "lat": lat, "area": area, "count": n}
                       for (lon, lat, area), n in points],
            "points_left_out": self.points_left_out,
            "export_decimals": self.decimals,
        }


TALLIES = {
    "colour": ColourTally,
    "yes_no": YesNoTally,
    "scale": ScaleTally,
    "choice": ChoiceTally,
    "ranking": RankingTally,
    "budget": BudgetTally,
    "open": OpenTally,
    "place": PlaceTally,
}


def new_tally(consultation: Consultation, question: Question) -> Tally:
    """An empty tally for `question`."""
    return TALLIES[question.kind](consultation, question)


def tally_answers(consultation: Consultation, question: Question,
                  answers: Iterable[Any]) -> dict:
    """The result of `question` over already-validated answers."""
    tally = new_tally(consultation, question)
    for answer in answers:
        tally.add(answer)
    return tally.result()

