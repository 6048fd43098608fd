"""A ranking: options in the order of their Borda points (first place earns as many points as
there are options, second one fewer…), each with its rank, its points and how many ballots put
it first. Rows move when the order changes."""
from kivy.animation import Animation

from app.formatting import number
from screens import load_kv
from screens.projector.base import PjResultView, set_fraction
from screens.projector.choice import PjOptionRow


class PjRankingView(PjResultView):
    def build(self, body):
        self.rows = {}
        self.order = [o.id for o in self.question.options]
        for option in self.question.options:
            # One language: "241 points" at the title's size needs more than the choice's
            # "55 %" (at 1280×720 the number was dropped, "points" left alone).
            self.rows[option.id] = PjOptionRow(label=self.text(option.label, "\n"),
                                               figures_units=24 if self.bilingual else 32)
        self._place(body)

    def _place(self, body):
        body.clear_widgets()
        for rank, option_id in enumerate(self.order, start=1):
            row = self.rows[option_id]
            row.rank = str(rank)
            body.add_widget(row)

    def update(self, result, animate):
        lang = self.lang
        points, firsts = result.points, result.first_places  # app.kinds.ranking.RankingResult
        order = [o for o in result.order if o in self.rows]
        order += [o for o in self.rows if o not in order]
        if order != self.order:
            self.order = order
            self._place(self.ids.body)
            if animate:
                self.ids.body.opacity = 0.35
                Animation(opacity=1, d=0.4).start(self.ids.body)
        top = max(list(points.values()) + [1])
        for option_id, row in self.rows.items():
            # Bilingual: the points alone (the caption names them in both languages), as
            # "227 points" beside "227 punti" would not fit the figure's column.
            row.figures = (number(points.get(option_id, 0), lang) if self.bilingual else
                           self.ngettext("{n} point", "{n} points", points.get(option_id, 0),
                                         sep="\n"))
            row.detail = self._("first: {n}", sep="\n",
                                n=number(firsts.get(option_id, 0), lang))
            set_fraction(row.ids.bar, points.get(option_id, 0) / top, animate)
        ballots = result.ballots
        self.caption = self.compose(lambda lang, _, ngettext: _(
            "A first place earns {n} points, the next one less · {answers}").format(
                n=number(len(self.question.options), lang), answers=self.answers(lang, ballots)))


load_kv(__file__)
