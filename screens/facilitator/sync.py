"""The sync page: where this tablet stands with its hub (enrolled, records waiting, last
success, the worker's problem), polled while the page is shown; Send now; and enrolling the
tablet with a hub's address and a one-time code, typed, read by a keyboard-like QR scanner, or
read by the camera. Enrolling runs in a thread and reports back on the UI thread."""
import threading

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, StringProperty

from app.errors import N_
from app.formatting import local_day_and_time, number
from screens import load_kv
from screens.facilitator.page import FacilitatorPage
from screens.i18n import failure_words, tr
from screens.widgets.qr_scanner import open_scanner, scanning_possible

POLL_SECONDS = 2


class SyncPage(FacilitatorPage):
    page_name = "sync"
    title = N_("Sync")
    status_lines = ListProperty([])
    message = StringProperty("")
    busy = BooleanProperty(False)              # an enrollment is under way
    available = BooleanProperty(False)         # this installation has a sync service
    scan_available = BooleanProperty(False)    # a camera and a QR decoder

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._poll = None
        self.scan_popup = None
        self.shell.bind(sync=self._sync_changed)
        self._sync_changed(self.shell, self.shell.sync)

    @property
    def sync(self):
        return self.shell.sync        # sync.service.SyncService, or None

    def _sync_changed(self, _shell, sync):
        self.available = sync is not None

    def refresh(self, *_args):
        self.scan_available = scanning_possible()
        self.poll()

    def opened(self):
        self.refresh()
        if self._poll is None:
            self._poll = Clock.schedule_interval(self.poll, POLL_SECONDS)

    def closed(self):
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        if self.scan_popup is not None:       # the camera never stays open behind the kiosk
            self.scan_popup.dismiss(animation=False)
            self.scan_popup = None

    def poll(self, *_args):
        """Show where the tablet stands with its hub now."""
        if self.sync is None:
            self.status_lines = [tr._("This tablet is not enrolled with a hub yet."),
                                 tr._("Sync is not available in this installation: "
                                      "the answers stay safely on this tablet."),
                                 self.version_line()]
            return
        try:
            status = self.sync.status()
        except Exception as exc:  # the worker's problem must not break the screen
            self.status_lines = [tr._("Sync status unavailable: {reason}").format(
                reason=failure_words(exc))]
            return
        lines = []
        if status.revoked:
            lines.append(tr._("This tablet has been revoked by the hub."))
        elif status.enrolled:
            lines.append(tr._("Enrolled with {hub}").format(hub=status.hub_url or "?"))
        else:
            lines.append(tr._("This tablet is not enrolled with a hub yet."))
        lines.append(tr.ngettext("{n} record waiting to be sent",
                                 "{n} records waiting to be sent", status.pending).format(
            n=number(status.pending, tr.lang)))
        if status.last_success:
            lines.append(tr._("Last successful sync: {when}").format(
                when=local_day_and_time(status.last_success, tr.lang) or "?"))
        advice = status.advice
        if status.problem or advice:
            # What went wrong and what to do now, per state (revoked, credentials refused,
            # unreachable, a login page, a version refused) set apart from the counts: in
            # portrait with very large text it was lost in one block of eleven lines.
            lines.append("")
        if status.problem:
            lines.append(tr._(status.problem))
        if advice:
            lines.append(tr._(advice))
        if status.revoked or status.credentials_refused:
            # staff need the tablet's ID to make a code for it
            lines.append(tr._("This tablet's ID: {id}").format(id=status.device_id or "?"))
        if status.problem or advice:
            lines.append("")
        lines.append(self.version_line())
        self.status_lines = lines

    def version_line(self):
        """Which version of the consultation the kiosk runs now (a new one pulled by sync
        replaces it between two residents)."""
        return tr._("Consultation shown: version {version}").format(
            version=self.consultation.version)

    def enroll(self):
        if self.sync is None or self.busy:
            return
        hub_url, code = self.ids.hub_url.text.strip(), self.ids.code.text.strip()
        if code.lower().startswith("piazzetta://"):
            # A QR scanner that types like a keyboard gives the whole enrollment QR.
            self.busy = True
            self.message = tr._("Enrolling…")
            threading.Thread(target=self._enroll_worker, args=(None, code), daemon=True).start()
            return
        if not hub_url or not code:
            self.message = tr._("Type the hub's address and the enrollment code.")
            return
        self.busy = True
        self.message = tr._("Enrolling…")
        threading.Thread(target=self._enroll_worker, args=(hub_url, code), daemon=True).start()

    def scan_enrollment(self):
        """Read the enrollment QR with the camera; what it holds goes where a typed (or
        keyboard-scanner) QR text goes."""
        if self.sync is None or self.busy:
            return
        self.scan_popup = open_scanner(N_("Scan the enrollment QR"), self.enroll_scanned,
                                       hint=N_("Hold the enrollment QR in front of the camera."))
        return self.scan_popup

    def enroll_scanned(self, text):
        self.scan_popup = None
        self.ids.code.input.text = text
        self.enroll()

    def _enroll_worker(self, hub_url, code):
        try:
            if hub_url is None:
                self.sync.enroll_from_qr(code)
            else:
                self.sync.enroll(hub_url, code)
        except Exception as exc:  # shown in the facilitator's language when it is a domain error
            message = failure_words(exc)
            Clock.schedule_once(lambda _dt: self._enrolled(False, message))
        else:
            Clock.schedule_once(lambda _dt: self._enrolled(True, ""))

    def _enrolled(self, ok, message):
        self.busy = False
        self.message = tr._("This tablet is now enrolled.") if ok else \
            tr._("Enrollment failed: {reason}").format(reason=message)
        if ok:
            try:
                self.sync.start()
            except Exception:
                pass
        self.poll()

    def sync_now(self):
        if self.sync is not None:
            self.sync.sync_now()
            self.message = tr._("Sending now…")


load_kv(__file__)
