"""The facilitator types in a paper ballot box or raised colour cards: pick a question and a
channel, type how many votes each answer got, record. The last count of that question and
channel can be corrected: the correction is a new count that supersedes it (Store.record_count
with `supersedes`), so nothing is overwritten without a trace. Errors (negative, too big, not a
number…) come from app/counts.py, translated, and nothing is recorded. A recorded count is
pushed soon when the tablet syncs."""
from kivy.factory import Factory
from kivy.properties import ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.counts import CHANNEL_NAMES, COUNTABLE_KINDS
from app.errors import DomainError, N_
from app.formatting import number
from app.model import localized
from screens import load_kv
from screens.facilitator.page import FacilitatorPage
from screens.i18n import tr
from screens.kinds import screens_of

ENTRY_CHANNELS = ("paper", "show_of_hands")


class ColourCountRow(BoxLayout):
    """A project's name and the numbers of its three colours (counts.kv)."""
    title = StringProperty("")


class CountsPage(FacilitatorPage):
    page_name = "counts"
    title = N_("Paper counts")
    question_id = StringProperty("")
    channel = StringProperty("paper")
    correcting = StringProperty("")       # the count ID a save will supersede, or ""
    last = StringProperty("")
    message = StringProperty("")
    error = StringProperty("")
    channel_heights = ListProperty([])    # the channel cards' own heights (the row fits the tallest)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fields = {}

    # -- building ------------------------------------------------------------------------

    def questions(self):
        return [q for q in self.consultation.questions if q.kind in COUNTABLE_KINDS]

    def refresh(self, *_args):
        questions = self.questions()
        if questions and self.question_id not in [q.id for q in questions]:
            self.question_id = questions[0].id
        box = self.ids.questions
        box.clear_widgets()
        for question in questions:
            card = Factory.ToggleCard(text=localized(question.prompt, tr.lang), wrap=True,
                                      halign="left")
            card.selected = question.id == self.question_id
            card.bind(on_release=lambda _c, q=question.id: self.pick_question(q))
            box.add_widget(card)
        channels = self.ids.channels
        channels.clear_widgets()
        for channel in ENTRY_CHANNELS:
            name = tr._(CHANNEL_NAMES[channel])
            card = Factory.ToggleCard(text=name[:1].upper() + name[1:])
            card.selected = channel == self.channel
            card.bind(on_release=lambda _c, ch=channel: self.pick_channel(ch))
            card.bind(height=self._channel_heights)
            channels.add_widget(card)
        self._channel_heights()
        self.build_form()

    def _channel_heights(self, *_args):
        self.channel_heights = [card.height for card in self.ids.channels.children]

    def pick_question(self, question_id):
        self.question_id, self.correcting, self.message, self.error = question_id, "", "", ""
        self.refresh()

    def pick_channel(self, channel):
        self.channel, self.correcting, self.message, self.error = channel, "", "", ""
        self.refresh()

    def build_form(self):
        """The numbers its kind asks (screens/kinds/: count_fields): in a grid, or one row
        per group (a project's name once, then its three colours, each with its word)."""
        form = self.ids.form
        form.clear_widgets()
        self.fields = {}
        question = self.consultation.question(self.question_id)
        if question is None:
            return
        screens_kind = screens_of(question)
        groups = screens_kind.count_fields(self.consultation, question, tr.lang, tr._)
        form.cols = 1 if any(title is not None for title, _cells in groups) else 3
        for title, cells in groups:
            row = None if title is None else Factory.ColourCountRow(title=title)
            for key, label in cells:
                field = Factory.TextField(label=label, hint="0")
                field.ids.field_input.input_filter = "int"
                self.fields[key] = field
                (form if row is None else row.ids.numbers).add_widget(field)
            if row is not None:
                form.add_widget(row)
        if screens_kind.asks_ballots(question):
            field = Factory.TextField(label=tr._("Ballots counted"), hint="")
            field.ids.field_input.input_filter = "int"
            self.fields["ballots"] = field
            form.add_widget(field)
        self.show_last()

    def show_last(self):
        counts = self.store.counts(self.consultation.id, self.question_id)
        mine = [c for c in counts if c.channel == self.channel]
        self.last = (tr.ngettext("Last count: {n} ballot", "Last count: {n} ballots",
                                 mine[-1].ballots).format(n=number(mine[-1].ballots, tr.lang))
                     if mine
                     else tr._("No count yet for this question."))

    # -- typing in -------------------------------------------------------------------------

    def typed(self):
        """The numbers as typed: empty means 0; anything else is checked by app/counts.py."""
        counts, ballots = {}, None
        for key, field in self.fields.items():
            raw = field.text.strip()
            value = int(raw) if raw.isdigit() else (raw or 0)
            if key == "ballots":
                ballots = value if raw else None
            else:
                cells = counts
                for step in key[:-1]:
                    cells = cells.setdefault(step, {})
                cells[key[-1]] = value
        return counts, ballots

    def correct_last(self):
        """Load the last count of this question and channel into the form; saving corrects it."""
        counts = [c for c in self.store.counts(self.consultation.id, self.question_id)
                  if c.channel == self.channel]
        if not counts:
            self.error = tr._("No count yet for this question.")
            return
        last = counts[-1]
        for key, field in self.fields.items():
            if key == "ballots":
                field.text = str(last.ballots)
            else:
                cells = last.counts
                for step in key[:-1]:
                    cells = cells.get(step, {})
                field.text = str(cells.get(key[-1], 0))
        self.correcting = last.count_id
        self.error, self.message = "", tr._("Correct the numbers, then record: the old count "
                                            "is kept and no longer counts.")

    def record(self):
        counts, ballots = self.typed()
        try:
            self.store.record_count(self.consultation, self.question_id, self.channel, counts,
                                    ballots=ballots, supersedes=self.correcting or None,
                                    site_id=self.settings.site_id,
                                    meeting_id=self.settings.meeting_id)
        except DomainError as exc:
            self.error, self.message = exc.describe(tr._), ""
            return
        self.message = (tr._("Correction recorded.") if self.correcting
                        else tr._("Count recorded."))
        self.error, self.correcting = "", ""
        for field in self.fields.values():
            field.text = ""
        self.show_last()       # the store announced the count: sync sends it at once


load_kv(__file__)
