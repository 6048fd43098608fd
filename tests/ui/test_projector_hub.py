"""The projector on a real window, driven through a real hub on 127.0.0.1: a facilitator's tablet
hides the results through the hub's display endpoint and every number leaves the screen, on
every view, until the tablet reveals them; paper counts show in the breakdown line."""
import os
import re

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")

from app.paths import DEMO_BUNDLE_DIR  # noqa: E402

import screens.projector.app as projector_app  # noqa: E402
from app.store import Store  # noqa: E402
from sync.display import HubProjectorSource, send_display_control  # noqa: E402
from sync.enroll import client_for, enroll  # noqa: E402
from sync.worker import push_pending  # noqa: E402
from tests.integration.conftest import start_hub  # noqa: E402
from tests.ui.test_projector import SHOTS, all_text, frames, labels, plain  # noqa: E402


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    process = start_hub(tmp_path_factory.mktemp("hub"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def window():
    from kivy.base import EventLoop
    from kivy.core.window import Window
    EventLoop.ensure_window()
    return Window


def test_hidden_switch_through_the_hub_hides_every_number(hub, demo, window):
    tablet = Store.memory()
    enroll(tablet, hub.url, hub.code())
    for answer in ("yes", "yes", "no"):
        ballot = tablet.start_ballot(demo)
        tablet.record_answer(demo, ballot, "q-ticket", answer)
        tablet.record_answer(demo, ballot, "q-colour", {"p-bus": "green"})
        tablet.close_ballot(ballot)
    tablet.record_count(demo, "q-ticket", "paper", {"yes": 20, "no": 7})
    push_pending(tablet, client_for(tablet))

    source = HubProjectorSource(hub.url, demo.id)
    projector = projector_app.build_projector(demo, None, bundle_dir=DEMO_BUNDLE_DIR,
                                              rotating=False)
    root = projector.root
    root.size_hint = (None, None)
    root.size = (1280, 720)
    window.add_widget(root)
    try:
        def relay(control):
            send_display_control(tablet, demo, control)
            projector.receive(source.poll())
            frames(4)

        relay({"view": "q-ticket"})
        text = all_text(root)
        assert "22 votes" in text and "papier 27" in text.lower()   # breakdown line
        relay({"hidden": True})
        assert projector.state.hidden
        content_texts = list(demo.title.values())
        for question in demo.questions:
            content_texts += list(question.prompt.values())
        for view in projector.state.views:
            relay({"view": view})
            assert projector.state.view == view
            for label in labels(root):
                shown = plain(label.text)
                for known in content_texts:
                    shown = shown.replace(known, "")
                if label is root.ids.indicators.__self__:
                    shown = re.sub(r"\b\d+/\d+\b", "", shown)
                assert not re.search(r"\d", shown), (view, label.text)
        SHOTS.mkdir(parents=True, exist_ok=True)
        root.export_to_png(str(SHOTS / "hidden-through-hub-1280x720.png"))
        relay({"hidden": False, "view": "q-ticket"})
        assert not projector.state.hidden
        assert re.search(r"\d+\s?%", all_text(root))
        root.export_to_png(str(SHOTS / "revealed-through-hub-1280x720.png"))
    finally:
        window.remove_widget(root)
        source.close()
        tablet.close()


def test_the_projector_follows_the_hubs_stream(hub, demo, window):
    """The projector as main.py builds it (sync.display.projector_results: the results stream,
    polls as the fallback) on a real window: votes pushed to the hub and a facilitator's
    control show without a poll once the stream is live."""
    import time

    from sync.display import projector_results
    tablet = Store.memory()
    enroll(tablet, hub.url, hub.code())
    projector = projector_app.build_projector(
        demo, projector_results(demo, hub_url=hub.url), bundle_dir=DEMO_BUNDLE_DIR,
        rotating=False, view="q-ticket")
    root = projector.root
    root.size_hint = (None, None)
    root.size = (1280, 720)
    window.add_widget(root)

    def until(check, timeout=30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frames(2)
            if check():
                return True
            time.sleep(0.02)
        return False
    projector.start()
    try:
        feed = projector._poller
        assert until(lambda: feed.live.is_set() and projector.snapshot is not None)
        before = projector.snapshot.questions["q-ticket"]["ballots"]
        tablets = projector.snapshot.channels.get("tablet", 0)
        polls = feed.counts["polls"]
        for _ in range(3):
            ballot = tablet.start_ballot(demo)
            tablet.record_answer(demo, ballot, "q-ticket", "yes")
            tablet.close_ballot(ballot)
        push_pending(tablet, client_for(tablet))
        assert until(lambda: projector.snapshot.questions["q-ticket"]["ballots"] == before + 3)
        assert f"tablettes {tablets + 3}" in all_text(root)      # drawn on the window
        send_display_control(tablet, demo, {"view": "participation"})
        assert until(lambda: projector.state.view == "participation")
        assert feed.counts["polls"] == polls        # all of it came by the stream
        until(lambda: False, 1.5)                   # the view's transition drawn to its end
        SHOTS.mkdir(parents=True, exist_ok=True)
        root.export_to_png(str(SHOTS / "participation-by-stream-1280x720.png"))
        send_display_control(tablet, demo, {"view": "q-ticket"})
    finally:
        projector.stop()
        window.remove_widget(root)
        tablet.close()
