"""The facilitator's remote for the room's projector: which view, rotation on or off, hide or
reveal the results, freeze, and the question on screen opened to residents' phones (with or
without participation cards) or closed to them. Each tap sends a DisplayControl through the hub (`remote`, the
app's sync service's `display_remote`) and says whether the hub took it; a refusal is
shown translated and changes nothing. Thin: no HTTP here, only the remote's `send`."""
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from app.display import IDEAS_VIEW, PARTICIPATION_VIEW, views_of
from app.errors import N_, DomainError
from app.model import localized
from screens import load_kv
from screens.facilitator.page import FacilitatorPage
from screens.i18n import tr


class ProjectorPage(FacilitatorPage):
    page_name = "projector"
    title = N_("Projector")
    # Made when the page is shown on an enrolled tablet (or given, e.g. by a test).
    remote = ObjectProperty(None, allownone=True)      # SyncService.display_remote(), or None
    busy = BooleanProperty(False)
    message = StringProperty("")
    error = StringProperty("")
    # What this tablet last asked for (the projector's keyboard may have changed it since).
    view = StringProperty("")
    rotating = BooleanProperty(True)
    hidden = BooleanProperty(False)
    frozen = BooleanProperty(False)
    phones = ListProperty([])              # the questions open to phones (app/display.py)
    phones_cards = BooleanProperty(False)  # phones answer with a participation card's code
    confirmed = BooleanProperty(False)     # the hub has answered at least once
    showing_text = StringProperty("")

    def refresh(self, *_args):
        sync = self.shell.sync
        if self.remote is None and sync is not None and sync.status().enrolled:
            self.remote = sync.display_remote(self.consultation)
        self.build_views()

    def view_name(self, view):
        if view == IDEAS_VIEW:
            return tr._("Approved ideas")
        if view == PARTICIPATION_VIEW:
            return tr._("Participation")
        question = self.consultation.question(view)
        return localized(question.prompt, tr.lang) if question else view

    def build_views(self):
        box = self.ids.views
        box.clear_widgets()
        for view in views_of(self.consultation):
            card = Factory.ToggleCard(text=self.view_name(view), wrap=True, halign="left")
            card.selected = view == self.view
            card.bind(on_release=lambda _c, v=view: self.send({"view": v}))
            box.add_widget(card)
        self._say_showing()

    def _say_showing(self):
        if not self.confirmed or not self.view:
            self.showing_text = tr._("On the projector now: not known yet (choose a view below).")
            return
        text = tr._("On the projector now: {view}").format(view=self.view_name(self.view))
        if self.rotating:
            text += " " + tr._("(then the views take turns)")
        if self.hidden:
            text += " · " + tr._("Results hidden")
        if self.frozen:
            text += " · " + tr._("Frozen")
        if self.phones:
            text += " · " + tr._("Open to phones")
        self.showing_text = text

    @property
    def view_is_question(self) -> bool:
        return self.consultation.question(self.view) is not None if self.view else False

    def toggle_phone_cards(self):
        """Cards or not: kept for the next opening, or sent at once while phones are open."""
        if self.phones:
            self.send({"phones_cards": not self.phones_cards})
        else:
            self.phones_cards = not self.phones_cards

    def toggle_phones(self):
        """Open the question on screen to phones, or close what is open."""
        if self.phones:
            self.send({"phones": []})
        elif self.view_is_question:
            self.send({"phones": [self.view], "phones_cards": self.phones_cards,
                       "view": self.view})
        else:
            self.error = tr._("Show a question first: phones answer the question on screen.")

    def send(self, control):
        if self.remote is None:
            self.error = tr._("This tablet is not enrolled with a hub yet.")
            return
        self.busy, self.error, self.message = True, "", tr._("Sending…")
        self.remote.send(dict(control), tr.lang,
                         lambda state, error: Clock.schedule_once(
                             lambda _dt: self._done(control, state, error), 0))

    def _done(self, control, state, error):
        self.busy = False
        if error is not None:
            self.message = ""
            self.error = (error.describe(tr._) if isinstance(error, DomainError)
                          else tr._("The projector could not be reached."))
            return
        merged = (state or {}).get("control") if isinstance(state, dict) else None
        merged = merged if isinstance(merged, dict) else {}
        for key in ("view", "rotating", "hidden", "frozen", "phones", "phones_cards"):
            if key in merged:
                setattr(self, key, merged[key])
            elif key in control:
                setattr(self, key, control[key])
        self.confirmed = True
        self.message = tr._("The projector has it.")
        self.build_views()


load_kv(__file__)
