"""The scale (agreement or importance, 1 to 5): a histogram of the five answers, each column
with its count and share written above it and its label below, the median column marked in
words and colour, and the median and mean in the caption."""
import math

from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.formatting import decimal, number
from app.kinds.scale import DEFAULT_LABELS
from screens import load_kv
from screens.projector.base import PjResultView, set_fraction


class PjScaleColumn(BoxLayout):
    value = StringProperty("")
    label = StringProperty("")
    figures = StringProperty("")
    median_word = StringProperty("")
    is_median = BooleanProperty(False)


class PjScaleView(PjResultView):
    def build(self, body):
        row = BoxLayout(spacing=self.width * 0.02)
        self.columns = {}
        for value in range(1, 6):
            labels = self.question.scale_labels
            # No label rows: the tablet's own words for the scale's kind (app.kinds.scale).
            label = self.text(labels[value - 1], "\n") if len(labels) == 5 else self._(
                DEFAULT_LABELS.get(self.question.scale_kind, DEFAULT_LABELS["agreement"])
                [value - 1], "\n")
            column = PjScaleColumn(value=str(value), label=label)
            self.columns[value] = column
            row.add_widget(column)
        body.add_widget(row)

    def update(self, result, animate):
        lang = self.lang
        distribution = result.distribution          # app.kinds.scale.ScaleResult
        written = self.percents(distribution, [str(v) for v in range(1, 6)])
        highest = max([distribution.get(str(v), 0) for v in range(1, 6)] + [1])
        median = result.median
        marked = set()
        if isinstance(median, (int, float)):
            marked = {math.floor(median), math.ceil(median)}
        for value, column in self.columns.items():
            count = distribution.get(str(value), 0)
            # Bilingual: the count alone under the share (the caption counts the answers in
            # both languages); one language: "14 votes".
            column.figures = "{share}\n{count}".format(
                share=written[str(value)],
                count=number(count, lang) if self.bilingual else self.say_votes(count))
            column.is_median = value in marked
            # The caption's own first word ("Milieu des réponses : 4 (la moitié…)"), short:
            # "Milieu des réponses / Centro delle risposte" was wider than a column at
            # 1280×720 and lost its first half (Italian alone too).
            column.median_word = self._("Middle", sep=" / ") if value in marked else ""
            set_fraction(column.ids.column, count / highest, animate)
        if isinstance(median, (int, float)):
            # Each language's line in its own number format (3,5 and 3,5; 3.5 in English).
            self.caption = self.compose(lambda lang, _, ngettext: _(
                "Median: {median} · mean: {mean} · {answers}").format(
                    median=decimal(median, lang, 1 if median % 1 else 0),
                    mean=decimal(result.mean or 0, lang),
                    answers=self.answers(lang, result.total)))
        else:
            self.caption = self._("No answers yet.", sep="\n")


load_kv(__file__)
