"""Attack (issue 30's review): a facilitator tries the room in rehearsal, opens the question to
phones from the rehearsing tablet, and residents answer on their phones. Phone answers must not
become real ballots that the rehearsal's wipe never touches: while a tablet of the site is in
rehearsal they are the rehearsal's (server.rehearsal, "Phones in a rehearsal"), and once the
session opens the same opening takes real answers."""
import json

from app.kiosk import KioskSession


def test_phones_opened_in_rehearsal_do_not_count_until_the_session_opens(
        hub, demo, tablet, push, statuses, api):
    store, device = tablet(hub)
    session = KioskSession(store, demo)
    session.start_rehearsal()
    assert statuses(push(hub, store, device)) == ["stored"]
    assert hub.rehearsal.running(device["site_id"])
    auth = {"Authorization": f"Bearer {device['id']}:{device['secret']}"}
    opened = api.fresh().put(f"/api/v1/consultations/{demo.id}/display",
                             json={"phones": ["q-ticket"], "phones_cards": False}, headers=auth)
    assert opened.status_code == 200, opened.text
    phone = api.fresh()
    page = phone.get(f"/v/{demo.id}/q-ticket", headers={"Accept-Language": "fr"})
    assert "RÉPÉTITION" in page.text
    tried = phone.post(f"/v/{demo.id}/q-ticket",
                       data={"lang": "fr", "value": "yes", "rehearsal": "1"})
    assert tried.status_code == 200 and "répétition" in tried.text.lower()
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["ballots"] == 0 and real["questions"]["q-ticket"]["counts"]["yes"] == 0
    # The session opens (the rehearsal wiped): the same opening now takes real answers.
    session.open_session()
    assert statuses(push(hub, store, device)) == ["stored"]
    counted = phone.post(f"/v/{demo.id}/q-ticket", data={"lang": "fr", "value": "yes"})
    assert counted.status_code == 200, counted.text
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["questions"]["q-ticket"]["counts"]["yes"] == 1
