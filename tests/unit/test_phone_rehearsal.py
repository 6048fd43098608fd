"""Phones in a rehearsal (issues 29 and 30), against a real hub in process through its HTTP
pages: while a tablet of the site rehearses, every phone page carries the kiosk's band, and a
phone's answer is kept apart exactly like a tablet's rehearsal answer — never an event, a ballot,
a tally, an export, a closing or a connector's; shown on the rehearsal's own tally; wiped when
the session opens; a card checked but not spent; and an answer never changes side."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from app.kiosk import KioskSession
from server import db, display_controls
from server.admin import export

CONSULTATION = "alpimed-2030"
BAND = {"fr": "RÉPÉTITION\u00a0: ces réponses ne comptent pas",
        "it": "PROVA: queste risposte non contano"}


def _count(hub, table) -> int:
    with hub.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _real(hub) -> dict:
    return json.loads(hub.read_results(CONSULTATION)[1])


def _open(hub, site, questions, cards=False):
    display_controls.set_display(hub, CONSULTATION, {"phones": list(questions),
                                                     "phones_cards": cards,
                                                     "phones_site": site}, "test")


def _phone(api, lang="fr"):
    client = api.fresh()
    client.headers["Accept-Language"] = lang
    return client


def _send(client, question, data, lang="fr"):
    return client.post(f"/v/{CONSULTATION}/{question}", data={"lang": lang, **data})


def _rehearsing_tablet(hub, demo, tablet, push):
    store, device = tablet(hub)
    session = KioskSession(store, demo)
    session.start_rehearsal()
    push(hub, store, device)
    assert hub.rehearsal.running(device["site_id"])
    return store, device, session


def _nothing_real(hub):
    """No trace of a phone's rehearsal answer where anything real is read."""
    assert _count(hub, db.events) == 0 and _count(hub, db.ballots) == 0
    assert _count(hub, db.ballot_answers) == 0 and _count(hub, db.card_uses) == 0
    assert _count(hub, db.decidim_outbox) == 0 and _count(hub, db.closings) == 0
    real = _real(hub)
    assert real["ballots"] == 0 and real.get("channels", {}) == {}
    assert real["questions"]["q-ticket"]["counts"] == {"yes": 0, "no": 0, "abstain": 0}
    assert "q-ticket,yes_no,yes,counts,0" in export(hub, "results", CONSULTATION, "csv")
    assert "q-ticket,yes_no,yes,counts,1" not in export(hub, "results", CONSULTATION, "csv")


def test_every_phone_page_carries_the_band_while_the_sites_tablet_rehearses(
        hub, demo, tablet, push, api):
    client = _phone(api)
    store, device, session = _rehearsing_tablet(hub, demo, tablet, push)
    site = device["site_id"]
    waiting = client.get(f"/v/{CONSULTATION}")        # nothing open yet: the waiting page
    assert waiting.status_code == 200 and BAND["fr"] in waiting.text
    _open(hub, site, ["q-ticket"])
    page = client.get(f"/v/{CONSULTATION}")
    assert BAND["fr"] in page.text and 'name="rehearsal" value="1"' in page.text
    italian = _phone(api, "it").get(f"/v/{CONSULTATION}/q-ticket")
    assert BAND["it"] in italian.text
    closed = client.get(f"/v/{CONSULTATION}/q-cooperation")
    assert closed.status_code == 410 and BAND["fr"] in closed.text
    received = _send(client, "q-ticket", {"value": "yes", "rehearsal": "1"})
    assert received.status_code == 200 and BAND["fr"] in received.text
    assert "Réponse de répétition reçue" in received.text
    assert "Votre réponse est comptée" not in received.text
    # Phones opened for another site: no band there (the hook is the site's rehearsal).
    elsewhere = next(s.id for s in demo.sites if s.id != site)
    _open(hub, elsewhere, ["q-ticket"])
    other = client.get(f"/v/{CONSULTATION}/q-ticket")
    assert not hub.rehearsal.running(elsewhere)
    assert BAND["fr"] not in other.text and 'name="rehearsal"' not in other.text
    # The session opens: the band leaves every page.
    _open(hub, site, ["q-ticket"])
    session.open_session()
    push(hub, store, device)
    assert BAND["fr"] not in client.get(f"/v/{CONSULTATION}/q-ticket").text


def test_a_phones_rehearsal_answer_is_kept_apart_and_wiped_when_the_session_opens(
        hub, demo, tablet, push, api):
    store, device, session = _rehearsing_tablet(hub, demo, tablet, push)
    _open(hub, device["site_id"], ["q-ticket", "q-cooperation"])
    first, second = _phone(api), _phone(api)
    assert _send(first, "q-ticket", {"value": "yes", "rehearsal": "1"}).status_code == 200
    assert _send(second, "q-ticket", {"value": "no", "rehearsal": "1"}).status_code == 200
    assert _send(first, "q-cooperation", {"value": "4", "rehearsal": "1"}).status_code == 200
    # One answer per phone and question in a rehearsal too (what residents will see).
    again = _send(first, "q-ticket", {"value": "no", "rehearsal": "1"})
    assert again.status_code == 409 and "Déjà répondu" in again.text
    # A tablet's rehearsal answer beside them.
    session.start()
    session.index = [q.id for q in demo.questions].index("q-ticket")
    session.record("yes")
    session.finish()
    push(hub, store, device)
    _nothing_real(hub)
    shown = api.fresh().get(f"/api/v1/consultations/{CONSULTATION}/rehearsal/results").json()
    assert shown["rehearsal"] is True and shown["ballots"] == 3
    assert shown["channels"] == {"tablet": 1, "phone": 2}
    ticket = shown["questions"]["q-ticket"]
    assert ticket["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert ticket["channels"]["phone"]["ballots"] == 2
    # The session opens: the tablet's and the phones' rehearsal answers are wiped.
    assert _count(hub, db.rehearsal_answers) == 4
    session.open_session()
    push(hub, store, device)
    assert not hub.rehearsal.running() and _count(hub, db.rehearsal_answers) == 0
    shown = api.fresh().get(f"/api/v1/consultations/{CONSULTATION}/rehearsal/results").json()
    assert shown["ballots"] == 0
    # The same phone now answers for real: its rehearsal answer did not count, nor block it.
    counted = _send(first, "q-ticket", {"value": "no"})
    assert counted.status_code == 200 and "Votre réponse est comptée" in counted.text
    real = _real(hub)
    assert real["channels"] == {"phone": 1}
    assert real["questions"]["q-ticket"]["counts"] == {"yes": 0, "no": 1, "abstain": 0}
    assert real["questions"]["q-cooperation"]["ballots"] == 0


def test_an_answer_keeps_the_side_its_page_was_shown_on(hub, demo, tablet, push, api):
    store, device, session = _rehearsing_tablet(hub, demo, tablet, push)
    _open(hub, device["site_id"], ["q-ticket"])
    client = _phone(api)
    page = client.get(f"/v/{CONSULTATION}/q-ticket")
    assert 'name="rehearsal" value="1"' in page.text
    # The session opens while the phone's rehearsal page is on screen: its answer is refused
    # and counts nowhere (a rehearsal answer never becomes a real one).
    session.open_session()
    push(hub, store, device)
    late = _send(client, "q-ticket", {"value": "yes", "rehearsal": "1"})
    assert late.status_code == 410 and "Cette répétition est terminée" in late.text
    assert BAND["fr"] not in late.text
    assert _real(hub)["ballots"] == 0 and _count(hub, db.events) == 0
    assert _count(hub, db.rehearsal_answers) == 0
    # The reverse: a real page, then a tablet of the site starts a rehearsal: refused too,
    # and kept nowhere (a resident who thought it counted is told it did not).
    real_page = client.get(f"/v/{CONSULTATION}/q-ticket")
    assert 'name="rehearsal"' not in real_page.text
    session.start_rehearsal()
    push(hub, store, device)
    switched = _send(client, "q-ticket", {"value": "yes"})
    assert switched.status_code == 409 and "Une répétition a commencé" in switched.text
    assert BAND["fr"] in switched.text
    assert _count(hub, db.rehearsal_answers) == 0 and _real(hub)["ballots"] == 0


def test_a_card_is_checked_in_a_rehearsal_but_never_spent(hub, demo, tablet, push, api):
    card, = hub.participation.issue_cards(CONSULTATION, 1)
    store, device, session = _rehearsing_tablet(hub, demo, tablet, push)
    _open(hub, device["site_id"], ["q-ticket"], cards=True)
    client = _phone(api)
    last = "Y" if card.typed.endswith("X") else "X"     # a symbol the code does not end with
    wrong = _send(client, "q-ticket", {"value": "no", "rehearsal": "1",
                                       "card": card.typed[:-1] + last})
    assert wrong.status_code == 400 and BAND["fr"] in wrong.text
    tried = _send(client, "q-ticket", {"value": "no", "rehearsal": "1", "card": card.typed})
    assert tried.status_code == 200 and "Réponse de répétition reçue" in tried.text
    twice = _send(_phone(api), "q-ticket", {"value": "yes", "rehearsal": "1",
                                            "card": card.typed})
    assert twice.status_code == 409 and "Déjà utilisée" in twice.text
    _nothing_real(hub)
    with hub.engine.connect() as conn:
        kept = conn.execute(select(db.rehearsal_answers.c.ballot_id)).scalars().all()
    # The rehearsal's ballot is derived from the card's phone ballot, never that ballot itself.
    from server.phone_ballot import card_ballot
    assert len(kept) == 1 and kept[0] != card_ballot(hub, CONSULTATION, card.lookup)
    # The session opens: the card, never spent, answers for real once.
    session.open_session()
    push(hub, store, device)
    real = _send(client, "q-ticket", {"value": "yes", "card": card.typed})
    assert real.status_code == 200 and "Votre réponse est comptée" in real.text
    assert _count(hub, db.card_uses) == 1
    assert _real(hub)["questions"]["q-ticket"]["counts"] == {"yes": 1, "no": 0, "abstain": 0}
