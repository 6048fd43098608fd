"""The projector on a real window: every view in fr, it and bilingual at 1920×1080 and 1280×720
(screenshots in build/screenshots/projector/), hidden results, freeze, the keyboard, the
unreachable-hub indicator, and the contrast of its palette."""
import os
import random
import re
from pathlib import Path

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")

from app.paths import DEMO_BUNDLE_DIR  # noqa: E402

# Screens first, then the window (kv rules must be loaded before any fixture swaps Builder).
import screens.projector.app as projector_app  # noqa: E402
from screens.projector.style import PALETTE, TEXT_PAIRS  # noqa: E402
from sync.results_source import LocalResultsSource, ResultsPoll  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots" / "projector"
SIZES = [(1920, 1080), (1280, 720)]
MODES = {"fr": {"lang": "fr"}, "it": {"lang": "it"},
         "bilingual": {"lang": "fr", "bilingual": "side_by_side"}}

OPEN_ANSWERS = [
    "Un bus le soir entre les villages", "Des médecins dans les villages",
    "Plus de transport entre Menton et Vintimille", "Autobus la sera tra i villaggi",
    "Medici e trasporti nei villaggi", "Un transport public le dimanche",
]
PERSONAL_ANSWER = "Je m'appelle Jean Dupont, rappelez-moi au 06 12 34 56 78"
IDEAS = [("Un marché du dimanche des deux côtés", "Alterner chaque mois entre Menton et "
          "Vintimille, pour que les producteurs se rencontrent."),
         ("Navetta per l'ospedale di Sanremo", "Una navetta due volte al giorno dai paesi "
          "dell'entroterra, per le visite."),
         ("Cours d'italien à la médiathèque", "Des cours du soir gratuits, et des cours de "
          "français de l'autre côté."),
         ("Wi-Fi sur la place du village", "Pour les jeunes et les saisonniers.")]


def _answer(rnd, question):
    kind = question.kind
    if kind == "colour":
        return {p: rnd.choice(["green", "green", "green", "orange", "red"])
                for p in question.projects}
    if kind == "yes_no":
        return rnd.choice(["yes", "yes", "no", "abstain"])
    if kind == "scale":
        return rnd.choice([2, 3, 4, 4, 5, 5])
    if kind == "choice":
        return rnd.sample(question.option_ids, min(2, question.max_choices or 1)) \
            if question.multiple else [rnd.choice(question.option_ids)]
    if kind == "ranking":
        return rnd.sample(question.option_ids, question.ranking_length)
    if kind == "budget":
        return rnd.choice([{"p-bus": 240000, "p-telehealth": 150000, "p-market": 60000},
                           {"p-bike": 180000, "p-services": 90000, "p-market": 60000},
                           {"p-bus": 200000, "p-coworking": 120000}])
    if kind == "place":
        return rnd.choice([{"area": "menton"}, {"area": "ventimiglia"}, {"area": "sospel"},
                           {"lon": 7.50312, "lat": 43.77871}])
    return rnd.choice(OPEN_ANSWERS)


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory, demo):
    """A store on disk with 84 realistic ballots (one open answer with a name) and approved and pending ideas, read through
    the projector's own LocalResultsSource."""
    from app.store import Store
    folder = tmp_path_factory.mktemp("projector-store")
    store = Store.open(folder)
    rnd = random.Random(2030)
    for _ in range(83):
        ballot = store.start_ballot(demo)
        for question in demo.questions:
            store.record_answer(demo, ballot, question.id, _answer(rnd, question))
        store.close_ballot(ballot)
    ballot = store.start_ballot(demo)  # one resident types their name: it must never show
    store.record_answer(demo, ballot, "q-missing", PERSONAL_ANSWER)
    for title, text in IDEAS:
        idea = store.submit_proposal(demo, title=title, text=text, theme="services",
                                     contact="jean.dupont@example.org", contact_consent=True,
                                     lang="it" if title.startswith("Navetta") else "fr")
        store.moderate_proposal(idea.id, "approved")
    store.submit_proposal(demo, title="Idée pas encore modérée", text="Secret 424242")
    store.close()
    source = LocalResultsSource(folder, demo)
    poll = source.poll()
    source.close()
    assert poll.reachable and poll.snapshot is not None
    return poll.snapshot


@pytest.fixture(scope="module")
def window():
    from kivy.base import EventLoop
    from kivy.core.window import Window
    EventLoop.ensure_window()
    return Window


def frames(n=8):
    from kivy.base import EventLoop
    for _ in range(n):
        EventLoop.idle()


@pytest.fixture
def make_projector(window, demo):
    made = []

    def make(size=(1280, 720), **settings):
        projector = projector_app.build_projector(demo, None, bundle_dir=DEMO_BUNDLE_DIR,
                                                  **settings)
        root = projector.root
        root.size_hint = (None, None)
        root.size = size
        window.add_widget(root)
        made.append(projector)
        frames(3)
        return projector

    yield make
    for projector in made:
        projector.stop()
        window.remove_widget(projector.root)


def labels(widget):
    from kivy.uix.label import Label
    return [w for w in widget.walk() if isinstance(w, Label) and w.opacity > 0 and w.text]


def plain(text):
    return re.sub(r"\[/?[a-z]+(=[^\]]*)?\]", "", text)


def all_text(widget):
    return "\n".join(plain(label.text) for label in labels(widget))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", list(MODES))
def test_every_view_in_every_language_and_size(make_projector, demo_results, size, mode):
    projector = make_projector(size, **MODES[mode])
    projector.receive(ResultsPoll(True, demo_results))
    SHOTS.mkdir(parents=True, exist_ok=True)
    words = {"fr": ["Pour", "À revoir", "Contre"], "it": ["A favore", "Da rivedere", "Contro"]}
    expected = (words["fr"] + words["it"]) if mode == "bilingual" else words[mode]
    for view in projector.state.views:
        projector.apply_control({"view": view})
        frames(10)
        text = all_text(projector.root)
        assert "jean.dupont" not in text and "424242" not in text  # nothing personal/pending
        assert "dupont" not in text.lower() and "rappelez" not in text
        if view == "q-colour":
            for word in expected:
                assert word in text, (mode, word)
            assert "%" in text
        if view == "participation":
            assert str(demo_results.contributions) in text
        if view == "ideas":
            assert "Wi-Fi sur la place du village" in text
            # An idea in another language than the room's has its language named.
            if mode == "it":
                assert "Proposta in francese" in text
            if mode == "fr":
                assert "Proposée en italien" in text and "Proposée en français" not in text
            if mode == "bilingual":
                assert "Proposée en" not in text and "Proposta in" not in text
        path = SHOTS / f"{view}-{mode}-{size[0]}x{size[1]}.png"
        projector.root.export_to_png(str(path))
        assert path.stat().st_size > 10_000
    if mode == "bilingual":
        projector.apply_control({"view": "q-ticket"})
        frames(4)
        text = all_text(projector.root)
        assert "Oui" in text and "Sì" in text


def test_hidden_results_show_no_figure_until_revealed(make_projector, demo, demo_results):
    projector = make_projector((1920, 1080), hidden=True)
    projector.receive(ResultsPoll(True, demo_results))
    content_texts = list(demo.title.values())
    for question in demo.questions:
        content_texts += [v for v in question.prompt.values()]
    for view in projector.state.views:
        projector.apply_control({"view": view})
        frames(4)
        for label in labels(projector.root):
            text = plain(label.text)
            for known in content_texts:
                text = text.replace(known, "")
            if label is projector.root.ids.indicators.__self__:
                text = re.sub(r"\b\d+/\d+\b", "", text)  # the view's position, not a result
            assert not re.search(r"\d", text), (view, label.text)
    projector.root.export_to_png(str(SHOTS / "hidden-fr-1920x1080.png"))
    projector.apply_control({"hidden": False, "view": "q-ticket"})
    frames(4)
    text = all_text(projector.root)
    assert re.search(r"\d+\s?%", text)
    counts = demo_results.questions["q-ticket"]["counts"]
    assert f"{counts['yes']} votes" in text


def test_keyboard_drives_the_display(make_projector, window, demo_results):
    projector = make_projector()
    projector.start()
    projector.receive(ResultsPoll(True, demo_results))
    first = projector.state.view
    window.dispatch("on_key_down", 275, 0, "", [])          # right arrow
    assert projector.state.view == projector.state.views[1] != first
    window.dispatch("on_key_down", ord("h"), 0, "h", [])
    assert projector.state.hidden
    frames(3)
    assert "la fin du vote" in all_text(projector.root)
    window.dispatch("on_key_down", ord("h"), 0, "h", [])
    window.dispatch("on_key_down", ord("b"), 0, "b", [])
    assert projector.state.bilingual == "side_by_side"
    window.dispatch("on_key_down", ord("p"), 0, "p", [])
    assert projector.state.view == "participation"
    window.dispatch("on_key_down", ord("q"), 0, "q", ["ctrl"])  # not ours
    assert projector.state.view == "participation"


def test_frozen_screen_keeps_its_figures_then_catches_up(make_projector, demo, demo_results):
    from dataclasses import replace
    projector = make_projector(view="q-ticket")
    projector.receive(ResultsPoll(True, demo_results))
    frames(3)
    before = all_text(projector.root)
    results = dict(demo_results.questions)
    ticket = dict(results["q-ticket"])
    ticket["counts"] = {"yes": 500, "no": 1, "abstain": 1}
    ticket["shares"] = {"yes": 0.996, "no": 0.002, "abstain": 0.002}
    results["q-ticket"] = ticket
    newer = replace(demo_results, questions=results, revision=(demo_results.revision or 0) + 1)
    projector.apply_control({"frozen": True})
    projector.receive(ResultsPoll(True, newer))
    frames(3)
    assert all_text(projector.root).replace("Écran figé", "").strip() \
        .startswith(before.split("\n")[0])
    assert "500 votes" not in all_text(projector.root)
    projector.apply_control({"frozen": False})
    frames(3)
    assert "500 votes" in all_text(projector.root)
    assert re.search(r"\b100\s%", all_text(projector.root))


def test_bars_move_smoothly_to_new_results(make_projector, demo_results):
    from dataclasses import replace
    projector = make_projector(view="q-ticket")
    projector.receive(ResultsPoll(True, demo_results))
    frames(3)
    view = projector.views["q-ticket"]
    bar = view.rows["yes"].ids.bar
    start = bar.fraction
    results = dict(demo_results.questions)
    results["q-ticket"] = {**results["q-ticket"], "shares": {"yes": 0.9, "no": 0.05,
                                                             "abstain": 0.05}}
    projector.receive(ResultsPoll(True, replace(demo_results, questions=results)))
    seen = []
    for _ in range(200):
        frames(1)
        seen.append(bar.fraction)
        if abs(bar.fraction - 0.9) < 1e-6:
            break
    assert abs(seen[-1] - 0.9) < 1e-6
    assert any(min(start, 0.9) < f < max(start, 0.9) for f in seen[:-1])  # in between


def test_unreachable_hub_keeps_the_last_results_and_says_so(make_projector, demo_results):
    projector = make_projector(view="q-ticket")
    projector.receive(ResultsPoll(True, demo_results))
    projector.receive(ResultsPoll(False, problem="Hub unreachable"))
    frames(3)
    status = plain(projector.root.ids.status.text)
    assert status == "Liaison coupée — derniers résultats affichés"
    counts = demo_results.questions["q-ticket"]["counts"]
    assert f"{counts['yes']} votes" in all_text(projector.root)
    projector.receive(ResultsPoll(True))
    frames(1)
    assert projector.root.ids.status.text == ""


def test_bad_controls_are_refused_with_a_readable_reason(make_projector):
    projector = make_projector(lang="it")
    before = projector.state
    reason = projector.apply_control({"view": "<script>alert(1)</script>", "hidden": True})
    assert reason.startswith("Vista sconosciuta")
    assert projector.state == before


def test_results_with_nasty_content_do_not_break_the_views(make_projector, demo,
                                                            demo_results):
    from dataclasses import replace
    projector = make_projector()
    nasty_idea = {"short_code": "X", "title": "[b]é🎉\x00\x07" + "long " * 500,
                  "text": "\u202e" + "🙂" * 3000, "theme": "<nope>"}
    questions = {q.id: {"kind": "garbage"} for q in demo.questions}
    questions["q-missing"] = {"total": 10 ** 12, "words": [["x" * 500, 10 ** 9], ["ok", "no"],
                                                           None]}
    snapshot = replace(demo_results, questions=questions, approved_ideas=(nasty_idea,))
    projector.receive(ResultsPoll(True, snapshot))
    for view in projector.state.views:
        projector.apply_control({"view": view})
        frames(2)
    assert projector.state.view == "participation"


NO_VOTE_YET_FR = "Pas encore de vote sur cette question."


def test_a_result_with_a_field_missing_or_renamed_shows_no_votes_yet(make_projector, demo,
                                                                     demo_results):
    """A hub of another version (or a damaged answer) names a field differently, leaves it out
    or sends it empty (null): each question's view says "no votes yet" rather than crashing
    or drawing a half-filled chart."""
    from dataclasses import replace
    for change in ("missing", "renamed", "null"):
        projector = make_projector()
        questions = {}
        for question in demo.questions:
            data = dict(demo_results.questions[question.id])
            field = next(k for k in data if k not in ("question", "kind", "ballots", "channels"))
            value = data.pop(field)
            if change == "renamed":
                data[field + "_v2"] = value
            if change == "null":        # before issue 25 the views read it as empty
                data[field] = None
            questions[question.id] = data
        projector.receive(ResultsPoll(True, replace(demo_results, questions=questions)))
        for question in demo.questions:
            projector.apply_control({"view": question.id})
            frames(2)
            view = projector.view_widget(question.id)
            assert view.empty, (change, question.id)
            assert view._empty_panel is not None and view._empty_panel.parent is view, \
                (change, question.id)
            assert NO_VOTE_YET_FR in all_text(projector.root), (change, question.id)
        projector.root.export_to_png(str(SHOTS / f"malformed-{change}-fr-1280x720.png"))


def _luminance(rgb):
    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_projector_palette_contrast():
    for fg, bg in TEXT_PAIRS:
        a, b = _luminance(PALETTE[fg]), _luminance(PALETTE[bg])
        ratio = (max(a, b) + 0.05) / (min(a, b) + 0.05)
        assert ratio >= 4.5, (fg, bg, round(ratio, 2))
    for fg in ("text", "text_muted"):
        a, b = _luminance(PALETTE[fg]), _luminance(PALETTE["background"])
        assert (max(a, b) + 0.05) / (min(a, b) + 0.05) >= 7


def _ratio(fg, bg):
    a, b = _luminance(fg), _luminance(bg)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


@pytest.mark.parametrize("mode", ["fr", "bilingual"])
def test_hidden_results_message_reads_at_4_5_to_1(make_projector, demo_results, mode):
    """The "results will be shown" message once measured 2.3:1: every colour it is drawn in
    (the label's, and the second language's markup colour) against the background behind it."""
    from screens.projector.app import PjHiddenPanel
    projector = make_projector((1920, 1080), hidden=True, **MODES[mode])
    projector.receive(ResultsPoll(True, demo_results))
    projector.apply_control({"view": "q-ticket"})
    frames(4)
    panel = next(w for w in projector.root.walk() if isinstance(w, PjHiddenPanel))
    message = next(label for label in labels(panel) if "résultats" in plain(label.text))
    background = PALETTE["background"]
    colours = [tuple(message.color)] + [
        tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
        for h in re.findall(r"\[color=#?([0-9a-fA-F]{6})\]", message.text)]
    assert len(colours) == (2 if mode == "bilingual" else 1)
    for colour in colours:
        assert _ratio(colour, background) >= 4.5, (colour, round(_ratio(colour, background), 2))
    assert message.font_size >= 40
    # The check is not vacuous: the faint grey the message once had fails it.
    assert _ratio((0.33, 0.36, 0.42), background) < 4.5


def _natural_lines(label):
    """The width of each line of a label's text as drawn without a box (nothing cut)."""
    from kivy.core.text.markup import MarkupLabel
    widths = []
    for line in label.text.split("\n"):
        core = MarkupLabel(text=line, font_size=label.font_size, bold=label.bold, markup=True)
        core.refresh()
        widths.append(core.texture.size[0] if core.texture else 0)
    return widths


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", list(MODES))
def test_the_title_bar_shows_the_whole_title_in_each_language(make_projector, demo, demo_results,
                                                            size, mode):
    """A bilingual title on one line was cut to "Alpi-Mediterraneo 2030: la ...": each language
    now has its own line, and the title and the participation figure fit whole."""
    projector = make_projector(size, **MODES[mode])
    projector.receive(ResultsPoll(True, demo_results))
    projector.apply_control({"view": "q-budget"})
    frames(6)
    root = projector.root
    langs = ["fr", "it"] if mode == "bilingual" else [mode]
    title = plain(root.ids.title.text)
    for lang in langs:
        assert demo.title[lang] in title.split("\n"), (lang, title)
    for label in (root.ids.title, root.ids.participation):
        assert label.text.count("\n") + 1 == len(langs)
        for width in _natural_lines(label):
            assert width <= label.width + 1, (mode, plain(label.text), width, label.width)
        # What is drawn: a line per language, none shortened, all inside the box.
        label.texture_update()
        drawn = ["".join(word.text for word in line.words)
                 for line in label._label._cached_lines]
        assert len([line for line in drawn if line.strip()]) == len(langs), (mode, drawn)
        assert not any(line.rstrip().endswith("...") for line in drawn), (mode, drawn)
        assert label.texture_size[1] <= label.height + 1, (mode, drawn)


def _cut_labels(root):
    """The labels of `root` whose text does not fit the box they are drawn in: wrapped to the
    box's width, taller than its height (Kivy drops the lines below); a shortened one ("…")
    too. [(text, what, the lines drawn)]."""
    from kivy.core.text.markup import MarkupLabel
    cut = []
    for label in labels(root):
        if label.width < 2 or label.height < 2:
            continue
        label.texture_update()
        drawn = "".join(w.text for line in label._label._cached_lines for w in line.words)
        if label.shorten and plain(label.text).strip() and plain(drawn) != plain(
                label.text).replace("\n", ""):
            cut.append((plain(label.text), "shortened", drawn))
            continue
        if label.text_size[1] is None:
            continue
        core = MarkupLabel(text=label.text, font_size=label.font_size, bold=label.bold,
                           markup=label.markup, text_size=(label.text_size[0], None),
                           halign=label.halign, line_height=label.line_height,
                           padding=label.padding, font_name=label.font_name)
        core.refresh()
        whole = ["".join(w.text for w in line.words) for line in core._cached_lines]
        shown = ["".join(w.text for w in line.words) for line in label._label._cached_lines]
        if len([x for x in whole if x.strip()]) > len([x for x in shown if x.strip()]):
            cut.append((plain(label.text), "lines dropped", shown))
    return cut


@pytest.mark.parametrize("mode", ["bilingual", "fr", "it"])
def test_the_views_at_1280x720_cut_nothing(make_projector, demo_results, mode):
    """Every view in French and Italian at once on a 1280×720 projector: every label's text
    whole in its box (the budget's and colours' project names, the themes' labels, the
    scale's median mark were cut or dropped a line)."""
    projector = make_projector((1280, 720), **MODES[mode])
    projector.receive(ResultsPoll(True, demo_results))
    cut = {}
    for view in projector.state.views:
        projector.apply_control({"view": view})
        frames(12)
        found = _cut_labels(projector.root)
        if found:
            cut[view] = found
        projector.root.export_to_png(str(SHOTS / f"{view}-{mode}-whole-1280x720.png"))
    assert not cut, "\n".join(f"{v}: {c}" for v, found in cut.items() for c in found)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_bilingual_scale_columns_read_from_the_back(make_projector, demo_results, size):
    """Bilingual at 1280×720 the scale's columns were 0 to 56 px tall, each its own height
    (the two languages' labels under them took the rest, four lines under "1", two under
    "5"): the five tracks now of one height, at least 8 % of the screen's (the figures on one
    line, the prompt a size down)."""
    from screens.projector.scale import PjScaleColumn
    projector = make_projector(size, **MODES["bilingual"])
    projector.receive(ResultsPoll(True, demo_results))
    projector.apply_control({"view": "q-cooperation"})
    frames(12)
    columns = [w for w in projector.root.walk() if isinstance(w, PjScaleColumn)]
    assert len(columns) == 5
    heights = [round(c.ids.column.height) for c in columns]
    projector.root.export_to_png(str(SHOTS / f"q-cooperation-columns-{size[0]}x{size[1]}.png"))
    assert max(heights) - min(heights) <= 1 and min(heights) >= 0.08 * size[1], heights
    assert not _cut_labels(projector.root)
