"""The ideas page: the ideas collected on this tablet, newest first, each with its status, and
an editor to approve, reject (with a reason the resident will read) or correct one."""
from kivy.properties import ObjectProperty, StringProperty

from app.errors import N_, DomainError
from app.proposals import written_in
from screens import load_kv
from screens.facilitator.page import FacilitatorPage
from screens.i18n import tr
from screens.widgets import Card

STATUS_NAMES = {"pending": N_("Waiting for moderation"), "approved": N_("Approved"),
                "rejected": N_("Rejected")}


class IdeaCard(Card):
    """One idea in the moderation list; `on_open` when the facilitator taps Moderate."""
    proposal = ObjectProperty(None, allownone=True)
    status_text = StringProperty("")
    meta = StringProperty("")
    __events__ = ("on_open",)

    def on_open(self):
        pass


class IdeasPage(FacilitatorPage):
    page_name = "ideas"
    title = N_("Ideas")
    editing = ObjectProperty(None, allownone=True)     # the idea being moderated
    moderation_error = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        editor = self.ids.editor.__self__       # held here: ids are weak references
        self._editor_place = (editor, editor.parent, editor.parent.children.index(editor))
        self.on_editing(self, self.editing)

    def on_editing(self, _page, proposal):
        """The editor is in the page only while an idea is being moderated: hidden, its fields
        lay over the navigation in portrait and took its taps."""
        if not hasattr(self, "_editor_place"):
            return
        editor, box, index = self._editor_place
        if proposal is None and editor.parent is not None:
            editor.parent.remove_widget(editor)
        elif proposal is not None and editor.parent is None:
            box.add_widget(editor, index=len(box.children))
        if proposal is not None:
            # The editor is at the top: show it whole, once it is laid out.
            from kivy.clock import Clock
            scroll = self.ids.scroll
            Clock.schedule_once(lambda _dt: scroll.scroll_to(editor, padding=0, animate=False))

    def refresh(self, *_args):
        box = self.ids.ideas
        box.clear_widgets()
        proposals = self.store.proposals(self.consultation.id)
        self.ids.empty.text = "" if proposals else tr._("No idea has been collected here yet.")
        for proposal in reversed(proposals):
            card = IdeaCard()
            card.proposal = proposal
            card.status_text = tr._(STATUS_NAMES.get(proposal.status, proposal.status)) + (
                f" — {proposal.reason}" if proposal.reason else "")
            theme_ = self.consultation.theme(proposal.theme) if proposal.theme else None
            card.meta = "  ·  ".join(x for x in (
                tr._("Code {code}").format(code=proposal.short_code),
                tr.loc(theme_.title) if theme_ else "",
                # The language it was written in, so a moderator reading another knows it.
                tr._(written_in(proposal.lang)) if written_in(proposal.lang) else "",
                self.place_words(proposal.place),
                tr._("Contact left") if proposal.contact else "") if x)
            card.bind(on_open=lambda c: self.edit(c.proposal))
            box.add_widget(card)

    def place_words(self, place) -> str:
        """Where the resident put the idea, in words ("" for none, or an area the bundle no
        longer has)."""
        perimeter = self.consultation.map
        area = perimeter.area(place.get("area", "")) if perimeter and place else None
        if area is None:
            return ""
        return (tr._("Pin on the map: {place}") if "lon" in place
                else tr._("Place: {place}")).format(place=tr.loc(area.name))

    def edit(self, proposal):
        self.moderation_error = ""
        self.editing = proposal
        self.ids.edit_title.text = proposal.title
        self.ids.edit_text.text = proposal.text
        self.ids.edit_reason.text = proposal.reason or ""

    def close_editor(self):
        self.editing = None
        self.moderation_error = ""

    def moderate(self, status):
        """approve / reject (with the reason typed) / correct (keeps the status)."""
        proposal = self.editing
        if proposal is None:
            return
        title, text = self.ids.edit_title.text, self.ids.edit_text.text
        try:
            self.store.moderate_proposal(
                proposal.id, proposal.status if status == "correct" else status,
                reason=self.ids.edit_reason.text if status == "rejected" else
                (proposal.reason if status == "correct" else None),
                title=title if title != proposal.title else None,
                text=text if text != proposal.text else None)
        except DomainError as exc:
            self.moderation_error = exc.describe(tr._)
            return
        self.close_editor()
        self.refresh()


load_kv(__file__)
