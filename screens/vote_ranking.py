"""Ranking: tap the options in order of preference (a number shows each one's place); tap a
ranked option again to take it out; Undo takes out the last one. Next records the order.
Every option keeps its place whatever is ranked: an option never moves under the finger (the
number on each card says its place in the order)."""
from kivy.properties import ListProperty

from screens import load_kv
from screens.i18n import tr
from screens.question_body import QuestionBody
from screens.widgets import ToggleCard


class RankingBody(QuestionBody):
    ranked = ListProperty([])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.limit = self.question.ranking_length
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
        self.bind(ranked=self._mark)
        self._texts()

    def _texts(self, *_args):
        for option in self.question.options:
            self.cards[option.id].text = self.option_words(option)
            self.option_picture(self.cards[option.id], option)
        self.ids.hint.text = tr._(
            "Tap the options in order of preference, up to {max}. Tap again to take one out."
        ).format(max=self.limit)
        self._mark()

    def load(self, from_end=False):
        self.ranked = list(self.session.answer_of(self.question.id) or [])

    def _mark(self, *_args):
        full = len(self.ranked) >= self.limit
        for option_id, card in self.cards.items():
            place = self.ranked.index(option_id) + 1 if option_id in self.ranked else 0
            card.selected = bool(place)
            card.badge = str(place) if place else ""
            card.disabled = full and not place
        self.can_confirm = bool(self.ranked) and \
            self.ranked != list(self.session.answer_of(self.question.id) or [])
        self.detail = tr._("{count} of {max} ranked").format(count=len(self.ranked),
                                                               max=self.limit)

    def _tap(self, card):
        if card.option_id in self.ranked:
            self.ranked = [o for o in self.ranked if o != card.option_id]
        elif len(self.ranked) < self.limit:
            self.ranked = self.ranked + [card.option_id]

    def undo(self):
        self.ranked = self.ranked[:-1]

    def draft(self):
        return list(self.ranked)


load_kv(__file__)
