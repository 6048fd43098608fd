"""The kiosk's welcome screen: the consultation's title and image, the language buttons (each
written in its own language), one large start button, and the site's next meetings."""
from datetime import datetime

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.model import upcoming_meetings
from screens import load_kv
from screens.i18n import tr


def meeting_when(starts_at: str) -> str:
    """'03/12/2026 · 18:30' from an ISO date and time (the published local time)."""
    from app.formatting import day_and_time
    return day_and_time(starts_at, tr.lang)


class WelcomeScreen(Screen):
    consultation = ObjectProperty(None, allownone=True)
    cover_source = StringProperty("")
    # Facilitated mode: the start button waits for the facilitator's unlock.
    locked = BooleanProperty(False)
    # A consultation pulled as draft or closed: no ballot can start (the store refuses it).
    closed = BooleanProperty(False)
    # Identified mode: the resident shows a participation card before the questions.
    identified = BooleanProperty(False)
    site_id = StringProperty("", allownone=True)
    meetings = ListProperty([])
    themes_line = StringProperty("")
    controller = ObjectProperty(None, allownone=True)
    easy_read = BooleanProperty(False)        # the resident chose easy read (issue 31)
    # The local time now (tests set another clock).
    clock = ObjectProperty(datetime.now)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(consultation=self._refresh, site_id=self._refresh, clock=self._refresh)
        tr.bind(lang=self._refresh)
        self._refresh()

    @property
    def languages(self):
        return list(self.consultation.languages) if self.consultation else ["fr", "it", "en"]

    def next_meetings(self, limit: int = 2):
        """The site's meetings that have not ended, soonest first (app.model)."""
        if self.consultation is None:
            return []
        return upcoming_meetings(self.consultation.meetings, self.clock(), self.site_id or None,
                                 limit)

    def on_pre_enter(self, *_args):
        # A kiosk stays on all day: a meeting that ended since the last visit goes.
        self._refresh()

    def start(self):
        if self.controller is not None:
            self.controller.start_ballot()

    def open_display(self):
        if self.controller is not None:
            self.controller.open_display_panel()

    def propose_idea(self):
        if self.controller is not None:
            self.controller.open_idea()

    def follow_idea(self):
        if self.controller is not None:
            self.controller.open_follow()

    def _refresh(self, *_args):
        self.closed = self.consultation is not None and self.consultation.status != "open"
        if self.consultation is None:
            return
        self.themes_line = " · ".join(tr.loc(t.title) for t in self.consultation.themes)
        site_names = {s.id: tr.loc(s.name) for s in self.consultation.sites}
        self.meetings = [
            {"when": meeting_when(m.starts_at), "title": tr.loc(m.title),
             "place": ", ".join(x for x in (tr.loc(m.place), site_names.get(m.site, "")) if x)}
            for m in self.next_meetings()]


load_kv(__file__)
