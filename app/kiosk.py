"""The kiosk's services: one resident's session over the store, and the facilitator's settings.

A `KioskSession` drives one ballot: the resident starts it, answers, goes back or skips,
withdraws an answer, proposes an idea, and finishes; the idle timer abandons it. Every
confirmed answer goes to `Store.record_answer` at once (invariant 1), so an answer given before
a resident walks away still counts. After `finish` or `abandon`, nothing of the previous
resident remains in the session.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from .errors import N_, StoreError
from .model import BALLOT_MODES, Consultation, Question
from .cards import Card, CardError, read_card
from .store import Proposal, Store
from .tablet import card_keys

TEXT_SIZES = ("normal", "large", "very_large")
# Read aloud (issue 31): "on_demand", a Read aloud button reads the page; "audio_first", an
# answer is read when touched and a second touch on it chooses it.
READ_ALOUD_MODES = ("off", "on_demand", "audio_first")
IDLE_TIMEOUT_DEFAULT = 60
IDLE_TIMEOUT_MIN = 15
IDLE_TIMEOUT_MAX = 600
PROMPT_SECONDS = 20          # how long "Are you still there?" waits before the reset
# The facilitator's choice of ballot mode, in the order the facilitator page lists them.
KIOSK_BALLOT_MODES = ("open", "facilitated", "identified")
BALLOT_MODE_NAMES = {"open": N_("Open"), "facilitated": N_("Facilitated"),
                     "identified": N_("With a participation card")}


@dataclass
class KioskSettings:
    """The facilitator's choices for this tablet, kept in the store's settings."""
    store: Store

    def _get(self, key, default):
        return self.store.get_setting(f"kiosk.{key}", default)

    def _set(self, key, value):
        self.store.set_setting(f"kiosk.{key}", value)

    @property
    def consultation_id(self) -> str | None:
        """The consultation the facilitator chose for this tablet (None: the newest one)."""
        return self._get("consultation_id", None)

    @consultation_id.setter
    def consultation_id(self, value: str | None) -> None:
        self._set("consultation_id", value)

    @property
    def ballot_mode(self) -> str:
        return self._get("ballot_mode", "open")

    @ballot_mode.setter
    def ballot_mode(self, mode: str) -> None:
        if mode not in KIOSK_BALLOT_MODES:
            raise StoreError(N_("Unknown ballot mode."), "mode")
        self._set("ballot_mode", mode)

    @property
    def site_id(self) -> str | None:
        return self._get("site_id", None)

    @site_id.setter
    def site_id(self, value: str | None) -> None:
        self._set("site_id", value)

    @property
    def meeting_id(self) -> str | None:
        return self._get("meeting_id", None)

    @meeting_id.setter
    def meeting_id(self, value: str | None) -> None:
        self._set("meeting_id", value)

    @property
    def idle_timeout(self) -> int:
        return int(self._get("idle_timeout", IDLE_TIMEOUT_DEFAULT))

    @idle_timeout.setter
    def idle_timeout(self, seconds: int) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) \
                or not IDLE_TIMEOUT_MIN <= seconds <= IDLE_TIMEOUT_MAX:
            raise StoreError(N_("The idle time goes from {min} to {max} seconds."),
                             "idle_timeout", min=IDLE_TIMEOUT_MIN, max=IDLE_TIMEOUT_MAX)
        self._set("idle_timeout", seconds)

    @property
    def text_size(self) -> str:
        return self._get("text_size", "normal")

    @text_size.setter
    def text_size(self, size: str) -> None:
        if size not in TEXT_SIZES:
            raise StoreError(N_("Unknown text size."), "text_size")
        self._set("text_size", size)

    @property
    def high_contrast(self) -> bool:
        return bool(self._get("high_contrast", False))

    @high_contrast.setter
    def high_contrast(self, value: bool) -> None:
        self._set("high_contrast", bool(value))

    @property
    def read_aloud(self) -> str:
        """The tablet's read aloud at each new resident (who may change it for themself)."""
        mode = self._get("read_aloud", "off")
        return mode if mode in READ_ALOUD_MODES else "off"

    @read_aloud.setter
    def read_aloud(self, mode: str) -> None:
        if mode not in READ_ALOUD_MODES:
            raise StoreError(N_("Unknown read aloud mode."), "read_aloud")
        self._set("read_aloud", mode)

    @property
    def onscreen_keyboard(self) -> bool:
        return bool(self._get("onscreen_keyboard", False))

    @onscreen_keyboard.setter
    def onscreen_keyboard(self, value: bool) -> None:
        self._set("onscreen_keyboard", bool(value))


class KioskSession:
    """One resident at a time. Questions are shown in the consultation's order.

    In the identified mode the resident first presents a participation card
    (`present_card`); every answer then carries the card's lookup ID and its proof, the card's
    signature over that answer (app/cards.py), and the questions this card already answered
    on this tablet are passed over."""

    def __init__(self, store: Store, consultation: Consultation, *,
                 settings: KioskSettings | None = None):
        self.store = store
        self.consultation = consultation
        self.settings = settings or KioskSettings(store)
        self.unlocked = False      # facilitated mode: the facilitator unlocked one ballot
        # The language the kiosk shows now (the window keeps it up to date): an idea records
        # it as the language it was written in.
        self.lang: str | None = None
        self._clear()

    def _clear(self) -> None:
        self.ballot_id: str | None = None
        self.index = 0
        self.answers: dict[str, Any] = {}
        self.proposal: Proposal | None = None
        self.card: Card | None = None         # identified mode: never written anywhere
        # The rehearsal this ballot began in (app/store/rehearsal.py), or None: a real ballot.
        # Fixed at start, so that no answer of this ballot ever lands on the other side.
        self.rehearsal: str | None = None
        self.passed_over: tuple[str, ...] = ()  # questions this card answered before

    # -- state -----------------------------------------------------------------------------

    @property
    def questions(self) -> tuple[Question, ...]:
        return self.consultation.questions

    @property
    def started(self) -> bool:
        return self.ballot_id is not None

    @property
    def question(self) -> Question | None:
        """The question on screen, or None once past the last one."""
        if self.ballot_id is None or self.index >= len(self.questions):
            return None
        return self.questions[self.index]

    @property
    def progress(self) -> tuple[int, int]:
        """(position of the current question from 1, number of questions)."""
        return min(self.index + 1, len(self.questions)), len(self.questions)

    @property
    def at_end(self) -> bool:
        return self.started and self.index >= len(self.questions)

    @property
    def in_rehearsal(self) -> bool:
        """The tablet runs in rehearsal: answers are kept apart and never count."""
        return self.store.rehearsal_id is not None

    @property
    def identified(self) -> bool:
        return self.settings.ballot_mode == "identified"

    @property
    def waits_for_facilitator(self) -> bool:
        """Facilitated mode, and no ballot unlocked yet."""
        return self.settings.ballot_mode == "facilitated" and not self.unlocked

    @property
    def can_start(self) -> bool:
        mode = self.settings.ballot_mode
        if mode == "identified":
            return self.card is not None
        return mode == "open" or self.unlocked

    def answer_of(self, question_id: str) -> Any:
        return self.answers.get(question_id)

    # -- the resident's actions ------------------------------------------------------------

    def unlock(self) -> None:
        """Facilitated mode: the facilitator hands out one ballot."""
        self.unlocked = True

    def present_card(self, text: object) -> str:
        """Identified mode: check a participation card offline (its scanned QR text, or its
        typed code) and keep it for this ballot. Raises CardError with a message for the
        resident: forged, unknown here, or already used for every question on this tablet."""
        if self.ballot_id is not None:
            raise CardError(N_("A ballot is already open: finish it first."), "card")
        public_key, keys = card_keys(self.store, self.consultation.id)
        card = read_card(text, self.consultation.id, public_key, keys)
        used = tuple(q.id for q in self.questions if self._card_used(card, q.id))
        if self.questions and len(used) == len(self.questions):
            raise CardError(N_("This participation card has already answered every question "
                               "on this tablet."), "card")
        self.card, self.passed_over = card, used
        return card.lookup

    def forget_card(self) -> None:
        """The resident changed their mind before starting: the card is forgotten."""
        if self.ballot_id is None:
            self.card, self.passed_over = None, ()

    def _card_used(self, card: Card, question_id: str) -> bool:
        owner = self.store.card_use(self.consultation.id, question_id, card.use_tag(question_id))
        return owner is not None and owner != self.ballot_id

    def _passed(self, index: int) -> bool:
        return 0 <= index < len(self.questions) and \
            self.questions[index].id in self.passed_over

    def start(self) -> str:
        """Open the ballot (once). In facilitated mode, only after the facilitator unlocked;
        in identified mode, only once a card was presented."""
        if self.ballot_id is not None:
            return self.ballot_id
        mode = self.settings.ballot_mode
        if mode not in BALLOT_MODES:
            mode = "open"
        if not self.can_start:
            if mode == "identified":
                raise CardError(N_("Show your participation card first."), "card")
            raise StoreError(N_("Ask the facilitator to unlock a ballot."), "ballot")
        rehearsal = self.store.rehearsal_id
        if rehearsal is not None:
            # A rehearsal ballot is only an ID: no row of `ballots`, no event of a real one.
            self.ballot_id, self.rehearsal = uuid.uuid4().hex, rehearsal
        else:
            self.ballot_id = self.store.start_ballot(
                self.consultation, mode=mode, site_id=self.settings.site_id,
                meeting_id=self.settings.meeting_id)
        self.unlocked = False
        self.index = 0
        while self._passed(self.index):
            self.index += 1
        return self.ballot_id

    def record(self, value: Any, *, advance: bool = False) -> Any:
        """Record `value` as the answer to the current question (on disk when this returns).
        Raises ValidationError and changes nothing when the answer breaks the question's rules."""
        question = self.question
        if question is None:
            raise StoreError(N_("There is no question to answer."), "question")
        card = None
        if self.identified:
            if self.card is None:
                raise CardError(N_("Show your participation card first."), "card")
            card = self.card
        if self.rehearsal is not None:
            # The card is checked but never used: a rehearsal spends nothing of it.
            normal = self.store.record_rehearsal_answer(
                self.consultation, self.ballot_id, question.id, value,
                rehearsal_id=self.rehearsal)
        else:
            self._not_rehearsing()
            normal = self.store.record_answer(self.consultation, self.ballot_id, question.id,
                                              value, card=card)
        self.answers[question.id] = normal
        if advance:
            self.next()
        return normal

    def withdraw(self) -> None:
        """Clear the answer to the current question: it no longer counts."""
        question = self.question
        if question is not None and question.id in self.answers:
            if self.rehearsal is not None:
                self.store.withdraw_rehearsal_answer(self.consultation, self.ballot_id,
                                                     question.id, rehearsal_id=self.rehearsal)
            else:
                self._not_rehearsing()
                self.store.withdraw_answer(self.ballot_id, question.id,
                                           card=self.card if self.identified else None)
            del self.answers[question.id]

    def _not_rehearsing(self) -> None:
        """A real ballot records nothing once the tablet runs in rehearsal (switching ends
        the resident, app.kiosk.KioskSession.start_rehearsal; this holds whatever the screen
        does)."""
        if self.store.rehearsal_id is not None:
            raise StoreError(N_("This tablet switched to rehearsal: this answer was not "
                                "kept."), "rehearsal")

    def next(self) -> None:
        """Go to the next question (skipping keeps any answer already given)."""
        if self.started and self.index < len(self.questions):
            self.index += 1
            while self._passed(self.index):
                self.index += 1

    skip = next

    def back(self) -> bool:
        """Go to the previous question; False when already at the first one."""
        previous = self.index - 1
        while self._passed(previous):
            previous -= 1
        if previous >= 0:
            self.index = previous
            return True
        return False

    def submit_idea(self, *, title: object, text: object, theme: object = None,
                    contact: object = None, contact_consent: bool = False,
                    place: object = None) -> Proposal:
        """Record a resident's idea, optionally with where it would happen (a point on the
        map or an area of the perimeter; ValidationError names the field at fault). In
        rehearsal no idea is kept (StoreError): it would reach the hub's moderation."""
        if self.in_rehearsal:
            raise StoreError(N_("Rehearsal: ideas are not kept. Try them once the session is "
                                "open."), "rehearsal")
        self.proposal = self.store.submit_proposal(
            self.consultation, title=title, text=text, theme=theme, contact=contact,
            contact_consent=contact_consent, site_id=self.settings.site_id,
            meeting_id=self.settings.meeting_id, lang=self.lang, place=place)
        return self.proposal

    def finish(self) -> None:
        """The resident is done: close the ballot and forget everything."""
        self._close("finished")

    def abandon(self) -> None:
        """The idle reset: the answers given still count; the session forgets them."""
        self._close("abandoned")

    def _close(self, reason: str) -> None:
        if self.ballot_id is not None and self.rehearsal is None:
            self.store.close_ballot(self.ballot_id, reason=reason)
        self._clear()

    # -- the facilitator's rehearsal (app/store/rehearsal.py) ------------------------------

    def start_rehearsal(self) -> str:
        """Put the tablet in rehearsal. The resident on their way (if any) is ended first:
        their answers stay real, and nothing after this counts."""
        self.abandon()
        self.unlocked = False
        return self.store.start_rehearsal()

    def open_session(self) -> int:
        """End the rehearsal and open the session: the current rehearsal ballot is ended,
        the rehearsal's answers wiped here and at the hub. How many were wiped."""
        self.abandon()
        self.unlocked = False
        return self.store.open_session()

