"""Channels: where votes come from, and counts typed in by a facilitator.

A result says where its votes came from: residents on the tablets (`tablet`), a paper ballot box
counted per option (`paper`), raised colour cards counted per project (`show_of_hands`), and the
central platform's online votes (`online`), and residents' own phones in the room (`phone`,
server/phone_ballot.py). Tablet and phone votes are ballots; the other channels arrive
as *counts*: how many votes each value of one question got, typed in at once.

A count is an outbox event like a vote (type `tally_count`). It is never changed: a correction
is a new count that names the one it `supersedes`; the old one stays in the outbox and at the hub,
and stops counting. The normal form of `counts` is declared by each countable kind
(app/kinds/<kind>.py: `count_cells`, e.g. yes_no {"yes": n, "no": n, "abstain": n}).

Every n is a whole number from 0 to MAX_COUNT; values left out count 0. Kinds that are not
`countable` (rankings, budgets, open answers, places: one resident's whole answer is needed)
are refused.

`ChannelTally` keeps one question's tally over every channel and one per channel, with the
domain's tallies (app.tally): a count of n for one value enters as `add(value, n)`, a correction
removes the old count and adds the new. The tablet (Store.results), the hub and the projector
all read results through it, so they agree.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from .errors import N_, ValidationError
from .kinds import COUNTABLE_KINDS, kind_of  # noqa: F401  (COUNTABLE_KINDS: for callers)
from .kinds.base import MAX_COUNT, Result, Tally, whole_votes
from .model import Consultation, Question
from .tally import new_tally

TABLET = "tablet"
PHONE = "phone"
CHANNELS = (TABLET, PHONE, "paper", "show_of_hands", "online")
BALLOT_CHANNELS = (TABLET, PHONE)
# The hub answers for residents' phones as a device of its own, whose ID starts so
# (server/phone_ballot.py): its ballots are the phone channel's, here and at every hub they
# are forwarded to. The one rule that tells a ballot's channel from its device.
PHONE_DEVICE_PREFIX = "phone-"
COUNT_CHANNELS = ("paper", "show_of_hands", "online")
COUNT_EVENT = "tally_count"

# How each channel is named to people (msgids; screens and the projector translate them).
CHANNEL_NAMES = {"tablet": N_("tablets"), "phone": N_("phones"), "paper": N_("paper"),
                 "show_of_hands": N_("show of hands"), "online": N_("online")}


def ballot_channel(device_id: object) -> str:
    """The channel of a ballot made by `device_id`: `phone` for the hub's phone device, else
    `tablet`."""
    return PHONE if isinstance(device_id, str) and device_id.startswith(PHONE_DEVICE_PREFIX) \
        else TABLET


@dataclass(frozen=True)
class TallyCount:
    """One count as recorded: which question, which channel, how many votes per value."""
    count_id: str
    consultation_id: str
    question_id: str
    channel: str
    counts: dict
    ballots: int
    supersedes: str | None = None
    site_id: str | None = None
    meeting_id: str | None = None
    superseded_by: str | None = None
    recorded_at: str = ""

    @property
    def current(self) -> bool:
        return self.superseded_by is None


def validate_count(consultation: Consultation, question_id: Any, channel: Any, counts: Any,
                   ballots: Any = None) -> tuple[Question, dict, int]:
    """Check a count and return (question, counts in normal form, ballots).

    `ballots` is how many people the count stands for. It is worked out when left out (the
    biggest project total for colour cards, the sum otherwise), and must be given for a
    multiple choice whose voters may each tick several options (at least the biggest option
    count, at most their sum). Raises ValidationError naming the field; nothing is written.
    """
    if channel not in COUNT_CHANNELS:
        raise ValidationError(N_("Unknown channel: paper, show of hands or online is "
                                 "expected."), "channel")
    question = consultation.question(question_id) if isinstance(question_id, str) else None
    if question is None:
        raise ValidationError(N_("Unknown question."), "question_id")
    kind = kind_of(question)
    if not kind.countable:
        raise ValidationError(N_("Votes on this kind of question cannot be counted by hand."),
                              "question_id")
    normal, low, high, derived = kind.count_cells(question, counts)
    if ballots is None:
        ballots = derived
    else:
        ballots = whole_votes(ballots, "ballots")
        if not low <= ballots <= high:
            raise ValidationError(N_("The number of ballots must be between {low} and {high} "
                                     "for these counts."), "ballots", low=low, high=high)
    if high == 0:
        raise ValidationError(N_("These counts hold no vote at all."), "counts")
    return question, normal, ballots


def count_answers(question: Question, counts: Mapping) -> list[tuple[Any, int]]:
    """A count as (answer in the tally's normal form, weight) pairs."""
    return kind_of(question).count_answers(question, counts)


def apply_count(tally: Tally, question: Question, counts: Mapping, ballots: int,
                sign: int = 1) -> None:
    """Add (sign 1) or take away (sign -1) a count's votes in `tally`. The tally's ballots
    move by the count's `ballots`, not by the sum of its cells (one person raises a card for
    each project; a ballot may tick several options)."""
    weights = 0
    for answer, n in count_answers(question, counts):
        (tally.add if sign > 0 else tally.remove)(answer, n)
        weights += n
    tally.ballots += sign * (ballots - weights)


class ChannelTally:
    """One question's tally over every channel (`total`), and one tally per channel.

    `add(answer)` / `remove(answer)` take a tablet answer, like a plain Tally, so code that
    fed tallies answer by answer keeps working; `add_count` / `remove_count` take counts."""

    def __init__(self, consultation: Consultation, question: Question):
        self.consultation = consultation
        self.question = question
        self.total = new_tally(consultation, question)
        self.channels: dict[str, Tally] = {}

    def _channel(self, channel: str) -> Tally:
        tally = self.channels.get(channel)
        if tally is None:
            tally = self.channels[channel] = new_tally(self.consultation, self.question)
        return tally

    def add(self, answer: Any, weight: int = 1, channel: str = TABLET) -> None:
        self.total.add(answer, weight)
        self._channel(channel).add(answer, weight)

    def remove(self, answer: Any, weight: int = 1, channel: str = TABLET) -> None:
        self.total.remove(answer, weight)
        self._channel(channel).remove(answer, weight)

    def add_count(self, counts: Mapping, ballots: int, channel: str) -> None:
        apply_count(self.total, self.question, counts, ballots, 1)
        apply_count(self._channel(channel), self.question, counts, ballots, 1)

    def remove_count(self, counts: Mapping, ballots: int, channel: str) -> None:
        apply_count(self.total, self.question, counts, ballots, -1)
        apply_count(self._channel(channel), self.question, counts, ballots, -1)

    @property
    def ballots(self) -> int:
        return self.total.ballots

    def channel_ballots(self) -> dict[str, int]:
        """Ballots per channel, tablets first, only channels that have some."""
        return {c: self.channels[c].ballots for c in CHANNELS
                if c in self.channels and self.channels[c].ballots}

    def typed_result(self) -> Result:
        """The total result (the kind's Result, as app.tally gives it) with `channels`: each
        channel's own result as JSON, for the channels that have votes. A result with tablet
        votes only has `channels` with `tablet` alone (or empty when there is no vote)."""
        breakdown = {}
        for channel in CHANNELS:
            tally = self.channels.get(channel)
            if tally is not None and tally.ballots:
                own = tally.result()
                own.pop("question", None)
                own.pop("kind", None)
                breakdown[channel] = own
        return replace(self.total.typed_result(), channels=breakdown)

    def result(self) -> dict:
        """typed_result() as JSON-ready data (what the hub serves)."""
        return self.typed_result().to_json()


def participants(tallies: Iterable[ChannelTally], tablet_ballots: int,
                 phone_ballots: int = 0) -> dict[str, int]:
    """How many people took part through each channel: the tablets' and phones' ballots, and
    for every other channel the biggest count of any one question (the same people answer
    several questions, so counts are not added up across questions). `tablet_ballots` may
    include the phones' (a results body's `ballots`): they are taken out of it."""
    out = {TABLET: max(0, int(tablet_ballots) - max(0, int(phone_ballots)))}
    if phone_ballots:
        out[PHONE] = int(phone_ballots)
    for tally in tallies:
        for channel, ballots in tally.channel_ballots().items():
            if channel not in BALLOT_CHANNELS:
                out[channel] = max(out.get(channel, 0), ballots)
    return {c: out[c] for c in CHANNELS if out.get(c)}
