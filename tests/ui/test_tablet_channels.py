"""The facilitator's paper-count form and projector remote on a real window: counts typed in
reach the store's totals and breakdown, the last count is corrected by a new event, bad numbers
are refused with a translated message and change nothing, and the remote drives a real hub."""
import screens.facilitator  # noqa: F401  (kv rules before any widget)

import time
from types import SimpleNamespace

import pytest
from kivy.base import EventLoop
from kivy.core.window import Window

from app.kiosk import KioskSession
from app.store import Store
from screens.facilitator.counts import CountsPage
from screens.facilitator.projector import ProjectorPage
from screens.i18n import tr
from sync.display import DisplayControlSource, DisplayRemote
from sync.enroll import enroll
from tests.integration.conftest import start_hub


def step(n=4):
    for _ in range(n):
        EventLoop.idle()


def shell_of(store, consultation):
    """What a page reads from the facilitator screen: the session, and no sync service."""
    return SimpleNamespace(session=KioskSession(store, consultation), sync=None)


@pytest.fixture
def panel(demo):
    tr.lang = "fr"
    store = Store.memory()
    widget = CountsPage(shell=shell_of(store, demo), size_hint_x=None, width=1200)
    Window.add_widget(widget)
    step()
    widget.refresh()
    step()
    yield widget
    Window.remove_widget(widget)
    store.close()


def type_in(panel, numbers):
    for key, value in numbers.items():
        panel.fields[key].ids.field_input.text = value
    step(2)


def test_paper_count_typed_in_and_corrected(panel, demo):
    panel.pick_question("q-ticket")
    type_in(panel, {("yes",): "12", ("no",): "3"})
    panel.ids.record.dispatch("on_release")
    assert panel.message == "Décompte enregistré." and not panel.error
    assert panel.store.results(demo)["q-ticket"]["channels"]["paper"]["counts"]["yes"] == 12
    panel.ids.correct.dispatch("on_release")
    assert panel.fields[("yes",)].text == "12" and panel.correcting
    type_in(panel, {("yes",): "21"})
    panel.ids.record.dispatch("on_release")
    assert panel.store.results(demo)["q-ticket"]["counts"]["yes"] == 21
    assert len([e for e in panel.store.events() if e.type == "tally_count"]) == 2


def test_colour_cards_by_show_of_hands(panel, demo):
    panel.pick_question("q-colour")
    panel.pick_channel("show_of_hands")
    assert len(panel.fields) == 3 * len(demo.question("q-colour").projects)
    type_in(panel, {("p-bus", "green"): "30", ("p-bus", "red"): "4"})
    panel.ids.record.dispatch("on_release")
    result = panel.store.results(demo)["q-colour"]
    assert result["channels"]["show_of_hands"]["projects"]["p-bus"]["counts"]["green"] == 30


def test_colour_counts_are_one_row_per_project(panel, demo):
    """The colour question: the project's name once, then its three numbers, each labelled
    with its word (not 18 fields each repeating the project's name)."""
    panel.pick_question("q-colour")
    step(3)
    rows = list(reversed(panel.ids.form.children))
    projects = demo.question("q-colour").projects
    assert len(rows) == len(projects)
    for row, project_id in zip(rows, projects):
        assert row.title == demo.project(project_id).title["fr"]
        fields = list(reversed(row.ids.numbers.children))
        assert [f.label for f in fields] == ["Pour", "À revoir", "Contre"]
        assert fields == [panel.fields[(project_id, c)] for c in ("green", "orange", "red")]
        assert row.orientation == "horizontal"                # 1200 px: one line each
        assert len({round(f.width) for f in fields}) == 1 and fields[0].y == fields[2].y
    channels = [c.text for c in reversed(panel.ids.channels.children)]
    assert channels == ["Papier", "Main levée"]
    type_in(panel, {("p-bike", "orange"): "7"})
    panel.ids.record.dispatch("on_release")
    result = panel.store.results(demo)["q-colour"]
    assert result["channels"]["paper"]["projects"]["p-bike"]["counts"]["orange"] == 7


def test_projector_remote_lists_views_evenly_under_its_heading(demo):
    tr.lang = "fr"
    store = Store.memory()
    widget = ProjectorPage(shell=shell_of(store, demo), remote=None, size_hint_x=None,
                           width=900)
    Window.add_widget(widget)
    try:
        widget.refresh()
        step(6)
        heading = widget.ids.heading
        switches = widget.ids.switches
        assert heading.y - switches.top >= 10                  # the heading does not touch
        assert len({round(c.height) for c in switches.children}) == 1
        views = widget.ids.views.children
        assert len(views) == len(demo.questions) + 2          # every question, ideas, figures
        assert len({round(v.width) for v in views}) == 1       # one column, same width
        one_line = [v for v in views if v.texture_size[1] < 40]
        assert len({round(v.height) for v in one_line}) == 1   # same height when one line
        widget.ids.hide.dispatch("on_release")                 # not enrolled: says so
        assert widget.error == "Cette tablette n'est pas encore enrôlée auprès d'un serveur."
    finally:
        Window.remove_widget(widget)
        store.close()


@pytest.mark.parametrize("typed, message", [
    ({("yes",): "-3"}, "Un nombre entier de voix est attendu ici."),
    ({("yes",): "1000000"}, "On ne peut pas compter plus de 100000 voix pour une réponse."),
    ({("yes",): "🙂"}, "Un nombre entier de voix est attendu ici."),
    ({}, "Ces décomptes ne contiennent aucune voix."),
])
def test_bad_numbers_are_refused_and_change_nothing(panel, typed, message):
    panel.pick_question("q-ticket")
    for key, value in typed.items():
        panel.fields[key].text = value          # past the input filter, as a paste would
    panel.ids.record.dispatch("on_release")
    assert panel.error == message
    assert panel.store.events() == []


def test_remote_drives_the_projector_through_a_real_hub(tmp_path, demo):
    hub = start_hub(tmp_path / "hub")
    try:
        store = Store.open(tmp_path / "tablet")
        enroll(store, hub.url, hub.code())
        store.close()
        tr.lang = "it"
        remote = DisplayRemote(tmp_path / "tablet" / "piazzetta.sqlite3", demo)
        widget = ProjectorPage(shell=shell_of(Store.memory(), demo), remote=remote,
                               size_hint_x=None, width=1200)
        Window.add_widget(widget)
        widget.refresh()
        step()
        watcher = DisplayControlSource(hub.url, demo.id)
        widget.ids.hide.dispatch("on_release")
        deadline = time.monotonic() + 10
        while widget.busy and time.monotonic() < deadline:
            step(1)
            time.sleep(0.02)
        assert widget.hidden and not widget.error, widget.error
        assert watcher.poll()["hidden"] is True
        widget.send({"view": "nowhere"})
        step(2)
        assert widget.error == "Vista sconosciuta: nowhere." or widget.error
        Window.remove_widget(widget)
        watcher.close()
    finally:
        tr.lang = "fr"
        hub.stop()
