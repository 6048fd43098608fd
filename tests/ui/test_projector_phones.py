"""The projector's "vote on your phone" view (issue 29) on a real window: when a facilitator
opens questions to phones (a display control), the projector shows the phones' address as a
QR and in short text, large enough for the back of a hall, and the count of phone answers
arriving; closing them brings the results back. Screenshots in FR and IT
(build/screenshots/projector/phones-*.png)."""
import pytest

from sync.results_source import ResultsPoll, ResultsSnapshot
from tests.ui.test_projector import (SHOTS, all_text, frames, labels,  # noqa: F401
                                     make_projector, window)

HUB = "https://192.168.1.20:8765"
MIN_AT_1080 = 40


def snapshot(demo, phones: int, revision: int) -> ResultsSnapshot:
    from app.counts import ChannelTally
    questions = {}
    for question in demo.questions:
        tally = ChannelTally(demo, question)
        if question.id == "q-ticket":
            for i in range(phones):
                tally.add("yes" if i % 3 else "no", channel="phone")
            tally.add("yes")
        questions[question.id] = tally.result()
    return ResultsSnapshot(consultation_id=demo.id, questions=questions, ballots=phones + 1,
                           revision=revision, channels={"tablet": 1, "phone": phones})


@pytest.mark.parametrize("lang", ["fr", "it"])
@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[1]}p")
def test_the_phone_view_is_read_from_the_back_of_the_hall(make_projector, demo, lang, size):
    projector = make_projector(size, lang=lang)
    projector.phone_base = HUB
    projector.receive(ResultsPoll(True, snapshot(demo, 0, 1)))
    projector.apply_control({"phones": ["q-ticket"], "view": "q-ticket"})
    frames(6)
    text = all_text(projector.root)
    assert "192.168.1.20:8765\n/v/alpimed-2030" in text and "https://" not in text
    assert ("Votez avec votre téléphone" if lang == "fr" else "Votate con il vostro telefono") in text
    panel = projector.phones_panel
    assert panel is not None and panel.count == "0"
    # Answers arrive: the count follows, live.
    projector.receive(ResultsPoll(True, snapshot(demo, 37, 2)))
    frames(4)
    assert projector.phones_panel.count == "37"
    from kivy.uix.image import Image
    qr = next(w for w in projector.root.walk() if isinstance(w, Image) and w.width > 0)
    assert qr.width >= size[1] * 0.45, qr.width         # the QR takes half the screen's height
    floor = MIN_AT_1080 * size[1] / 1080 - 0.5
    small = [(label.text[:30], round(label.font_size, 1)) for label in labels(projector.root)
             if label.font_size < floor]
    assert not small, small
    # The view's fade-in over (0.35 s of real time): the picture as the hall sees it.
    import time
    body, deadline = projector.root.ids.body, time.monotonic() + 5
    while body.opacity < 1 and time.monotonic() < deadline:
        frames(1)
    assert body.opacity == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    projector.root.export_to_png(str(SHOTS / f"phones-{lang}-{size[0]}x{size[1]}.png"))
    # Closed: the question's results again, with the phones' votes in its breakdown.
    projector.apply_control({"phones": []})
    frames(4)
    assert projector.phones_panel is None
    assert "192.168.1.20" not in all_text(projector.root)


def test_no_hub_no_phone_view(make_projector, demo):
    projector = make_projector((1280, 720))
    projector.apply_control({"phones": ["q-ticket"]})
    frames(3)
    assert projector.phones_panel is None


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[1]}p")
def test_a_whole_share_stays_on_one_line(make_projector, demo, size):
    """'100 %' beside a yes/no bar is read from the back of the hall on one line, not '100'
    with its '%' under it."""
    projector = make_projector(size, lang="fr")
    projector.receive(ResultsPoll(True, snapshot(demo, 0, 1)))     # one yes: 100 %
    projector.apply_control({"view": "q-ticket"})
    frames(6)
    shares = [label for label in labels(projector.root)
              if label.text.startswith("100") and label.text.endswith("%")]
    assert shares
    from kivy.core.text import Label as CoreLabel
    for label in shares:
        unwrapped = CoreLabel(text=label.text, font_size=label.font_size, bold=label.bold,
                              font_name=label.font_name)
        unwrapped.refresh()
        room = label.width - label.padding[0] - label.padding[2]
        assert unwrapped.texture.width <= room, (label.text, unwrapped.texture.width, room)
