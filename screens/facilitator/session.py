"""The session page: which consultation the tablet shows, the ballot mode (and unlocking one
ballot in facilitated mode), rehearsal before the session opens, the site and the meeting that
ballots are attributed to."""
from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

import screens.idea  # noqa: F401  (the ThemeChoice rule)
from app.errors import N_
from app.formatting import day
from screens import load_kv
from screens.facilitator.page import FacilitatorPage
from screens.i18n import tr


class SessionPage(FacilitatorPage):
    page_name = "session"
    title = N_("Session")
    mode = StringProperty("open")
    rehearsal = BooleanProperty(False)
    rehearsal_note = StringProperty("")

    def refresh(self, *_args):
        self.mode = self.settings.ballot_mode
        self.rehearsal = self.session.in_rehearsal
        consultation = self.consultation
        catalogue = self.catalogue
        installed = catalogue.installed() if catalogue is not None else [(consultation, None)]
        self._toggles(self.ids.consultations,
                      [(c.id, tr._("{title} (version {version})").format(
                          title=tr.loc(c.title), version=c.version)) for c, _f in installed],
                      consultation.id, self.pick_consultation)
        site = self.settings.site_id
        self._toggles(self.ids.sites, [(None, tr._("No site"))] +
                      [(s.id, tr.loc(s.name)) for s in consultation.sites], site,
                      self.pick_site)
        meetings = [m for m in consultation.meetings if not site or m.site == site]
        from app.store import RETENTION_CHOICES, RETENTION_NAMES
        self._toggles(self.ids.retention,
                      [(days, tr._(RETENTION_NAMES[days])) for days in RETENTION_CHOICES],
                      self.store.retention_days, self.pick_retention)
        self._toggles(self.ids.meetings, [(None, tr._("No meeting"))] +
                      [(m.id, tr.loc(m.title) + " · " + day(m.starts_at, tr.lang))
                       for m in meetings],
                      self.settings.meeting_id, self.pick_meeting)

    @property
    def catalogue(self):
        """The consultations this tablet holds and the way to switch (screens.app), or None."""
        return getattr(self.shell.controller, "catalogue", None)

    def _toggles(self, box, items, current, pick):
        box.clear_widgets()
        for value, text in items:
            # Long names (a consultation's title) wrap inside the page instead of running
            # off its side.
            card = Factory.FitChoice(text=text)
            card.selected = value == current
            card.bind(on_release=lambda _c, v=value: pick(v))
            box.add_widget(card)

    def pick_retention(self, days):
        """How long acknowledged records stay on this tablet; applied at the next purge."""
        self.store.set_retention_days(days)
        self.refresh()

    def pick_consultation(self, consultation_id):
        catalogue = self.catalogue
        if catalogue is not None and consultation_id != self.consultation.id:
            catalogue.switch(consultation_id)

    def pick_site(self, site_id):
        self.settings.site_id = site_id
        meeting = next(
            (m for m in self.consultation.meetings if m.id == self.settings.meeting_id), None)
        if meeting is not None and site_id and meeting.site != site_id:
            self.settings.meeting_id = None
        self.refresh()
        self.shell.settings_changed()

    def pick_meeting(self, meeting_id):
        self.settings.meeting_id = meeting_id
        self.refresh()
        self.shell.settings_changed()

    def set_mode(self, mode):
        self.settings.ballot_mode = mode
        self.refresh()
        self.shell.settings_changed()

    def start_rehearsal(self):
        """Rehearsal: the resident on their way is ended, what follows never counts."""
        self._end_resident()
        self.session.start_rehearsal()
        self.rehearsal_note = ""
        self.refresh()
        self.shell.settings_changed()

    def open_session(self):
        """The rehearsal ends: its answers are wiped here and at the server."""
        self._end_resident()
        wiped = self.session.open_session()
        self.rehearsal_note = tr.ngettext(
            "Session open: {n} rehearsal answer wiped.",
            "Session open: {n} rehearsal answers wiped.", wiped).format(n=wiped)
        self.refresh()
        self.shell.settings_changed()

    def _end_resident(self):
        controller = self.shell.controller
        if controller is not None:
            controller.end_resident()

    def unlock_ballot(self):
        self.session.unlock()
        self.shell.back_to_kiosk()


load_kv(__file__)
