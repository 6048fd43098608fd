"""The scale (agreement or importance, 1 to 5): a histogram of the five answers, each column
with its count and share written above it and its label below, the median column marked in
words and colour, and the median and mean in the caption."""
import math

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
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
    # Bilingual: share and count on one line ("19 % · 16"), so that the two languages' labels
    # below leave the column more than the 10 px it had at 1280×720.
    one_line = BooleanProperty(False)
    label_height = NumericProperty(0)     # the tallest label's, set by the view


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
            column = PjScaleColumn(value=str(value), label=label, one_line=bool(self.bilingual))
            self.columns[value] = column
            column.ids.label.bind(texture_size=self._even_labels)
            row.add_widget(column)
        body.add_widget(row)

    def _even_labels(self, *_args):
        tallest = max(c.ids.label.texture_size[1] for c in self.columns.values())
        for column in self.columns.values():
            column.label_height = tallest

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
            # Bilingual: the count alone beside the share (the caption counts the answers in
            # both languages); one language: "14 votes" under it.
            shape = "{share} · {count}" if self.bilingual else "{share}\n{count}"
            column.figures = shape.format(
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
