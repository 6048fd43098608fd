"""Reading a QR code with the tablet's camera: the enrollment QR (facilitator screen) and the
participation card (identified ballot mode).

`QrScanner` shows Kivy's `Camera` (index 0, playing only while the scanner is started), grabs
a frame `rate` times a second, and hands its pixels to a worker thread that decodes them with
app.qr_decode; the worker reports back through `Clock.schedule_once` and never touches a
widget. `on_text(text)` fires once per distinct code in a scanning session. Where there is no
camera (or no camera provider for Kivy, as on a desktop without OpenCV or GStreamer), no
decoder, or no permission, the scanner says so in words and the code can be typed instead.

`QrScanPopup` puts a scanner above the current screen with a title and a Cancel button;
`open_scanner(title, on_text)` is what screens call."""
import glob
import importlib.util
import queue
import threading
from functools import partial

from kivy.clock import Clock
from kivy.logger import Logger
from kivy.properties import ListProperty, NumericProperty, ObjectProperty, OptionProperty, \
    StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView
from kivy.utils import platform

from app.errors import N_
from app.qr_decode import decode_qr, qr_decoder_available
from screens import load_kv

STATUSES = ("idle", "starting", "scanning", "no_camera", "no_decoder", "no_permission")
MESSAGES = {
    "starting": N_("Opening the camera…"),
    "scanning": N_("Hold the QR code in front of the camera, inside the frame."),
    "no_camera": N_("No camera found on this device: type the code instead."),
    "no_decoder": N_("This device cannot read QR codes with its camera: type the code instead."),
    "no_permission": N_("This app may not use the camera: allow it in the tablet's settings, "
                        "or type the code instead."),
}

_camera_found = None


def camera_available() -> bool:
    """Whether this device has a camera Kivy can open: a camera provider for Kivy and, on
    Linux, a video device. Cheap (no provider is imported, no camera opened), cached, and never
    raises."""
    global _camera_found
    if _camera_found is None:
        try:
            _camera_found = _look_for_camera()
        except Exception as exc:  # a probe must never break the screen that asks
            Logger.warning("QrScanner: camera probe failed: %s", exc)
            _camera_found = False
    return _camera_found


def _look_for_camera() -> bool:
    if platform == "android":
        from jnius import autoclass
        return autoclass("android.hardware.Camera").getNumberOfCameras() > 0
    if platform in ("macosx", "ios"):
        return importlib.util.find_spec("kivy.core.camera.camera_avfoundation") is not None
    # Kivy's providers elsewhere: OpenCV everywhere, GStreamer (gi) and picamera on Linux.
    provider = importlib.util.find_spec("cv2") is not None or (
        platform == "linux" and any(importlib.util.find_spec(m) is not None
                                    for m in ("gi", "picamera")))
    if not provider:
        return False
    if platform == "linux":
        return bool(glob.glob("/dev/video*"))
    return True


def scanning_possible() -> bool:
    """A camera and a QR decoder: the condition for offering a "scan" button."""
    return qr_decoder_available() and camera_available()


def _with_camera_permission(then):
    """Call `then(granted)` on the UI thread once Android answered the permission request
    (at once elsewhere, or when it was granted before)."""
    if platform != "android":
        then(True)
        return
    try:
        from android.permissions import Permission, check_permission, request_permissions
    except ImportError:
        then(True)
        return
    if check_permission(Permission.CAMERA):
        then(True)
        return
    request_permissions([Permission.CAMERA], lambda _perms, grants: Clock.schedule_once(
        lambda _dt: then(bool(grants) and all(grants))))


def texture_frame(texture):
    """(RGBA pixels, size, bottom_up) of what `texture` shows. `Texture.pixels` gives the rows
    in the order they were uploaded, whatever the texture coordinates: a texture drawn flipped
    (as Kivy's OpenCV and GStreamer camera providers make theirs: rows uploaded top down) holds
    its top row first, a plain one its bottom row first."""
    coords = texture.tex_coords
    top_row_first = coords[1] > coords[7]       # v of the bottom-left corner above the top-left
    return texture.pixels, tuple(texture.size), not top_row_first


class _Decoder(threading.Thread):
    """Decodes frames off the UI thread, the newest first; one frame waits at most."""

    def __init__(self, report):
        super().__init__(daemon=True, name="qr-decoder")
        self._frames = queue.Queue(maxsize=1)
        self._report = report

    def offer(self, frame):
        try:
            self._frames.get_nowait()      # an older frame still waiting: drop it
        except queue.Empty:
            pass
        try:
            self._frames.put_nowait(frame)
        except queue.Full:
            pass

    def finish(self):
        self.offer(None)

    def run(self):
        while True:
            frame = self._frames.get()
            if frame is None:
                return
            pixels, size, bottom_up = frame
            try:
                texts = decode_qr(pixels, size, bottom_up=bottom_up)
            except Exception as exc:  # a bad frame must not end the scanning
                Logger.warning("QrScanner: frame not decoded: %s", exc)
                texts = []
            self._report(texts)


class QrScanner(BoxLayout):
    status = OptionProperty("idle", options=list(STATUSES))
    hint = StringProperty("")              # msgid: what to show the camera
    rate = NumericProperty(4)              # frames decoded per second, at most
    index = NumericProperty(0)
    resolution = ListProperty([640, 480])
    camera = ObjectProperty(None, allownone=True)
    decoded = ListProperty([])             # the distinct texts read in this session
    __events__ = ("on_text", "on_cancel")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._grab_event = None
        self._decoder = None
        self._session = 0
        self._open = False                 # between start() and stop()
        self._lock = threading.Lock()

    # -- the scanning session --------------------------------------------------------------

    def start(self):
        """Open the camera and start reading; or say why it cannot be done."""
        self.stop()
        self._session += 1
        self._open = True
        self.decoded = []
        if not qr_decoder_available():
            self.status = "no_decoder"
            return
        if not camera_available():
            self.status = "no_camera"
            return
        self.status = "starting"
        session = self._session
        _with_camera_permission(lambda granted: self._open_camera(session, granted))

    def _open_camera(self, session, granted):
        if session != self._session or self.status != "starting":
            return                          # stopped while Android was asking
        if not granted:
            self.status = "no_permission"
            return
        try:
            from kivy.core.camera import Camera as CoreCamera
            if CoreCamera is None:
                raise RuntimeError("no camera provider")
            from kivy.uix.camera import Camera
            camera = Camera(index=int(self.index), resolution=tuple(self.resolution),
                            play=False, fit_mode="contain")
            if getattr(camera, "_camera", None) is None:
                raise RuntimeError("the camera did not open")
            self.ids.view.add_widget(camera, index=len(self.ids.view.children))
            camera.play = True
        except Exception as exc:  # a missing or busy camera must not crash the screen
            Logger.warning("QrScanner: no camera: %s", exc)
            self.status = "no_camera"
            return
        self.camera = camera
        self.status = "scanning"
        self._grab_event = Clock.schedule_interval(self._grab, 1 / max(0.5, self.rate))

    def stop(self):
        """Stop reading and release the camera (called when the scanner leaves the screen)."""
        self._session += 1
        self._open = False
        if self._grab_event is not None:
            self._grab_event.cancel()
            self._grab_event = None
        camera, self.camera = self.camera, None
        if camera is not None:
            try:
                camera.play = False
                core = getattr(camera, "_camera", None)
                release = getattr(core, "_release_camera", None)   # Android: free the device
                if release is not None:
                    release()
                device = getattr(core, "_device", None)             # OpenCV
                if device is not None and hasattr(device, "release"):
                    device.release()
            except Exception as exc:
                Logger.warning("QrScanner: camera not released cleanly: %s", exc)
            if camera.parent is not None:
                camera.parent.remove_widget(camera)
        with self._lock:
            decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.finish()
        if self.status in ("starting", "scanning"):
            self.status = "idle"

    def cancel(self):
        self.stop()
        self.dispatch("on_cancel")

    # -- frames ----------------------------------------------------------------------------

    def _grab(self, _dt):
        camera = self.camera
        if camera is None:
            return
        core = getattr(camera, "_camera", None)
        grab_frame = getattr(core, "grab_frame", None)
        if grab_frame is not None:
            # Android: the preview buffer is NV21, its first plane the grey image, top down;
            # no read back from the GPU.
            try:
                buffer = grab_frame()
            except Exception:
                buffer = None
            if buffer:
                self.process_frame(buffer, tuple(core.resolution))
                return
        if camera.texture is not None:
            self.process_texture(camera.texture)

    def process_texture(self, texture) -> None:
        """Decode what `texture` shows (a camera frame): its pixels are read here, on the UI
        thread, and decoded on the worker."""
        pixels, size, bottom_up = texture_frame(texture)
        self.process_frame(pixels, size, bottom_up=bottom_up)

    def process_frame(self, pixels, size, *, bottom_up=False) -> None:
        """Hand a frame to the worker: grey (1 byte a pixel, or NV21), RGB or RGBA bytes of
        `size`, rows top down unless `bottom_up`. The camera path ends here too. Ignored
        unless the scanner is started."""
        with self._lock:
            if not self._open:
                return
            if self._decoder is None:
                session = self._session
                self._decoder = _Decoder(lambda texts: Clock.schedule_once(
                    partial(self._decoded, session, texts)))
                self._decoder.start()
            self._decoder.offer((bytes(pixels), size, bottom_up))

    def _decoded(self, session, texts, _dt=None):
        if session != self._session:
            return                          # a frame from a session that has ended
        for text in texts:
            if text not in self.decoded:
                self.decoded.append(text)
                self.dispatch("on_text", text)

    @staticmethod
    def status_message(status, hint, gettext):
        """What the scanner says in `status`, in the reader's language (kv passes tr._, so
        the words change with the language); `hint` is a msgid for the scanning state."""
        if status == "scanning" and hint:
            return gettext(hint)
        return gettext(MESSAGES[status]) if status in MESSAGES else ""

    def on_text(self, text):
        pass

    def on_cancel(self):
        pass


class QrScanPopup(ModalView):
    """A scanner above the current screen: it starts when it opens, stops when it closes, and
    closes on the first code read (then calls `on_text`) or on Cancel."""
    title = StringProperty("")                          # msgid, translated when shown
    callback = ObjectProperty(None, allownone=True)     # callback(text)

    def on_open(self):
        self.ids.scanner.start()

    def on_dismiss(self):
        self.ids.scanner.stop()

    def _read(self, text):
        self.dismiss(animation=False)
        if self.callback is not None:
            self.callback(text)


def open_scanner(title: str, on_text, *, hint: str = "") -> QrScanPopup:
    """Open a scanner popup; `on_text(text)` receives the first code it reads. `title` and
    `hint` are msgids (marked with N_), translated as the language changes."""
    popup = QrScanPopup(title=title, callback=on_text)
    popup.ids.scanner.hint = hint
    popup.open(animation=False)
    return popup


load_kv(__file__)
