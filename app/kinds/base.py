"""What a question kind declares, once (app/kinds/<kind>.py): how a bundle describes its
questions, what an answer to it is, how answers are tallied and what the tally's result holds,
and — for kinds a facilitator can count by hand — what a paper or show-of-hands count holds.

Kind modules import only this module, app.model and the leaf helpers of app/ (errors, geo,
text), never the fronts that read the registry (app.answers, app.tally, app.counts,
app.bundle), so the registry has no import circle.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Mapping

from ..errors import N_, ValidationError
from ..model import Consultation, Option, Question, localized


def share(count: int | float, total: int | float) -> float:
    return round(count / total, 4) if total else 0.0


# -- tally results: declared types, JSON at the boundary --------------------------------------

class MalformedResult(ValueError):
    """A result (JSON) that is not its kind's declared shape: a field missing or renamed, or
    not of the declared form."""

def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_FORMS = {"dict": (Mapping,), "list": (list,), "str": (str,), "bool": (bool,),
          "int": (int,), "float": (int, float)}


def _of_declared_form(value: Any, annotation: Any) -> bool:
    """Whether a JSON value has the form its field's annotation ('int', 'dict', 'float | None'…)
    declares: null where None is not declared, or an object for a number, does not fit.
    A bool is no number. An annotation outside these forms accepts any value."""
    allowed = ()
    for name in str(annotation).replace(" ", "").split("|"):
        if name == "None":
            if value is None:
                return True
            continue
        if name not in _FORMS:
            return True
        allowed += _FORMS[name]
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


class Figures:
    """A part of a result with a declared shape (a project's counts, a point on the map).
    `from_json` needs every field: a renamed or missing key raises, it is never read as 0."""
    nested: ClassVar[Mapping[str, type]] = {}      # field -> type of each value of its dict
    nested_list: ClassVar[Mapping[str, type]] = {}  # field -> type of each item of its list

    def to_json(self) -> dict:
        return _plain(self)

    @classmethod
    def from_json(cls, data: Mapping) -> Any:
        """Read `data` into this type; MalformedResult names what does not fit."""
        if not isinstance(data, Mapping):
            raise MalformedResult(f"{cls.__name__}: a JSON object is expected, not "
                                  f"{data!r:.60}")
        values = {}
        for f in fields(cls):
            if f.name not in data:
                if f.name in cls.optional:
                    continue
                raise MalformedResult(f"{cls.__name__}: the result has no {f.name!r}")
            value = data[f.name]
            if not _of_declared_form(value, f.type):
                raise MalformedResult(f"{cls.__name__}: {f.name!r} is not {f.type}: "
                                      f"{value!r:.60}")
            if f.name in cls.nested:
                if not isinstance(value, Mapping):
                    raise MalformedResult(f"{cls.__name__}: {f.name!r} is not an object")
                value = {k: cls.nested[f.name].from_json(v) for k, v in value.items()}
            elif f.name in cls.nested_list:
                if not isinstance(value, list):
                    raise MalformedResult(f"{cls.__name__}: {f.name!r} is not a list")
                value = [cls.nested_list[f.name].from_json(v) for v in value]
            values[f.name] = value
        return cls(**values)

    optional: ClassVar[frozenset] = frozenset()


@dataclass(frozen=True, kw_only=True)
class Result(Figures):
    """A question's tally result. Every kind's result adds its own fields (in the order the
    JSON the hub serves lists them); `channels` is there when the result comes from
    app.counts.ChannelTally: each channel's own result, as JSON."""
    question: str
    kind: str
    ballots: int
    channels: dict | None = None

    optional: ClassVar[frozenset] = frozenset({"channels"})

    def to_json(self) -> dict:
        data = _plain(self)
        channels = data.pop("channels")
        if channels is not None:
            data["channels"] = channels
        return data


# -- the tally ----------------------------------------------------------------------------

class Tally:
    """A set of counters: `add(answer, weight)` and `remove(answer, weight)` keep it up to date
    as answers arrive or are replaced. `weight` lets a facilitator's paper or show-of-hands
    count enter as many votes at once. `typed_result()` is the kind's Result; `result()` the
    same as JSON-ready data."""
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

    def typed_result(self) -> Result:
        raise NotImplementedError

    def _envelope(self) -> dict:
        return {"question": self.question.id, "kind": self.question.kind,
                "ballots": self.ballots}

    def result(self) -> dict:
        return self.typed_result().to_json()


# -- the kind ---------------------------------------------------------------------------

class Kind:
    """One question kind. A module of app/kinds/ declares `KIND = SomeKind()`; the registry
    (app/kinds/__init__.py) lists them by `order`."""
    name: str = ""
    order: int = 0
    tally: type[Tally] = Tally
    result: type[Result] = Result
    # Fields of a bundle's question this kind reads, beyond id, kind, prompt, help, theme
    # (docs/bundle-format.md); the spreadsheet columns (server/sheets.py) it fills.
    bundle_fields: frozenset = frozenset()
    sheet_columns: tuple = ()
    sheet_options: bool = False        # its options are rows of the sheet's options table
    # Paper and show-of-hands counts (app/counts.py): only kinds whose answer is one value.
    countable: bool = False

    def parse(self, parser: Any, q: dict, field: str, projects: dict, args: dict) -> None:
        """Read this kind's fields of bundle question `q` into `args` (Question's keywords),
        with `parser` (app.bundle's) raising BundleError naming the field."""

    def from_sheet(self, sheet: Any, table: Any, row: Any, q: dict, projects: dict,
                   options: list, path: str) -> None:
        """Read this kind's columns of a spreadsheet's question `row` (and its rows of the
        options sheet, `options`) into bundle question `q`, with `sheet` (server/sheets.py's
        reader) placing each mistake in its cell."""

    def sheet_option_rows(self, q: dict) -> list[dict]:
        """The rows bundle question `q` fills in the options sheet ({"id", "label"}), when a
        bundle is written back as a spreadsheet."""
        return []

    def validate(self, consultation: Consultation, question: Question, value: Any) -> Any:
        """The answer in its normal form, or raise ValidationError naming the field."""
        raise NotImplementedError

    def empty_result(self, consultation: Consultation, question: Question) -> Result:
        """The result with no answer at all."""
        return self.tally(consultation, question).typed_result()

    # Counts: `count_cells` checks a count's cells and returns (normal, low, high, derived):
    # the counts in normal form, the bounds of the ballots they stand for, and the ballots
    # worked out when left out. `count_answers` turns them into (answer, weight) pairs.
    def count_cells(self, question: Question, counts: Any) -> tuple[dict, int, int, int]:
        raise ValidationError(N_("Votes on this kind of question cannot be counted by hand."),
                              "question_id")

    def count_answers(self, question: Question, counts: Mapping) -> list[tuple[Any, int]]:
        return []

    # A phone's ballot page (server/phone_ballot.py, server/templates/phone.html): plain HTML
    # fields, no script. `web_form` names the template's block: "one" (a radio list, field
    # `value`), "several" (checkboxes `o.<option>`), "projects" (radios `p.<project>` per
    # project), "ranks" (a rank `r.<option>` per option), "amounts" (`b.<project>`), "text".
    web_form: str = ""

    def form_fields(self, consultation: Consultation, question: Question, lang: str,
                    gettext: Any) -> dict:
        """What the page draws for `question` in `lang`: `form` and its labels."""
        raise NotImplementedError

    def form_value(self, question: Question, form: Mapping[str, str]) -> Any:
        """A submitted page's fields as this kind's answer value, before `validate`."""
        return form.get("value", "")


# -- shared by several kinds ----------------------------------------------------------------

MAX_COUNT = 100_000          # votes for one value in one count: far above any room


def whole_votes(value: Any, field: str) -> int:
    """A number of votes typed in a count, checked."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
            value = int(value.strip())
        else:
            raise ValidationError(N_("A whole number of votes is expected here."), field)
    if value < 0:
        raise ValidationError(N_("A number of votes cannot be negative."), field)
    if value > MAX_COUNT:
        raise ValidationError(N_("At most {max} votes can be counted for one answer."), field,
                              max=MAX_COUNT)
    return value


def count_cells(value: Any, allowed, field: str, unknown: str) -> dict[str, int]:
    """A count's cells `{value: n}` in normal form: every allowed value, 0 when left out."""
    allowed = tuple(allowed)
    if not isinstance(value, Mapping):
        raise ValidationError(N_("The counts do not match this kind of question."), field)
    cells = {}
    for key, n in value.items():
        key = str(key)
        if key not in allowed:
            raise ValidationError(unknown, f"{field}.{key[:40]}")
        cells[key] = whole_votes(n, f"{field}.{key}")
    return {k: cells.get(k, 0) for k in allowed}


def parse_projects(parser: Any, q: dict, field: str, projects: dict) -> tuple[str, ...]:
    """The projects a bundle's question evaluates (colour, budget): all when left out."""
    ids = parser.list(q.get("projects", list(projects)), f"{field}.projects")
    if not ids:
        raise parser.fail(N_("This question needs projects."), f"{field}.projects")
    for i, pid in enumerate(ids):
        if not isinstance(pid, str) or pid not in projects:
            raise parser.fail(N_("Unknown project: {id}."), f"{field}.projects[{i}]", id=pid)
    if len(set(ids)) != len(ids):
        raise parser.fail(N_("A project is listed twice."), f"{field}.projects")
    return tuple(ids)


def parse_options(parser: Any, q: dict, field: str) -> tuple[Option, ...]:
    """A bundle's question's options (choice, ranking): two at least, each id once."""
    options = [Option(parser.ident(o.get("id"), f"{field}.options[{i}].id"),
                      parser.text(o.get("label"), f"{field}.options[{i}].label"),
                      parser.easy_text(o.get("label_easy"), f"{field}.options[{i}].label_easy"),
                      parser.image(o.get("image"), f"{field}.options[{i}].image"),
                      parser.audio(o.get("audio"), f"{field}.options[{i}].audio"))
               for i, o in enumerate(parser.objs(q.get("options"), f"{field}.options"))]
    if len(options) < 2:
        raise parser.fail(N_("This question needs at least two options."), f"{field}.options")
    parser.unique(options, f"{field}.options")
    return tuple(options)


def option_fields(question: Question, lang: str) -> list[tuple[str, str]]:
    """A question's options as (ID, label in `lang`), for a web form."""
    return [(o.id, localized(o.label, lang)) for o in question.options]


def option_list(question: Question, value: Any) -> list:
    """Option ids without repeats, each one of the question's (choice and ranking)."""
    if not isinstance(value, (list, tuple)):
        raise ValidationError(N_("Choose at least one option."), question.id)
    for option_id in value:
        if not isinstance(option_id, str) or question.option(option_id) is None:
            raise ValidationError(N_("Unknown option."), question.id)
    if len(set(value)) != len(value):
        raise ValidationError(N_("The same option appears twice."), question.id)
    return list(value)
