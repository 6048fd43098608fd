"""Facilitator mode (behind the PIN): the session (site, meeting, ballot mode, unlocking a
ballot), local figures and tallies, moderation of the ideas collected here, display settings,
and sync. Everything goes through the services it is given; nothing here knows SQL or HTTP."""
import threading

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import (BooleanProperty, DictProperty, ListProperty, NumericProperty,
                             ObjectProperty, OptionProperty, StringProperty)
from kivy.uix.screenmanager import Screen

from app.errors import DomainError
from app.formatting import decimal, money, number
from app.kiosk import IDLE_TIMEOUT_MAX, IDLE_TIMEOUT_MIN
from app.model import localized
from screens import display_controls, load_kv, paper_counts  # noqa: F401  (kv rules)
from screens.i18n import tr
from screens.widgets import Card
from screens.widgets.qr_scanner import open_scanner, scanning_possible

PAGES = ("session", "figures", "ideas", "counts", "projector", "display", "sync")
STATUS_NAMES = {"pending": "Waiting for moderation", "approved": "Approved",
                "rejected": "Rejected"}


def N_(message):
    return message


# Marked for extraction; translated where shown.
N_("Waiting for moderation")
N_("Approved")
N_("Rejected")


def summarize(consultation, question, result, lang, _):
    """One or a few lines that say what the tally holds, in the reader's language; numbers
    written as the projector writes them (app/formatting.py)."""
    loc = lambda text: localized(text, lang)  # noqa: E731
    n = lambda value: number(value, lang)  # noqa: E731
    kind = question.kind
    if kind == "colour":
        lines = []
        for project in consultation.projects_of(question):
            counts = result["projects"].get(project.id, {}).get("counts", {})
            lines.append(_("{project}: {green} in favour · {orange} to rework · {red} against")
                         .format(project=loc(project.title), green=n(counts.get("green", 0)),
                                 orange=n(counts.get("orange", 0)), red=n(counts.get("red", 0))))
        return "\n".join(lines)
    if kind == "yes_no":
        c = result["counts"]
        return _("Yes {yes} · No {no} · Abstain {abstain}").format(
            **{key: n(value) for key, value in c.items()})
    if kind == "scale":
        mean = result["mean"]
        return _("Mean {mean} out of 5 over {total} answers").format(
            mean="–" if mean is None else decimal(mean, lang), total=n(result["total"]))
    if kind == "choice":
        return " · ".join(f"{loc(question.option(o).label)} {n(result['counts'][o])}"
                          for o in result["order"])
    if kind == "ranking":
        return " › ".join(f"{loc(question.option(o).label)} ({n(result['points'][o])})"
                          for o in result["order"])
    if kind == "budget":
        return "\n".join(
            f"{loc(consultation.project(p).title)}: "
            f"{money(result['projects'][p]['allocated'], lang, question.currency)}"
            for p in result["order"])
    if kind == "open":
        words = ", ".join(w for w, _n in result["words"][:8])
        return _("{total} answers").format(total=n(result["total"])) + (f" — {words}" if words else "")
    return ""


class IdeaCard(Card):
    """One idea in the moderation list; `on_open` when the facilitator taps Moderate."""
    proposal = ObjectProperty(None, allownone=True)
    status_text = StringProperty("")
    meta = StringProperty("")
    __events__ = ("on_open",)

    def on_open(self):
        pass


class FacilitatorScreen(Screen):
    session = ObjectProperty(None, allownone=True)     # app.kiosk.KioskSession
    controller = ObjectProperty(None, allownone=True)
    sync = ObjectProperty(None, allownone=True)        # sync.service.SyncService, or None
    page = OptionProperty("session", options=list(PAGES))
    figures = DictProperty({})
    sync_lines = ListProperty([])
    sync_message = StringProperty("")
    sync_busy = BooleanProperty(False)
    idle_timeout = NumericProperty(60)
    mode = StringProperty("open")
    onscreen_keyboard = BooleanProperty(False)
    editing = ObjectProperty(None, allownone=True)     # the idea being moderated
    moderation_error = StringProperty("")

    # What the pages show: copied into each page (kv does not follow `root.fs.x` chains).
    PAGE_STATE = ("mode", "figures", "sync_lines", "sync_message", "sync_busy", "idle_timeout",
                  "onscreen_keyboard", "editing", "moderation_error")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._poll = None
        self.scan_popup = None
        tr.bind(lang=self.refresh)
        for name in self.PAGE_STATE:
            self.bind(**{name: lambda _s, value, name=name: self._to_pages(name, value)})
            self._to_pages(name, getattr(self, name))
        self.bind(sync=lambda _s, sync: self._to_pages("sync_available", sync is not None))
        self._to_pages("sync_available", self.sync is not None)
        self._to_pages("scan_available", False)     # looked up when the sync page shows

    def _to_pages(self, name, value):
        if name == "editing":
            value = value is not None
        for page in self.ids.pages.screens:
            setattr(page, name, value)

    @property
    def store(self):
        return self.session.store

    @property
    def settings(self):
        return self.session.settings

    @property
    def consultation(self):
        return self.session.consultation

    def on_pre_enter(self, *_args):
        self.refresh()
        self._poll = Clock.schedule_interval(self._poll_sync, 2)
        self._poll_sync()

    def on_leave(self, *_args):
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        if self.scan_popup is not None:       # the camera never stays open behind the kiosk
            self.scan_popup.dismiss(animation=False)
            self.scan_popup = None

    def on_page(self, *_args):
        self.ids.pages.current = self.page
        self.refresh()

    def show_page(self, page):
        self.page = page

    def refresh(self, *_args):
        if self.session is None or not self.ids or self.manager is None \
                or self.manager.current != self.name:
            return
        self.mode = self.settings.ballot_mode
        self.idle_timeout = self.settings.idle_timeout
        self.onscreen_keyboard = self.settings.onscreen_keyboard
        for name in PAGES:
            self.ids[name].selected = name == self.page
        if self.page == "session":
            self._build_session()
        elif self.page == "figures":
            self._build_figures()
        elif self.page == "ideas":
            self._build_ideas()
        elif self.page == "counts":
            self._build_counts()
        elif self.page == "projector":
            self._build_projector()
        elif self.page == "sync":
            self._to_pages("scan_available", scanning_possible())
            self._poll_sync()

    # -- session ---------------------------------------------------------------------------

    def _toggles(self, box, items, current, pick):
        box.clear_widgets()
        for value, text in items:
            card = Factory.ThemeChoice(text=text)
            card.selected = value == current
            card.bind(on_release=lambda _c, v=value: pick(v))
            box.add_widget(card)

    def _build_session(self):
        page = self.ids.pages.get_screen("session")
        consultation = self.consultation
        catalogue = getattr(self.controller, "catalogue", None)
        installed = catalogue.installed() if catalogue is not None else [(consultation, None)]
        self._toggles(page.ids.consultations,
                      [(c.id, tr._("{title} (version {version})").format(
                          title=tr.loc(c.title), version=c.version)) for c, _f in installed],
                      consultation.id, self.pick_consultation)
        site = self.settings.site_id
        self._toggles(page.ids.sites, [(None, tr._("No site"))] +
                      [(s.id, tr.loc(s.name)) for s in consultation.sites], site,
                      self.pick_site)
        meetings = [m for m in consultation.meetings if not site or m.site == site]
        self._toggles(page.ids.meetings, [(None, tr._("No meeting"))] +
                      [(m.id, tr.loc(m.title) + "  " + m.starts_at[:10]) for m in meetings],
                      self.settings.meeting_id, self.pick_meeting)

    def pick_consultation(self, consultation_id):
        catalogue = getattr(self.controller, "catalogue", None)
        if catalogue is not None and consultation_id != self.consultation.id:
            catalogue.switch(consultation_id)

    def pick_site(self, site_id):
        self.settings.site_id = site_id
        meeting = self.consultation and next(
            (m for m in self.consultation.meetings if m.id == self.settings.meeting_id), None)
        if meeting is not None and site_id and meeting.site != site_id:
            self.settings.meeting_id = None
        self.refresh()
        self._changed()

    def pick_meeting(self, meeting_id):
        self.settings.meeting_id = meeting_id
        self.refresh()
        self._changed()

    def set_mode(self, mode):
        self.settings.ballot_mode = mode
        self.refresh()
        self._changed()

    def unlock_ballot(self):
        self.session.unlock()
        if self.controller is not None:
            self.controller.back_to_kiosk()

    def back_to_kiosk(self):
        if self.controller is not None:
            self.controller.back_to_kiosk()

    def quit(self):
        if self.controller is not None:
            self.controller.quit()

    def _changed(self):
        if self.controller is not None:
            self.controller.settings_changed()

    # -- figures ---------------------------------------------------------------------------

    def _build_figures(self):
        page = self.ids.pages.get_screen("figures")
        consultation = self.consultation
        self.figures = dict(self.store.figures(consultation.id),
                            pending=self.store.outbox_counts()["pending"])
        for key in ("ballots_today", "ballots", "answers", "ideas"):
            page.ids[key].figure = number(self.figures.get(key, 0), tr.lang)
        results = self.store.results(consultation)
        box = page.ids.tallies
        box.clear_widgets()
        for question in consultation.questions:
            card = Factory.TallyCard()
            card.prompt = tr.loc(question.prompt)
            card.summary = summarize(consultation, question, results[question.id], tr.lang,
                                     tr._)
            card.ballots = tr._("Answers: {count}").format(
                count=number(results[question.id]["ballots"], tr.lang))
            box.add_widget(card)

    # -- ideas -----------------------------------------------------------------------------

    def _build_ideas(self):
        page = self.ids.pages.get_screen("ideas")
        box = page.ids.ideas
        box.clear_widgets()
        proposals = self.store.proposals(self.consultation.id)
        page.ids.empty.text = "" if proposals else tr._("No idea has been collected here yet.")
        for proposal in reversed(proposals):
            card = IdeaCard()
            card.proposal = proposal
            card.status_text = tr._(STATUS_NAMES.get(proposal.status, proposal.status)) + (
                f" — {proposal.reason}" if proposal.reason else "")
            theme_ = self.consultation.theme(proposal.theme) if proposal.theme else None
            card.meta = "  ·  ".join(x for x in (
                tr._("Code {code}").format(code=proposal.short_code),
                tr.loc(theme_.title) if theme_ else "",
                tr._("Contact left") if proposal.contact else "") if x)
            card.bind(on_open=lambda c: self.edit(c.proposal))
            box.add_widget(card)

    def edit(self, proposal):
        self.moderation_error = ""
        self.editing = proposal
        page = self.ids.pages.get_screen("ideas")
        page.ids.edit_title.text = proposal.title
        page.ids.edit_text.text = proposal.text
        page.ids.edit_reason.text = proposal.reason or ""

    def close_editor(self):
        self.editing = None
        self.moderation_error = ""

    def moderate(self, status):
        """approve / reject (with the reason typed) / correct (keeps the status)."""
        page = self.ids.pages.get_screen("ideas")
        proposal = self.editing
        if proposal is None:
            return
        title, text = page.ids.edit_title.text, page.ids.edit_text.text
        try:
            self.store.moderate_proposal(
                proposal.id, proposal.status if status == "correct" else status,
                reason=page.ids.edit_reason.text if status == "rejected" else
                (proposal.reason if status == "correct" else None),
                title=title if title != proposal.title else None,
                text=text if text != proposal.text else None)
        except DomainError as exc:
            self.moderation_error = exc.describe(tr._)
            return
        self.close_editor()
        self._build_ideas()

    # -- display ---------------------------------------------------------------------------

    def set_text_size(self, size):
        self.settings.text_size = size
        self._changed()

    def set_high_contrast(self, value):
        self.settings.high_contrast = value
        self._changed()

    def change_idle(self, delta):
        value = min(IDLE_TIMEOUT_MAX, max(IDLE_TIMEOUT_MIN, self.settings.idle_timeout + delta))
        self.settings.idle_timeout = value
        self.idle_timeout = value
        self._changed()

    def set_onscreen_keyboard(self, value):
        self.settings.onscreen_keyboard = value
        self.onscreen_keyboard = value
        self._changed()

    # -- paper counts and the room's projector ----------------------------------------------

    def _build_counts(self):
        panel = self.ids.pages.get_screen("counts").ids.panel
        panel.store = self.store
        panel.consultation = self.consultation
        panel.site_id = self.settings.site_id
        panel.meeting_id = self.settings.meeting_id
        panel.on_recorded = self.sync.push_soon if self.sync is not None else None

    def _build_projector(self):
        panel = self.ids.pages.get_screen("projector").ids.panel
        panel.consultation = self.consultation
        if self.sync is not None and self.sync.status().enrolled and panel.remote is None:
            from sync.display import DisplayRemote
            panel.remote = DisplayRemote(self.sync.store_path, self.consultation)

    # -- sync ------------------------------------------------------------------------------

    def _poll_sync(self, *_args):
        if self.sync is None:
            self.sync_lines = [tr._("This tablet is not enrolled with a hub yet."),
                               tr._("Sync is not available in this installation: "
                                    "the answers stay safely on this tablet.")]
            return
        try:
            status = self.sync.status()
        except Exception as exc:  # the worker's problem must not break the screen
            self.sync_lines = [tr._("Sync status unavailable: {reason}").format(reason=exc)]
            return
        lines = []
        if status.revoked:
            lines.append(tr._("This tablet has been revoked by the hub."))
        elif status.enrolled:
            lines.append(tr._("Enrolled with {hub}").format(hub=status.hub_url or "?"))
        else:
            lines.append(tr._("This tablet is not enrolled with a hub yet."))
        lines.append(tr._("{count} records waiting to be sent").format(
            count=number(status.pending, tr.lang)))
        if status.last_success:
            lines.append(tr._("Last successful sync: {when}").format(
                when=status.last_success[:16].replace("T", " ")))
        if status.problem:
            lines.append(tr._(status.problem))
        self.sync_lines = lines

    def enroll(self):
        if self.sync is None or self.sync_busy:
            return
        page = self.ids.pages.get_screen("sync")
        hub_url, code = page.ids.hub_url.text.strip(), page.ids.code.text.strip()
        if code.lower().startswith("piazzetta://"):
            # A QR scanner that types like a keyboard gives the whole enrollment QR.
            self.sync_busy = True
            self.sync_message = tr._("Enrolling…")
            threading.Thread(target=self._enroll_worker, args=(None, code), daemon=True).start()
            return
        if not hub_url or not code:
            self.sync_message = tr._("Type the hub's address and the enrollment code.")
            return
        self.sync_busy = True
        self.sync_message = tr._("Enrolling…")
        threading.Thread(target=self._enroll_worker, args=(hub_url, code), daemon=True).start()

    def scan_enrollment(self):
        """Read the enrollment QR with the camera; what it holds goes where a typed (or
        keyboard-scanner) QR text goes."""
        if self.sync is None or self.sync_busy:
            return
        self.scan_popup = open_scanner(N_("Scan the enrollment QR"), self.enroll_scanned,
                                       hint=N_("Hold the enrollment QR in front of the camera."))
        return self.scan_popup

    def enroll_scanned(self, text):
        self.scan_popup = None
        page = self.ids.pages.get_screen("sync")
        page.ids.code.input.text = text
        self.enroll()

    def _enroll_worker(self, hub_url, code):
        try:
            if hub_url is None:
                self.sync.enroll_from_qr(code)
            else:
                self.sync.enroll(hub_url, code)
        except Exception as exc:  # shown in the facilitator's language when it is a domain error
            message = exc.describe(tr._) if isinstance(exc, DomainError) else (
                str(exc) or exc.__class__.__name__)
            Clock.schedule_once(lambda _dt: self._enrolled(False, message))
        else:
            Clock.schedule_once(lambda _dt: self._enrolled(True, ""))

    def _enrolled(self, ok, message):
        self.sync_busy = False
        self.sync_message = tr._("This tablet is now enrolled.") if ok else \
            tr._("Enrollment failed: {reason}").format(reason=message)
        if ok:
            try:
                self.sync.start()
            except Exception:
                pass
        self._poll_sync()

    def sync_now(self):
        if self.sync is not None:
            send = getattr(self.sync, "sync_now", None) or self.sync.push_soon
            send()
            self.sync_message = tr._("Sending now…")


load_kv(__file__)
