"""Issue 16: the facilitator's figures page shows a place question's answers per area — both
names the bundle gives, most answered first, the counts and the total — in French and
Italian, at normal and very large text, landscape and portrait (screenshots to
build/screenshots/kiosk/<lang>/)."""
import pytest

from app.formatting import number
from tests.ui.conftest import set_size, step
from tests.ui.test_facilitator import enter_facilitator
from tests.ui.test_place import MENTON, real_image

VENTIMIGLIA = (7.6079, 43.7913)
ANSWERS = ([{"lon": MENTON[0], "lat": MENTON[1]}] * 5 + [{"area": "ventimiglia"}] * 3
           + [{"lon": VENTIMIGLIA[0], "lat": VENTIMIGLIA[1]}] * 4 + [{"area": "saorge"}] * 2
           + [{"area": "fontan"}])


def vote(k, answers=ANSWERS):
    index = [q.id for q in k.session.consultation.questions].index("q-place")
    for answer in answers:
        k.session.start()
        k.session.index = index
        k.session.record(answer)
        k.session.finish()


def place_card(k, lang):
    from screens.widgets.place_figures import PlaceFigures
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["figures"])
    page = fac.ids.pages.get_screen("figures")
    found = [w for w in page.walk() if isinstance(w, PlaceFigures)]
    assert len(found) == 1           # under the place question's card only
    return fac, found[0]


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_counts_per_area_sorted_with_both_names_and_the_total(kiosk_factory, lang):
    from screens.i18n import tr
    k = kiosk_factory(lang=lang)
    vote(k)
    _fac, figures = place_card(k, lang)
    rows = figures.ids.rows.children[::-1]
    shown = [(r.name, r.figure) for r in rows]
    first = {"fr": "Vintimille / Ventimiglia", "it": "Ventimiglia / Vintimille"}[lang]
    menton = {"fr": "Menton / Mentone", "it": "Mentone / Menton"}[lang]
    assert shown[:2] == [(first, "7"), (menton, "5")]
    assert [n for _name, n in shown] == ["7", "5", "2", "1"]          # most answered first
    assert rows[0].fraction == 1 and abs(rows[1].fraction - 5 / 7) < 1e-9
    assert rows[0].share == {"fr": "47\u00a0%", "it": "47%"}[lang]    # 7 of 15 ballots
    total = tr.ngettext("Total: {n} answer", "Total: {n} answers", 15).format(n=number(15, lang))
    assert figures.total.startswith(total) and "9" in figures.total and "6" in figures.total
    assert "Sospel" in figures.unchosen and "Menton" not in figures.unchosen
    for row in rows:        # one line each at 1280×800: name and figure side by side
        assert row.ids.name.right <= row.ids.figure.x + 1


def test_no_answer_yet(kiosk):
    from screens.i18n import tr
    _fac, figures = place_card(kiosk, "fr")
    assert figures.ids.rows.children == [] and figures.total == tr._("No answer yet.")
    assert figures.unchosen == ""


@pytest.mark.parametrize("lang", ["fr", "it"])
@pytest.mark.parametrize("text_size", ["normal", "very_large"])
def test_place_figures_screenshots(kiosk_factory, lang, text_size):
    k = kiosk_factory(lang=lang, text_size=text_size)
    vote(k)
    prefix = "" if text_size == "normal" else "large-"
    fac, figures = place_card(k, lang)
    for size, orient in (((1280, 800), ""), ((800, 1280), "portrait-")):
        set_size(*size)
        step(4)
        scroll = figures
        while scroll is not None and not hasattr(scroll, "scroll_to"):
            scroll = scroll.parent
        scroll.scroll_to(figures, padding=20, animate=False)
        step(4)
        real_image(k.shot(f"{prefix}{orient}19-figures-place", lang), size)
    set_size(1280, 800)
