"""The colour evaluation: one row per project, its image and name, and a stacked bar of green
("in favour"), orange ("needs rework") and red ("against") shares, with the words in a legend
and the percentages written on the bar."""
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.errors import N_
from app.formatting import number
from app.model import COLOURS
from screens import load_kv
from screens.projector.base import PjResultView, set_fraction

COLOUR_WORDS = {"green": N_("In favour"), "orange": N_("Needs rework"), "red": N_("Against")}


class PjColourRow(BoxLayout):
    project = ObjectProperty(None)
    image = StringProperty("")
    name = StringProperty("")
    figures = StringProperty("")
    # Bilingual: no picture and the count alone (the caption names it in both languages), so
    # that both names show whole at 1280×720 and "83 votes / 83 voti" is not cut to "votes".
    bilingual = BooleanProperty(False)


class PjColourLegend(BoxLayout):
    green = StringProperty("")
    orange = StringProperty("")
    red = StringProperty("")


class PjColourView(PjResultView):
    def build(self, body):
        legend = PjColourLegend(**{c: self._(COLOUR_WORDS[c], sep=" / ") for c in COLOURS})
        body.add_widget(legend)
        self.rows = {}
        for project in self.consultation.projects_of(self.question):
            row = PjColourRow(project=project, image=self.image_path(project.image),
                            name=self.text(project.title, "  ·  "),
                            bilingual=bool(self.bilingual))
            self.rows[project.id] = row
            body.add_widget(row)

    def update(self, result, animate):
        projects = result.projects                      # app.kinds.colour.ColourResult
        # One line in both languages: six rows of a name and a bar need the height.
        self.caption = self.say_answers(result.ballots, sep=" / ")
        for project_id, row in self.rows.items():
            figures = projects.get(project_id)          # None: a project added since
            shares = figures.shares if figures else {}
            counts = figures.counts if figures else {}
            values = [shares.get(c, 0) for c in COLOURS]
            written = self.percents(counts, COLOURS)
            row.ids.bar.texts = [written[c] for c in COLOURS]
            set_fraction(row.ids.bar, values, animate)
            total = figures.total if figures else 0
            row.figures = number(total, self.lang) if self.bilingual else self.say_votes(total)


load_kv(__file__)
