"""The figures page: ballots today and in all, answers and ideas collected on this tablet, and
what each question's tally holds so far, numbers written as on the projector."""
from kivy.factory import Factory
from kivy.properties import DictProperty

from app.errors import N_
from app.formatting import decimal, money, number
from app.i18n import ngettext_for
from app.model import localized
from screens import load_kv
from screens.facilitator.page import FacilitatorPage
from screens.facilitator.place_figures import add_place_figures
from screens.i18n import tr

TILES = ("ballots_today", "ballots", "answers", "ideas")


def summarize(consultation, question, result, lang, _):
    """One or a few lines that say what the tally holds, in the reader's language."""
    loc = lambda text: localized(text, lang)  # noqa: E731
    n = lambda value: number(value, lang)  # noqa: E731
    kind = question.kind
    ngettext = ngettext_for(lang)
    answers = ngettext("{n} answer", "{n} answers", result.get("total", 0)).format(
        n=n(result.get("total", 0)))
    if kind == "colour":
        lines = []
        for project in consultation.projects_of(question):
            counts = result["projects"].get(project.id, {}).get("counts", {})
            lines.append(_("{project}: {green} in favour · {orange} to rework · {red} against")
                         .format(project=loc(project.title), green=n(counts.get("green", 0)),
                                 orange=n(counts.get("orange", 0)), red=n(counts.get("red", 0))))
        return "\n".join(lines)
    if kind == "yes_no":
        return _("Yes {yes} · No {no} · Abstain {abstain}").format(
            **{answer: n(count) for answer, count in result["counts"].items()})
    if kind == "scale":
        mean = result["mean"]
        return _("Mean {mean} out of 5 over {answers}").format(
            mean="–" if mean is None else decimal(mean, lang), answers=answers)
    if kind == "choice":
        return " · ".join(f"{loc(question.option(o).label)} {n(result['counts'][o])}"
                          for o in result["order"])
    if kind == "ranking":
        return " › ".join(f"{loc(question.option(o).label)} ({n(result['points'][o])})"
                          for o in result["order"])
    if kind == "budget":
        return "\n".join(
            f"{loc(consultation.project(p).title)}: "
            f"{money(result['projects'][p]['allocated'], lang, question.currency)}"
            for p in result["order"])
    if kind == "open":
        words = ", ".join(w for w, _n in result["words"][:8])
        return answers + (f" — {words}" if words else "")
    return ""


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
            card = Factory.TallyCard()
            card.prompt = tr.loc(question.prompt)
            card.summary = summarize(consultation, question, results[question.id], tr.lang,
                                     tr._)
            ballots = results[question.id]["ballots"]
            card.ballots = tr.ngettext("{n} answer", "{n} answers", ballots).format(
                n=number(ballots, tr.lang))
            box.add_widget(card)
            add_place_figures(card, consultation, question, results[question.id])


load_kv(__file__)
