"""The budget: for each project, what residents allocate to it on average against what it
costs (a line marks the cost), and whether the total budget would fund it — said in words on a
badge, not only in colour. Projects in the order of the amounts allocated; the caption says why
one chosen more can be left out while one below it is funded."""
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.errors import N_
from app.formatting import money, number
from screens import load_kv
from screens.projector.base import PjResultView, set_fraction
from screens.projector.style import say


class PjBudgetRow(BoxLayout):
    image = StringProperty("")
    name = StringProperty("")
    figures = StringProperty("")
    badge = StringProperty("")
    funded = BooleanProperty(False)
    cost_at = NumericProperty(0)     # where the cost line stands on the bar, 0..1
    # Bilingual: no picture, and the badge beside the bar, so that the name's two languages
    # have the whole width at 1280×720 (they were cut to "Autobus transfrontaliero Men...").
    bilingual = BooleanProperty(False)


class PjBudgetView(PjResultView):
    def build(self, body):
        self.rows = {}
        self.order = list(self.question.projects)
        for project in self.consultation.projects_of(self.question):
            self.rows[project.id] = PjBudgetRow(image=self.image_path(project.image),
                                              name=self.text(project.title, "  ·  "),
                                              bilingual=bool(self.bilingual))
        self._place(body)

    def _place(self, body):
        body.clear_widgets()
        for project_id in self.order:
            if project_id in self.rows:
                body.add_widget(self.rows[project_id])

    def update(self, result, animate):
        lang = self.lang
        currency = result.currency or self.question.currency  # app.kinds.budget.BudgetResult
        projects = result.projects
        order = [p for p in result.order if p in self.rows]
        order += [p for p in self.rows if p not in order]
        if order != self.order:
            self.order = order
            self._place(self.ids.body)
        scale = max([max(float(f.mean_per_ballot or 0), float(f.cost or 0))
                     for f in projects.values()] + [1.0])
        funded_total, funded_count = 0, 0
        for project_id in self.order:     # by amount allocated: the order projects are funded
            row = self.rows[project_id]
            figures = projects.get(project_id)      # None: a project added since
            mean = float(figures.mean_per_ballot or 0) if figures else 0.0
            cost = (figures.cost or 0) if figures else 0
            row.funded = bool(figures.funded) if figures else False
            if row.funded:
                funded_total += cost
                funded_count += 1
            row.cost_at = cost / scale
            # "67 000 € of 240 000 €" beside the bar: a longer phrase there was cut at 1080p.
            row.figures = say(self.langs[:1], N_("{mean} of {cost}"),
                              mean=money(mean, lang, currency), cost=money(cost, lang, currency))
            # Dark text on the badge in both languages: a second-language colour on a light
            # badge would not read.
            row.badge = (self._("Funded", sep=" / ", coloured=False) if row.funded
                         else self._("Not funded", sep=" / ", coloured=False))
            set_fraction(row.ids.bar, mean / scale, animate)
        # Each language's line with its own money format.
        # Why a project chosen more can be left out while one below it is funded: the caption
        # says the rule (the money left must cover the cost), in each language's money format.
        self.caption = self.compose(lambda lang, _, ngettext: _(
            "Each bar: the average amount a participant gave; its line: the project's cost.")
            + " " + ngettext(
            "{n} project funded ({funded}), in the order of the amounts given, while the money "
            "left suffices.",
            "{n} projects funded ({funded}), in the order of the amounts given, while the money "
            "left suffices.", funded_count).format(
                n=number(funded_count, lang), funded=money(funded_total, lang, currency)))

load_kv(__file__)
