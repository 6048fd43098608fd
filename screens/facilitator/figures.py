"""The figures page: ballots today and in all, answers and ideas collected on this tablet, and
what each question's tally holds so far (its kind's summary and figures, screens/kinds/),
numbers written as on the projector."""
from kivy.factory import Factory
from kivy.properties import DictProperty

from app.errors import N_
from app.formatting import number
from app.kinds import typed_result
from screens import load_kv
from screens.facilitator.page import FacilitatorPage
from screens.i18n import tr
from screens.kinds import screens_of

TILES = ("ballots_today", "ballots", "answers", "ideas")


def summarize(consultation, question, result: dict, lang, _):
    """One or a few lines that say what the tally (`result`, as Store.results gives it) holds,
    in the reader's language: its kind's summary (screens/kinds/)."""
    return screens_of(question).summary(
        consultation, question, typed_result(question, result), lang, _)


class FiguresPage(FacilitatorPage):
    page_name = "figures"
    title = N_("Figures")
    figures = DictProperty({})

    def refresh(self, *_args):
        consultation = self.consultation
        self.figures = dict(self.store.figures(consultation.id),
                            pending=self.store.outbox_counts()["pending"])
        for key in TILES:
            self.ids[key].figure = number(self.figures.get(key, 0), tr.lang)
        results = self.store.results(consultation)
        box = self.ids.tallies
        box.clear_widgets()
        for question in consultation.questions:
            screens_kind = screens_of(question)
            result = typed_result(question, results[question.id])
            card = Factory.TallyCard()
            card.prompt = tr.loc(question.prompt)
            card.summary = screens_kind.summary(consultation, question, result, tr.lang, tr._)
            card.ballots = tr.ngettext("{n} answer", "{n} answers", result.ballots).format(
                n=number(result.ballots, tr.lang))
            box.add_widget(card)
            extra = screens_kind.figures_widget(consultation, question, result, tr.lang)
            if extra is not None:
                card.add_widget(extra)

load_kv(__file__)
