"""A screenshot of every screen and every question kind, in French and Italian at 1280×800,
and a few at 800×1280 (portrait) and 1920×1080, to build/screenshots/kiosk/<lang>/. They are
for people to look at; the test checks that each file is a real, non-blank image."""
import pytest
from PIL import Image

from tests.ui.conftest import set_size, step
from tests.ui.test_facilitator import enter_facilitator
from tests.ui.test_resident import start


def real_image(path, size):
    with Image.open(path) as image:
        assert image.size == size
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is None or len(colours) > 20, f"{path} looks blank"


def tour(k, lang, prefix=""):
    size = tuple(k.root.get_root_window().size)
    shots = []

    def shot(name):
        shots.append(k.shot(prefix + name, lang))

    shot("01-welcome")
    start(k)
    body = k.body()
    k.tap(body.ids.green)
    shot("02-colour")
    for _ in range(5):
        k.tap(k.root.question.ids.skip)
    shot("03-yes_no")
    k.tap(k.body().ids.yes)
    shot("04-scale")
    k.tap(k.root.question.ids.skip)
    b = k.body()
    k.tap(b.cards["health"])
    shot("05-choice")
    k.tap(k.root.question.ids.next)
    b = k.body()
    k.tap(b.cards[b.question.option_ids[1]])
    k.tap(b.cards[b.question.option_ids[0]])
    shot("06-ranking")
    k.tap(k.root.question.ids.next)
    b = k.body()
    k.tap(b.rows["p-bus"].ids.quick, frames=1)
    for _ in range(3):
        k.tap(b.rows["p-bike"].ids.plus, frames=1)
    k.tap(b.rows["p-market"].ids.plus, frames=1)
    shot("07-budget")
    k.tap(k.root.question.ids.next)
    k.type(k.body().ids.field, "Plus de trains le dimanche." if lang == "fr"
           else "Più treni la domenica.")
    shot("08-open")
    k.tap(k.root.question.ids.next)
    k.tap(k.root.question.ids.skip)     # the place: tests/ui/test_place.py shoots it (17-place)
    shot("09-thanks")
    k.tap(k.root.thanks.ids.idea)
    idea = k.root.idea
    k.type(idea.ids.title, "x" * 130)
    k.tap(idea.ids.consent)
    k.type(idea.ids.contact, "pas un contact")
    k.tap(idea.ids.send)
    shot("10-idea-errors")
    idea.ids.title.input.text = ""
    k.type(idea.ids.title, "Navette du dimanche" if lang == "fr" else "Navetta domenicale")
    idea.ids.contact.input.text = ""
    k.type(idea.ids.contact, "+33 6 12 34 56 78")
    k.tap(idea.theme_cards["infrastructure"])
    k.type(idea.ids.text, "Une navette entre Breil et Vintimille." if lang == "fr"
           else "Una navetta tra Breil e Ventimiglia.")
    shot("11-idea")
    k.tap(idea.ids.send)
    shot("12-thanks-idea")
    k.root._idle_reached()
    step(3)
    shot("13-idle-prompt")
    k.root.idle_prompt.stay()
    k.tap(k.root.thanks.ids.finish)
    k.root.open_pin()
    k.settle()
    k.tap([w for w in k.root.pin_screen.ids.keypad.children if w.text == "1"][0])
    shot("14-pin")
    k.root.pin_screen.entered = ""
    fac = enter_facilitator(k) if k.root.current != "facilitator" else k.root.facilitator
    shot("15-facilitator-session")
    for page in ("figures", "ideas", "counts", "projector", "display", "sync"):
        k.tap(fac.nav_buttons[page])
        if page == "ideas":
            cards = fac.ids.pages.get_screen("ideas").ids.ideas.children
            k.tap(cards[0].ids.openb)
        shot(f"16-facilitator-{page}")
    for path in shots:
        real_image(path, size)
    return shots


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_every_screen_at_1280x800(kiosk_factory, lang):
    k = kiosk_factory(lang=lang)
    assert len(tour(k, lang)) == 21


def test_portrait_and_full_hd(kiosk_factory):
    k = kiosk_factory(lang="fr")
    for size, name in (((800, 1280), "portrait"), ((1920, 1080), "1920")):
        set_size(*size)
        k.shot(f"{name}-01-welcome", "fr")
        start(k)
        k.shot(f"{name}-02-colour", "fr")
        k.session.index = 5
        k.root.question.show()
        step(3)
        k.shot(f"{name}-07-budget", "fr")
        k.root.reset_resident()
        k.settle()
    set_size(1280, 800)


def test_large_text_and_high_contrast(kiosk_factory):
    k = kiosk_factory(lang="it", text_size="very_large", high_contrast=True)
    k.shot("contrast-01-welcome", "it")
    start(k)
    k.shot("contrast-02-colour", "it")
    for _ in range(6):
        k.tap(k.root.question.ids.skip)
    k.shot("contrast-03-yes_no", "it")
    k.session.index = 5
    k.root.question.show()
    step(3)
    k.shot("contrast-07-budget", "it")


@pytest.mark.parametrize("lang, text_size", [("fr", "normal"), ("it", "normal"),
                                             ("it", "very_large")])
def test_facilitator_in_portrait(kiosk_factory, lang, text_size):
    """800×1280: the seven pages, Back and Quit stay whole and large (48 dp at least), above
    the page, which keeps most of the screen."""
    from kivy.metrics import dp
    from screens.theme import theme
    k = kiosk_factory(lang=lang)
    set_size(800, 1280)
    fac = enter_facilitator(k)
    theme.text_size = text_size
    step(6)
    names = ("session", "figures", "ideas", "counts", "projector", "display", "sync")
    buttons = [fac.nav_buttons[n] for n in names] + [fac.ids.back, fac.ids.quit]
    for button in buttons:
        assert min(button.size) >= dp(48), (button.text, button.size)
        # The label is whole: its drawn width fits inside the button, on one or more lines.
        assert button.texture_size[0] <= button.width - dp(16), (button.text, button.size)
        if " " not in button.text:           # a single word is never broken over two lines
            assert button.texture_size[1] < button.font_size * 1.6, (button.text, button.size)
        bottom = button.to_window(button.x, button.y)[1]
        nav_top = fac.ids.nav.to_window(fac.ids.nav.x, fac.ids.nav.top)[1]
        pages_top = fac.ids.pages.to_window(fac.ids.pages.x, fac.ids.pages.top)[1]
        assert bottom + button.height <= nav_top + 1 and bottom >= pages_top
    # The page's area: the page and the strip under it that holds its "More below" pill.
    page_area = fac.ids.pages.height + fac.ids.cue_strip.height
    assert page_area > 1280 * (0.6 if text_size == "normal" else 0.45)
    for name in names:
        button = fac.nav_buttons[name]
        k.tap(button)
        assert fac.ids.pages.current == name
        step(2)
        assert button.texture_size[1] < button.font_size * 1.6   # bold: whole
    k.shot(f"portrait-16-facilitator-{text_size}", lang)
    k.tap(fac.ids.back)
    k.settle()
    assert k.root.current == "welcome"


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_a_resident_alone_in_portrait_with_very_large_text_and_high_contrast(kiosk_factory, lang):
    """The whole tour as a resident who needs it most would see it: 800×1280, very large text,
    high contrast — every screen shot (portrait-contrast-*) and every tap still lands."""
    k = kiosk_factory(lang=lang, text_size="very_large", high_contrast=True)
    set_size(800, 1280)
    try:
        assert len(tour(k, lang, prefix="portrait-contrast-")) == 21
    finally:
        set_size(1280, 800)
