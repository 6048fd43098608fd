"""Issue 30's rehearsal, played on a real kiosk window against a real hub process (HTTP on
127.0.0.1): the facilitator starts a rehearsal behind the PIN, every kiosk screen carries the
band, residents tap, the taps reach the hub and a projector in rehearsal shows them alone;
then the facilitator opens the session, real residents vote, and the rehearsal taps appear
nowhere (results, exports, figures), a rehearsal event replayed is refused. Screenshots FR/IT
of the marked kiosk and projector."""
import json
import os

import pytest
import requests
from kivy.metrics import dp

from app.paths import DEMO_BUNDLE_DIR
from screens.i18n import tr
from sync.enroll import client_for, enroll
from sync.results_source import HubResultsSource
from sync.worker import push_pending
from tests.integration.conftest import start_hub
from tests.ui.conftest import SHOTS, shown, step
from tests.ui.test_facilitator import enter_facilitator
from tests.ui.test_resident import start

pytestmark = pytest.mark.process


@pytest.fixture
def hub(tmp_path):
    process = start_hub(tmp_path / "hub")
    yield process
    process.stop()


def rehearsal_results(hub, consultation_id):
    answer = requests.get(f"{hub.url}/api/v1/consultations/{consultation_id}/rehearsal/results",
                          timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def real_results(hub, consultation_id):
    answer = requests.get(f"{hub.url}/api/v1/consultations/{consultation_id}/results",
                          timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def vote_on_ticket(k, choice):
    """One resident: green for the first project, skips the five others, `choice` on the
    yes/no question, then finishes."""
    start(k)
    q = k.root.question
    k.tap(k.body().ids.green)
    for _ in range(5):
        k.tap(q.ids.skip)
    assert k.session.question.kind == "yes_no"
    k.tap(k.body().ids[choice])
    k.root.finish()
    k.settle()


def band_is_shown(k):
    band, manager = k.root.band, k.root.manager
    step(3)
    assert k.root.rehearsal and band.opacity == 1
    assert band.height >= dp(48) and band.top == pytest.approx(k.root.top, abs=1)
    assert manager.top <= band.y + 0.5          # the screens sit below it, never under it
    assert "RÉPÉTITION" in band.text or "PROVA" in band.text
    return band


def test_a_rehearsal_played_then_the_session_opened_counts_nowhere(hub, kiosk_factory, demo,
                                                                    window):
    k = kiosk_factory()
    enroll(k.store, hub.url, hub.code())
    client = client_for(k.store)

    fac = enter_facilitator(k)
    page = fac.ids.pages.get_screen("session")
    k.tap(page.ids.rehearsal_toggle)
    assert k.store.rehearsal_id is not None and page.rehearsal
    band_is_shown(k)                         # the facilitator's screens too
    k.shot("rehearsal_session_page", "fr")
    k.tap(fac.ids.back)
    k.settle()
    assert k.root.current == "welcome"
    band_is_shown(k)
    k.shot("rehearsal_welcome", "fr")

    vote_on_ticket(k, "yes")
    start(k)
    band_is_shown(k)
    k.shot("rehearsal_question", "fr")
    tr.lang = "it"
    step(3)
    assert "PROVA" in band_is_shown(k).text
    k.shot("rehearsal_question", "it")
    k.root.finish()
    k.settle()
    tr.lang = "it"                 # the welcome comes back in the default language
    step(3)
    k.shot("rehearsal_welcome", "it")
    vote_on_ticket(k, "yes")
    assert k.store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0

    # The taps reach the hub, kept apart: the projector in rehearsal shows them alone.
    replay = [e.envelope(k.store.device_id) for e in k.store.pending_events()]
    assert {e["type"] for e in replay} == {"rehearsal_started", "rehearsal_answer"}
    push_pending(k.store, client)
    shown = rehearsal_results(hub, demo.id)
    assert shown["rehearsal"] is True and shown["ballots"] == 2
    assert shown["questions"]["q-ticket"]["counts"]["yes"] == 2
    real = real_results(hub, demo.id)
    assert real["ballots"] == 0 and real["questions"]["q-ticket"]["counts"]["yes"] == 0
    projector_in_rehearsal(hub, demo, window)

    # The facilitator opens the session: wiped here and at the hub.
    fac = enter_facilitator(k)
    page = fac.ids.pages.get_screen("session")
    k.tap(page.ids.rehearsal_toggle)
    assert k.store.rehearsal_id is None and not page.rehearsal
    assert "4" in page.ids.rehearsal_note.text     # two residents, two answers each
    k.shot("rehearsal_session_opened", "fr")
    k.tap(fac.ids.back)
    k.settle()
    step(3)
    assert not k.root.rehearsal and k.root.band.opacity == 0
    assert k.root.manager.height == pytest.approx(k.root.height, abs=1)
    push_pending(k.store, client)
    assert rehearsal_results(hub, demo.id)["ballots"] == 0

    # Real votes, then the rehearsal replayed over HTTP: refused, counted nowhere.
    vote_on_ticket(k, "no")
    push_pending(k.store, client)
    acks = client.push(replay)
    answers = [e["id"] for e in replay if e["type"] == "rehearsal_answer"]
    assert {acks[i]["status"] for i in answers} == {"rejected"}
    assert {acks[i]["code"] for i in answers} == {"rehearsal_over"}
    real = real_results(hub, demo.id)
    assert real["ballots"] == 1
    assert real["questions"]["q-ticket"]["counts"] == {"yes": 0, "no": 1, "abstain": 0}
    assert rehearsal_results(hub, demo.id)["ballots"] == 0
    exported = hub.cli("export", "results", "--consultation", demo.id, "--format", "json")
    assert exported.returncode == 0, exported.stderr
    rows = json.loads(exported.stdout)
    text = json.dumps(rows)
    assert '"yes"' in text          # the export names the option; its count is the real one
    exported_csv = hub.cli("export", "results", "--consultation", demo.id).stdout.splitlines()
    assert f"{demo.id},1,q-ticket,yes_no,yes,counts,0" in exported_csv
    assert f"{demo.id},1,q-ticket,yes_no,no,counts,1" in exported_csv
    # The tablet's own figures: one ballot, the real one.
    assert k.store.figures(demo.id)["ballots"] == 1
    assert k.store.results(demo)["q-ticket"]["counts"] == {"yes": 0, "no": 1, "abstain": 0}


def projector_in_rehearsal(hub, demo, window):
    """A projector started in rehearsal reads the rehearsal's tally from the hub and carries
    the band in both languages."""
    import screens.projector.app as projector_app
    from tests.ui.test_projector import SHOTS as PROJECTOR_SHOTS, frames, plain
    projector = projector_app.build_projector(demo, None, bundle_dir=DEMO_BUNDLE_DIR,
                                              rotating=False, rehearsal=True)
    root = projector.root
    root.size_hint = (None, None)
    root.size = window.size          # over the whole kiosk drawn beneath
    window.add_widget(root)
    try:
        source = HubResultsSource(hub.url, demo.id, rehearsal=True)
        poll = source.poll()
        assert poll.snapshot is not None and poll.snapshot.rehearsal
        assert poll.snapshot.questions["q-ticket"]["counts"]["yes"] == 2
        projector.receive(poll)
        projector.apply_control({"view": "q-ticket"})
        frames(8)
        band = plain(root.ids.rehearsal.text)
        assert "RÉPÉTITION" in band and "PROVA" in band and root.ids.rehearsal.height > 0
        folder = PROJECTOR_SHOTS / "fr"
        folder.mkdir(parents=True, exist_ok=True)
        from tests.ui.conftest import screenshot
        written = screenshot(str(folder / f"projector_rehearsal.{os.getpid()}.png"))
        os.replace(written, folder / "projector_rehearsal.png")
    finally:
        projector.stop()
        window.remove_widget(root)


@pytest.mark.parametrize("size, text_size", [((800, 1280), "very_large"),
                                             ((1280, 800), "large")])
def test_the_band_marks_every_screen_in_both_orientations_and_large_text(kiosk_factory, size,
                                                                          text_size):
    from tests.ui.conftest import set_size
    set_size(*size)
    k = kiosk_factory(text_size=text_size)
    k.session.start_rehearsal()
    k.root.settings_changed()
    name = f"rehearsal_{'portrait' if size[0] < size[1] else 'landscape'}_{text_size}"
    for lang in ("fr", "it"):
        tr.lang = lang
        step(3)
        band = band_is_shown(k)
        assert band.texture_size[0] <= band.width      # never cut at the sides
        k.shot(name + "_welcome", lang)
        start(k)
        band_is_shown(k)
        k.shot(name + "_question", lang)
        k.root.reset_resident()
        k.settle()
    assert k.store.conn.execute("SELECT count(*) FROM ballots").fetchone()[0] == 0


def test_an_idea_typed_in_rehearsal_is_refused_and_gone_once_the_session_opens(kiosk_factory):
    k = kiosk_factory()
    k.session.start_rehearsal()
    k.root.settings_changed()
    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    k.type(idea.ids.title, "Un banc à l'ombre")
    k.type(idea.ids.text, "Sur la place, près de la fontaine.")
    k.tap(idea.ids.send)
    assert k.root.current == "idea" and "Répétition" in idea.error
    step(6)
    assert shown(idea.ids.form_error)              # brought into view, not left below
    k.shot("rehearsal_idea_refused", "fr")
    # The facilitator opens the session from here: the typed idea does not survive it.
    fac = enter_facilitator(k)
    page = fac.ids.pages.get_screen("session")
    k.tap(page.ids.rehearsal_toggle)
    k.tap(fac.ids.back)
    k.settle()
    assert k.root.current == "welcome" and not k.root.rehearsal
    assert idea.ids.title.text == "" and idea.ids.text.text == ""
    assert k.store.conn.execute("SELECT count(*) FROM proposals").fetchone()[0] == 0


def _contrast(a, b) -> float:
    def luminance(rgb):
        def channel(c):
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b = (channel(c) for c in rgb[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("high_contrast", [False, True])
def test_the_bands_bottom_edge_shows_on_either_palette(kiosk_factory, high_contrast):
    """The band ends in a line the eye can follow between it and the screen below: on the
    high-contrast palette's black, a black line vanished (the yellow just stopped)."""
    from PIL import Image

    from screens.theme import theme
    k = kiosk_factory(high_contrast=high_contrast)
    k.session.start_rehearsal()
    k.root.settings_changed()
    for lang in ("fr", "it"):
        tr.lang = lang
        band = band_is_shown(k)
        assert theme.high_contrast == high_contrast
        shot = k.shot(f"rehearsal_edge_{'high_contrast' if high_contrast else 'standard'}",
                      lang)
        with Image.open(shot) as image:
            pixels = image.convert("RGB")
            height = pixels.height
            x = int(band.center_x)
            edge = pixels.getpixel((x, height - 1 - int(band.y + dp(2))))
            below = pixels.getpixel((x, height - 1 - int(band.y - dp(6))))
        # Visible against the screen below (WCAG's 3:1 for a line that carries meaning).
        assert _contrast(edge, below) >= 3, (edge, below)
