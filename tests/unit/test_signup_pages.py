"""The phone's sign-up pages as a resident meets them (server/routes/signup.py, its templates): every
error at once and named, language switches that keep what was typed and the page after the
form, a note that is not an error shown as information — through the real ASGI app."""
from __future__ import annotations

import html
import re

from app.signup import mint_signup_token
from server.participation import participation
from tests.unit.test_signup import CONSULTATION, SITE, client, enrolled, form_of, hub  # noqa: F401


def qr_form(hub, client, lang="fr"):
    key, alias, _device = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting="m-menton-1203",
                              device=alias)
    page = client.get("/signup", params={"t": token, "lang": lang})
    assert page.status_code == 200
    return token, form_of(page.text)


def test_every_field_at_fault_is_in_the_summary_named_with_its_label(hub, client):
    _token, hidden = qr_form(hub, client)
    sent = client.post("/signup", data={**hidden, "name": "", "contact": "not a contact"})
    assert sent.status_code == 422
    summary = sent.text[sent.text.index('id="errors"'):sent.text.index("</ul>")]
    lines = [html.unescape(re.sub(r"<[^>]+>", "", line))
             for line in re.findall(r"<li>(.*?)</li>", summary)]
    assert len(lines) == 3
    assert lines[0] == "Nom ou pseudonyme\u00a0: Ce champ est obligatoire."
    assert "Adresse e-mail ou numéro de téléphone\u00a0: " in lines[1]
    assert "Consentement\u00a0: " in lines[2]
    # Each field is marked too, and nothing was recorded.
    assert sent.text.count('aria-invalid="true"') == 3
    assert participation(hub).figures() == []


def test_switching_language_on_the_form_keeps_what_was_typed_and_records_nothing(hub, client):
    token, hidden = qr_form(hub, client, "fr")
    page = client.post("/signup", data={**hidden, "name": "Zoé Martin",
                                        "contact": "zoe@example.org", "consent": "1",
                                        "switch_lang": "it"})
    assert page.status_code == 200 and 'lang="it"' in page.text
    assert 'value="Zoé Martin"' in page.text and 'value="zoe@example.org"' in page.text
    assert form_of(page.text)["t"] == token and form_of(page.text)["lang"] == "it"
    assert participation(hub).figures() == []
    # The language buttons post this form; an unseen default button comes first, so that
    # Enter in a field sends the sign-up, never a language.
    buttons = re.findall(r'<button type="submit" form="signup"[^>]*>', page.text)
    assert len(buttons) == 4 and "switch_lang" not in buttons[0]
    assert all('name="switch_lang"' in b for b in buttons[1:])
    sent = client.post("/signup", data=form_of(page.text) | {
        "name": "Zoé Martin", "contact": "zoe@example.org", "consent": "1"})
    assert sent.status_code == 200
    assert participation(hub).figures()[0]["signups"] == 1


def test_the_page_after_the_form_changes_language_and_keeps_what_it_said(hub, client):
    _token, hidden = qr_form(hub, client, "fr")
    sent = client.post("/signup", data={**hidden, "name": "Zoé", "contact": "zoe@example.org",
                                        "consent": "1"})
    assert sent.status_code == 200
    # No mail server here: the note says so, as information, not as an error.
    note = re.search(r'<div class="([^"]*)" role="status">', sent.text)
    assert note and note.group(1) == "notice"
    links = dict((lang, html.unescape(href)) for href, lang in re.findall(
        r'<a href="(/signup/thanks\?[^"]+)" lang="(\w+)"', sent.text))
    assert set(links) == {"fr", "it", "en"}
    italian = client.get(links["it"])
    assert italian.status_code == 200 and 'lang="it"' in italian.text
    assert "registrata" in italian.text and "confermata" not in italian.text
    assert note.group(0) in italian.text          # the same outcome, in Italian
    assert participation(hub).figures()[0]["signups"] == 1        # nothing new recorded
    forged = client.get(links["it"].replace("r=", "r=x"))
    assert forged.status_code == 400 and "<h1>" in forged.text
    qr_link = client.get("/signup/thanks", params={"r": hidden["t"], "lang": "it"})
    assert qr_link.status_code == 400          # a QR's token is not a page reference
