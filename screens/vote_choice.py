"""Choice among options: one (a tap records and goes on) or several, up to a maximum shown
on screen (Next records them)."""
from kivy.metrics import dp
from kivy.properties import ListProperty

from screens import load_kv
from screens.i18n import tr
from screens.question_body import QuestionBody
from screens.widgets import ToggleCard


class ChoiceBody(QuestionBody):
    selected_ids = ListProperty([])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.auto_advance = not self.question.multiple
        self.limit = self.question.max_choices if self.question.multiple else 1
        self.cards = {}
        for option in self.question.options:
            card = ToggleCard(size_hint_y=None)
            card.option_id = option.id
            card.bind(on_release=self._tap)
            self.cards[option.id] = card
            self.ids.options.add_widget(card)
        tr.bind(lang=self._texts)
        if self.screen is not None:
            self.screen.bind(easy_read=self._texts)
        self.bind(selected_ids=self._mark)
        self._texts()

    def _texts(self, *_args):
        for option in self.question.options:
            self.cards[option.id].text = self.option_words(option)
            self.option_picture(self.cards[option.id], option)
        if self.question.multiple:
            self.ids.hint.text = tr._("Choose up to {max} options.").format(max=self.limit)
        else:
            self.ids.hint.text = tr._("Choose one option.")
        self._mark()

    def load(self, from_end=False):
        self.selected_ids = list(self.session.answer_of(self.question.id) or [])

    def _mark(self, *_args):
        full = len(self.selected_ids) >= self.limit
        for option_id, card in self.cards.items():
            card.selected = option_id in self.selected_ids
            card.disabled = self.question.multiple and full and not card.selected
        self.can_confirm = self.question.multiple and bool(self.selected_ids) and \
            self.selected_ids != list(self.session.answer_of(self.question.id) or [])
        if self.question.multiple:
            self.detail = tr._("{count} of {max} chosen").format(
                count=len(self.selected_ids), max=self.limit)

    def _tap(self, card):
        option_id = card.option_id
        if not self.question.multiple:
            if self.screen.record([option_id]):
                self.selected_ids = [option_id]
                self.screen.advance()
            return
        if option_id in self.selected_ids:
            self.selected_ids = [o for o in self.selected_ids if o != option_id]
        elif len(self.selected_ids) < self.limit:
            self.selected_ids = self.selected_ids + [option_id]

    def draft(self):
        return list(self.selected_ids)


load_kv(__file__)
