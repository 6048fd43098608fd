"""Reading QR codes with the camera (screens/widgets/qr_scanner.py), on a real window and
without a camera: frames are fed through the very methods the camera path calls
(`process_texture` for a texture read back from the GPU, `process_frame` for a preview buffer),
decoded on the worker thread, and reported once per code to the facilitator's enrollment and
the card entry. This machine has no camera provider for Kivy: the scanner must say so."""
import io
import time

import pytest
from kivy.core.window import Window
from kivy.graphics.texture import Texture
from PIL import Image

from app.qr import qr_png
from app.qr_decode import qr_decoder_available
from screens.i18n import tr
from screens.widgets import qr_scanner
from screens.widgets.qr_scanner import QrScanner, camera_available
from tests.ui.conftest import SHOTS, screenshot, step
from tests.ui.test_facilitator import FakeSync, enter_facilitator

ENROLL = "piazzetta://enroll?hub=http://127.0.0.1:8765&code=ABCD-EFGH"

pytestmark = pytest.mark.skipif(not qr_decoder_available(),
                                reason="pyzbar or libzbar0 missing: run `make setup`")


def frame_of(text, canvas=(640, 480)):
    """A camera-sized grey frame with the QR of `text` in the middle."""
    qr = Image.open(io.BytesIO(qr_png(text, box_size=6))).convert("L")
    frame = Image.new("L", canvas, 200)
    frame.paste(qr, ((canvas[0] - qr.width) // 2, (canvas[1] - qr.height) // 2))
    return frame


def texture_of(image):
    """A GPU texture holding `image` the way a camera provider uploads a frame."""
    rgba = image.convert("RGBA")
    texture = Texture.create(size=rgba.size, colorfmt="rgba")
    texture.blit_buffer(rgba.transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes(),
                        colorfmt="rgba", bufferfmt="ubyte")
    return texture


def wait_for(condition, seconds=10.0):
    """Step frames (the worker reports through the Clock) until `condition()` holds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        step(1)
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class EnrollingSync(FakeSync):
    def __init__(self):
        super().__init__()
        self.qr_texts = []

    def enroll_from_qr(self, text):
        self.qr_texts.append(text)
        self.enrolled_with = "http://127.0.0.1:8765"


@pytest.fixture
def no_camera_probe_cache():
    """Each test decides whether a camera "exists"; the real probe's answer comes back after."""
    saved = qr_scanner._camera_found
    yield
    qr_scanner._camera_found = saved


def test_this_machine_has_no_camera_and_the_scanner_says_so(window, no_camera_probe_cache):
    qr_scanner._camera_found = None
    assert camera_available() is False        # no OpenCV nor GStreamer here: nothing to open
    tr.lang = "fr"
    scanner = QrScanner(size_hint=(None, None), size=(700, 500))
    Window.add_widget(scanner)
    try:
        scanner.start()
        step(3)
        assert scanner.status == "no_camera" and scanner.camera is None
        assert scanner.ids.problem.text == \
            "Aucune caméra sur cet appareil\u00a0: saisissez plutôt le code."
        tr.lang = "it"
        step(2)
        assert "Nessuna fotocamera" in scanner.ids.problem.text
        cancelled = []
        scanner.bind(on_cancel=lambda *_a: cancelled.append(True))
        scanner.ids.cancel.dispatch("on_press")
        scanner.ids.cancel.dispatch("on_release")
        assert cancelled == [True] and scanner.status == "no_camera"
    finally:
        scanner.stop()
        Window.remove_widget(scanner)
        tr.lang = "fr"


def test_a_missing_camera_provider_does_not_crash_the_scanner(window, no_camera_probe_cache):
    # The probe is wrong (it says there is a camera): opening it fails, the scanner says so.
    qr_scanner._camera_found = True
    scanner = QrScanner(size_hint=(None, None), size=(700, 500))
    Window.add_widget(scanner)
    try:
        scanner.start()
        step(3)
        assert scanner.status == "no_camera" and scanner.camera is None
        assert scanner.ids.view.children == [scanner.ids.problem, scanner.ids.aim]
    finally:
        scanner.stop()
        Window.remove_widget(scanner)


def test_textures_are_read_the_right_way_up(window):
    from app.qr_decode import image_from_pixels
    picture = Image.new("L", (8, 4), 0)
    picture.putpixel((0, 0), 255)                          # the top-left pixel is white
    rgb = picture.convert("RGB")
    # As Kivy's OpenCV and GStreamer camera providers do: rows top down, texture flipped.
    provider_style = Texture.create(size=rgb.size, colorfmt="rgb")
    provider_style.flip_vertical()
    provider_style.blit_buffer(rgb.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
    # As OpenGL has it: rows bottom up.
    gl_style = texture_of(picture)
    for texture in (provider_style, gl_style):
        pixels, size, bottom_up = qr_scanner.texture_frame(texture)
        seen = image_from_pixels(pixels, size, bottom_up=bottom_up, max_side=None)
        assert seen.getpixel((0, 0)) == 255 and seen.getpixel((0, 3)) == 0


def test_frames_are_decoded_off_the_ui_thread_and_each_code_reported_once(window):
    import threading
    scanner = QrScanner(size_hint=(None, None), size=(700, 500))
    Window.add_widget(scanner)
    read = []
    scanner.bind(on_text=lambda _s, text: read.append((text, threading.current_thread().name)))
    try:
        scanner.start()
        # The texture path (what the desktop camera providers give): pixels read back from the
        # GPU, bottom up, decoded on the worker.
        scanner.process_texture(texture_of(frame_of(ENROLL)))
        assert wait_for(lambda: read)
        assert read == [(ENROLL, threading.main_thread().name)]
        # The same code again, in later frames: not reported twice.
        for _ in range(3):
            scanner.process_texture(texture_of(frame_of(ENROLL)))
            wait_for(lambda: False, 0.3)
        # The preview-buffer path (Android's NV21: the grey plane first, top down).
        other = "PZC1.ABCDEFGHJK.c2lnbmF0dXJl"
        grey = frame_of(other).tobytes()
        scanner.process_frame(grey + b"\x80" * (len(grey) // 2), (640, 480))
        assert wait_for(lambda: len(read) == 2)
        wait_for(lambda: False, 0.3)
        assert [t for t, _thread in read] == [ENROLL, other]
        assert scanner.decoded == [ENROLL, other]
        # Nothing to read, or garbage the size of no frame: nothing reported, nothing broken.
        scanner.process_frame(b"\xff" * (640 * 480), (640, 480))
        scanner.process_frame(b"\x00" * 17, (640, 480))
        wait_for(lambda: False, 0.5)
        assert len(read) == 2
        # A new session reports a code again; a frame of a stopped session reports nothing.
        scanner.start()
        scanner.process_frame(grey, (640, 480))
        assert wait_for(lambda: len(read) == 3)
        scanner.process_frame(grey, (640, 480))
        scanner.stop()
        wait_for(lambda: False, 0.5)
        assert len(read) == 3
    finally:
        scanner.stop()
        Window.remove_widget(scanner)


def shot_of_popup(k, name, lang):
    """A screenshot with the popup over the screen (Kiosk.shot checks the kiosk's own buttons,
    the popup's are checked here)."""
    from kivy.metrics import dp
    popup = [w for w in Window.children if isinstance(w, qr_scanner.QrScanPopup)][0]
    cancel = popup.ids.scanner.ids.cancel
    assert min(cancel.size) >= dp(48) - 0.5
    return k.shot(name, lang)


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_facilitator_scans_the_enrollment_qr(kiosk_factory, lang, no_camera_probe_cache):
    k = kiosk_factory(lang=lang)
    fac = enter_facilitator(k)
    fac.sync = EnrollingSync()
    qr_scanner._camera_found = False
    k.tap(fac.nav_buttons["sync"])
    page = fac.ids.pages.get_screen("sync")
    # No camera here: the button is shown disabled, and a line says why.
    assert page.ids.scan.disabled and page.ids.scan_note.text
    k.shot("30-sync-no-camera", lang)
    # With a camera (as on a tablet), the button is offered beside the code field.
    qr_scanner._camera_found = True
    fac.refresh()
    step(2)
    assert not page.ids.scan.disabled and not page.ids.scan_note.text
    assert page.ids.scan.y <= page.ids.code.input.top and \
        page.ids.scan.top >= page.ids.code.input.y, "the button sits beside the code field"
    k.shot("30-sync-scan", lang)
    k.tap(page.ids.scan)
    popup = page.scan_popup
    assert popup is not None and popup in Window.children
    scanner = popup.ids.scanner
    # The camera cannot open on this machine (no provider): the popup says so, nothing breaks.
    assert scanner.status == "no_camera"
    shot_of_popup(k, "30-scanner-no-camera", lang)
    # A frame holding the enrollment QR, through the camera path's method: the popup closes
    # and the text goes where a typed QR text goes (SyncService.enroll_from_qr).
    scanner.process_texture(texture_of(frame_of(ENROLL)))
    assert wait_for(lambda: fac.sync.qr_texts and not page.busy)
    assert fac.sync.qr_texts == [ENROLL]
    assert popup not in Window.children and scanner.status != "scanning"
    assert page.ids.code.text == ENROLL
    assert page.message in ("This tablet is now enrolled.", tr._("This tablet is now enrolled."))
    assert "127.0.0.1:8765" in page.ids.status.text


def test_cancel_closes_the_scanner_and_enrolls_nothing(kiosk_factory, no_camera_probe_cache):
    k = kiosk_factory()
    fac = enter_facilitator(k)
    fac.sync = EnrollingSync()
    qr_scanner._camera_found = True
    k.tap(fac.nav_buttons["sync"])
    popup = fac.pages["sync"].scan_enrollment()
    step(2)
    cancel = popup.ids.scanner.ids.cancel
    cancel.dispatch("on_press")
    cancel.dispatch("on_release")
    step(2)
    assert popup not in Window.children
    # A frame arriving after the popup closed is not enrolled.
    popup.ids.scanner.process_frame(frame_of(ENROLL).tobytes(), (640, 480))
    wait_for(lambda: False, 0.5)
    assert fac.sync.qr_texts == [] and not fac.pages["sync"].busy


# -- the identified ballot mode: the participation card shown to the camera ---------------------

from app.cards import Card  # noqa: E402
CARD_SEED = None


def identified_kiosk(kiosk_factory, lang):
    from app.cards import CARD_KEYS, CARD_PUBLIC_KEY, card_public_key, card_signing_seed
    global CARD_SEED
    CARD_SEED = card_signing_seed("camera-test-hub-secret")
    k = kiosk_factory(lang=lang, ballot_mode="identified")
    k.store.set_setting(CARD_PUBLIC_KEY, card_public_key(CARD_SEED))
    k.store.set_setting(CARD_KEYS, {CARD_CODE.consultation_id: {
        CARD_CODE.lookup: CARD_CODE.public_key()}})
    return k


CARD_CODE = Card("alpimed-2030", "QRCA", "M234567898765")


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_a_resident_shows_the_card_to_the_camera(kiosk_factory, lang, no_camera_probe_cache):
    from app.cards import card_signing_seed, sign_card
    qr_scanner._camera_found = True              # as on a tablet with a camera
    k = identified_kiosk(kiosk_factory, lang)
    k.tap(k.root.welcome.ids.start)
    card = k.root.card_entry
    assert k.root.current == "card" and card.camera_ready
    assert card.ids.scan.opacity == 1 and not card.ids.scan.disabled
    assert {"fr": "caméra", "it": "fotocamera"}[lang] in card.ids.help.text   # says so
    k.shot("30-card-camera", lang)

    # A forged card, through the camera: refused with the reason, the resident stays here.
    k.tap(card.ids.scan)
    popup = card.scan_popup
    assert popup in Window.children
    # (a card its hub never passed on: another hub's QR is genuine only for a card it holds)
    forged = sign_card(card_signing_seed("another hub"),
                       Card(CARD_CODE.consultation_id, "XY23", CARD_CODE.secret))
    popup.ids.scanner.process_texture(texture_of(frame_of(forged)))
    assert wait_for(lambda: popup not in Window.children)
    step(2)
    assert k.root.current == "card" and card.error and card.ids.card.text == ""
    assert k.store.events() == []

    # The real card: accepted, the ballot starts, answers carry the card's proof.
    k.tap(card.ids.scan)
    popup = card.scan_popup
    popup.ids.scanner.process_texture(texture_of(frame_of(sign_card(CARD_SEED, CARD_CODE))))
    assert wait_for(lambda: k.root.current == "question")
    k.settle()
    assert popup not in Window.children and k.session.card == CARD_CODE
    body = k.body()
    for _ in k.session.question.projects:
        k.tap(body.ids.green)
    answers = [e for e in k.store.events() if e.type == "answer"]
    from app.cards import verify_proof
    assert answers and all(verify_proof(CARD_CODE.public_key(), e.payload["proof"],
                                        CARD_CODE.consultation_id, "q-colour",
                                        e.payload["ballot_id"], e.payload["value"],
                                        lookup=CARD_CODE.lookup)
                           for e in answers)


def test_no_camera_no_scan_button_on_the_card_screen(kiosk_factory, no_camera_probe_cache):
    qr_scanner._camera_found = False
    k = identified_kiosk(kiosk_factory, "fr")
    k.tap(k.root.welcome.ids.start)
    card = k.root.card_entry
    assert not card.camera_ready and card.ids.scan.disabled and card.ids.scan.opacity == 0
    assert "caméra" not in card.ids.help.text and "lecteur" in card.ids.help.text
    step(2)
    field_bottom = card.ids.card.to_window(card.ids.card.x, card.ids.card.y)[1]
    buttons = card.ids.buttons
    buttons_top = buttons.to_window(buttons.x, buttons.y)[1] + buttons.height
    spacing = field_bottom - buttons_top                  # no hole where the button would be
    assert 0 < spacing < 40


def test_the_camera_closes_when_the_kiosk_resets(kiosk_factory, no_camera_probe_cache):
    qr_scanner._camera_found = True
    k = identified_kiosk(kiosk_factory, "fr")
    k.tap(k.root.welcome.ids.start)
    card = k.root.card_entry
    k.tap(card.ids.scan)
    popup = card.scan_popup
    assert popup in Window.children
    k.root.reset_resident()                       # the idle timer ran out
    k.settle()
    step(2)
    assert k.root.current == "welcome" and popup not in Window.children
    assert popup.ids.scanner.status != "scanning" and card.scan_popup is None


# -- the whole camera path, with a camera provider that films a picture -----------------------

def picture_camera_class(scene):
    """A Kivy camera provider (same contract as the OpenCV one: RGB rows top down, texture
    flipped) whose frames show `scene["picture"]`: the real Camera widget, the scanner's frame
    grabbing and its release all run as they would with a webcam."""
    from kivy.clock import Clock
    from kivy.core.camera import CameraBase

    class PictureCamera(CameraBase):
        opened = []

        def init_camera(self):
            self._event = None
            self.released = False
            PictureCamera.opened.append(self)

        def start(self):
            super().start()
            if self._event is None:
                self._event = Clock.schedule_interval(self._update, 1 / 15)

        def stop(self):
            super().stop()
            if self._event is not None:
                self._event.cancel()
                self._event = None

        def _release_camera(self):
            self.released = True

        def _update(self, _dt):
            frame = scene["picture"].convert("RGB")
            if self._texture is None:
                self._texture = Texture.create(size=frame.size, colorfmt="rgb")
                self._texture.flip_vertical()
                self.dispatch("on_load")
            self._buffer = frame.tobytes()
            self._copy_to_gpu()

    return PictureCamera


def window_shot(name, lang):
    folder = SHOTS / lang
    folder.mkdir(parents=True, exist_ok=True)
    screenshot(str(folder / f"{name}.png"))
    numbered = sorted(folder.glob(f"{name}*.png"), key=lambda p: p.stat().st_mtime)
    if numbered and numbered[-1] != folder / f"{name}.png":
        numbered[-1].replace(folder / f"{name}.png")


def test_the_camera_path_from_provider_to_text(window, monkeypatch, no_camera_probe_cache):
    import kivy.core.camera
    import kivy.uix.camera
    # At first the QR is half hidden (a hand in front of it): nothing can be read.
    hidden = frame_of(ENROLL)
    hidden.paste(170, (0, 0, 640, 250))
    scene = {"picture": hidden}
    provider = picture_camera_class(scene)
    monkeypatch.setattr(kivy.core.camera, "Camera", provider)
    monkeypatch.setattr(kivy.uix.camera, "CoreCamera", provider)
    qr_scanner._camera_found = True
    tr.lang = "fr"
    read = []
    popup = qr_scanner.open_scanner("Scan the enrollment QR", read.append,
                                    hint="Hold the enrollment QR in front of the camera.")
    scanner = popup.ids.scanner
    try:
        assert scanner.status == "scanning" and scanner.camera is not None
        assert scanner.ids.message.text == "Présentez le QR d'enrôlement devant la caméra."
        core = provider.opened[-1]
        assert not core.stopped
        step(4)
        from kivy.metrics import dp
        assert min(scanner.ids.cancel.size) >= dp(48) - 0.5
        wait_for(lambda: False, 1.0)        # about 4 frames grabbed and decoded: nothing
        window_shot("30-scanner-camera", "fr")
        assert read == [] and scanner.status == "scanning"
        scene["picture"] = frame_of(ENROLL)
        # Frames grabbed by the scanner's own clock (4 a second), decoded, reported once; the
        # popup closes and the camera is stopped and released.
        assert wait_for(lambda: read, 10)
        assert read == [ENROLL]
        assert popup not in Window.children and scanner.camera is None
        assert core.stopped and core.released
        assert scanner.ids.view.children == [scanner.ids.problem, scanner.ids.aim]
    finally:
        popup.dismiss(animation=False)
        step(2)
