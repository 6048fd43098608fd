"""Switching language mid-session, the idle prompt and reset, ideas with nasty input."""
import pytest

from tests.ui.conftest import PIN, step
from tests.ui.test_resident import kind_is, start


def visible_texts(widget):
    """Every label text shown under `widget` (the strings a resident reads)."""
    from kivy.uix.label import Label
    texts = []
    for w in widget.walk(restrict=True):
        if isinstance(w, Label) and w.text and w.opacity > 0:
            texts.append(w.text)
    return texts


def test_language_switch_keeps_answers_and_changes_the_strings(kiosk):
    k = kiosk
    ballot = start(k)
    body = kind_is(k, "colour")
    k.tap(body.ids.green)
    k.tap(body.ids.red)
    q = k.root.question
    french = visible_texts(q)
    assert "Suivant" in french and "Pour" in " ".join(french)
    italiano = q.ids.prompt.parent.children  # noqa: F841  (same layout, other words)
    bar = [b for b in q.walk() if getattr(b, "lang", None) == "it"][0]
    k.tap(bar)
    italian = visible_texts(q)
    assert "Avanti" in italian
    assert q.ids.prompt.text == "Cosa pensa di ogni progetto?"
    assert body.ids.project_title.text == k.session.consultation.project("p-market").title["it"]
    # The interface strings all changed (what is left is names and numbers).
    interface_fr = {"Suivant", "Passer", "Retour"}
    assert not interface_fr & set(italian)
    assert k.store.answers_of(ballot) == {"q-colour": {"p-bus": "green", "p-bike": "red"}}
    k.tap(q.ids.back)
    assert body.chosen == "red"               # still there, in Italian
    k.tap(body.ids.orange)
    assert k.store.answers_of(ballot)["q-colour"]["p-bike"] == "orange"


def test_idle_prompt_then_reset_clears_everything(kiosk):
    k = kiosk
    ballot = start(k)
    k.tap(k.body().ids.green)
    k.tap(k.root.question.ids.skip)
    for _ in range(4):
        k.tap(k.root.question.ids.skip)
    kind_is(k, "yes_no")
    it = [b for b in k.root.question.walk() if getattr(b, "lang", None) == "it"][0]
    k.tap(it)
    k.root._idle_reached()                   # the idle time ran out
    step(2)
    prompt = k.root.idle_prompt
    assert prompt.parent is not None          # "Are you still there?"
    assert "?" in prompt.ids.box.children[-1].text
    k.tap(prompt.ids.stay)                    # yes: nothing lost
    assert prompt.parent is None and k.root.current == "question"
    k.root._idle_reached()
    step(2)
    prompt.expire()                           # nobody answered the prompt
    step(4)
    k.settle()
    assert k.root.current == "welcome"
    from screens.i18n import tr
    assert tr.lang == "fr"                    # the next resident starts in the default
    assert k.session.ballot_id is None and k.session.answers == {}
    assert k.root.question.body is None
    # Bodies kept for speed hold nothing of the previous resident.
    for body in k.root.question.bodies.values():
        assert not getattr(body, "chosen", "") and not getattr(body, "selected_ids", [])
        assert not getattr(body, "ranked", []) and not any(getattr(body, "amounts", {}).values())
    # The answer given still counts; the ballot is closed as abandoned.
    assert k.store.answers_of(ballot) == {"q-colour": {"p-bus": "green"}}
    row = k.store.conn.execute("SELECT status FROM ballots WHERE id = ?", (ballot,)).fetchone()
    assert row[0] == "abandoned"
    # The next resident sees a blank first question.
    start(k)
    body = kind_is(k, "colour")
    assert body.project.id == "p-bus" and body.chosen == ""
    assert not any(b.selected for b in (body.ids.green, body.ids.orange, body.ids.red))


def test_idle_reset_clears_a_half_typed_idea(kiosk):
    k = kiosk
    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    k.type(idea.ids.title, "Mon idée secrète")
    k.tap(idea.ids.consent)
    k.type(idea.ids.contact, "moi@example.org")
    k.root._idle_reached()
    step(2)
    k.root.idle_prompt.expire()
    step(3)
    k.settle()
    assert k.root.current == "welcome"
    k.tap(k.root.welcome.ids.idea)
    assert idea.ids.title.text == "" and idea.ids.contact.text == "" and not idea.consent
    assert k.store.proposals(k.session.consultation.id) == []


def send_idea(k, title, text, contact=None):
    idea = k.root.idea
    k.type(idea.ids.title, title)
    k.type(idea.ids.text, text)
    if contact is not None:
        if not idea.consent:
            k.tap(idea.ids.consent)
        k.type(idea.ids.contact, contact)
    k.tap(idea.ids.send)


def test_an_idea_with_theme_and_contact(kiosk):
    k = kiosk
    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    assert idea.ids.contact.disabled          # no contact before the consent box
    k.tap(idea.theme_cards["health"])
    send_idea(k, "Médecin le samedi", "Une permanence médicale le samedi matin.",
              contact="+39 0184 123456")
    assert k.root.current == "thanks"
    [proposal] = k.store.proposals(k.session.consultation.id)
    assert (proposal.title, proposal.theme, proposal.contact) == \
        ("Médecin le samedi", "health", "+39 0184 123456")
    assert proposal.short_code in k.root.thanks.ids.message.text


NASTY = [
    "<script>alert('x')</script>",
    "'; DROP TABLE proposals; --",
    "مرحبا بالعالم — עברית",                  # right-to-left
    "Idée 🚲🌍👩‍👩‍👧 ok",
    "[b]bold[/b] [color=ff0000]red[/color]",  # Kivy markup stays plain text
]


def plain_of(markup: str) -> str:
    """A label's markup as the reader sees it: the font tags gone, Kivy's escapes read."""
    import re
    text = re.sub(r"\[/?font(=[^\]]*)?\]", "", markup)
    return text.replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")


@pytest.mark.parametrize("text", NASTY)
def test_nasty_ideas_are_stored_verbatim_and_shown_as_plain_text(kiosk, text):
    k = kiosk
    k.tap(k.root.welcome.ids.idea)
    send_idea(k, text[:100], text)
    [proposal] = k.store.proposals(k.session.consultation.id)
    assert proposal.title == text[:100] and proposal.text == text
    assert k.store.integrity_check() == "ok"
    # The facilitator reads it as typed (no markup interpretation).
    k.root.open_pin()
    k.settle()
    pin = k.root.pin_screen
    for digit in PIN:
        k.tap([w for w in pin.ids.keypad.children if w.text == digit][0], frames=1)
    k.tap(pin.ids.ok)
    fac = k.root.facilitator
    k.tap(fac.nav_buttons["ideas"])
    card = fac.ids.pages.get_screen("ideas").ids.ideas.children[0]
    shown = card.ids.t
    if shown.markup:
        # Only the screens' own markup: emoji runs drawn in the fallback font
        # (screens.widgets.DrawsEmoji), the typed text escaped around them.
        assert "[font=" in shown.text
        assert plain_of(shown.text) == text[:100]
    else:
        assert shown.text == text[:100]


def test_control_characters_are_removed_and_huge_text_refused(kiosk):
    k = kiosk
    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    send_idea(k, "Titre", "x" * 10_000)
    assert k.root.current == "idea"
    assert "2000" in idea.ids.text.error and "10000" in idea.ids.text.error.replace("\u202f", "")
    assert k.store.proposals(k.session.consultation.id) == []
    idea.ids.text.input.text = ""
    idea.ids.title.input.text = ""
    send_idea(k, "", "Du texte")
    assert idea.ids.title.error                     # required
    idea.ids.title.input.text = ""
    idea.ids.text.input.text = ""
    send_idea(k, "Tab\tbell\x07", "ligne 1\nligne 2\x00")
    [proposal] = k.store.proposals(k.session.consultation.id)
    assert proposal.title == "Tabbell" and proposal.text == "ligne 1\nligne 2"


def test_a_contact_needs_the_consent_box(kiosk):
    k = kiosk
    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    k.tap(idea.ids.consent)
    k.type(idea.ids.contact, "pas un contact")
    k.type(idea.ids.title, "Titre")
    k.type(idea.ids.text, "Texte")
    k.tap(idea.ids.send)
    assert idea.ids.contact.error and k.root.current == "idea"
    k.tap(idea.ids.consent)                  # untick: the contact is refused, not kept
    k.tap(idea.ids.send)
    assert idea.ids.contact.error
    assert k.store.proposals(k.session.consultation.id) == []
