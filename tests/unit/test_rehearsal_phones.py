"""Attack (issue 30's review): a facilitator tries the room in rehearsal, opens the question to
phones from the rehearsing tablet, and residents answer on their phones. Phone answers are
ordinary ballots (the phone channel) that the rehearsal's wipe never touches: they counted for
real. Now refused while that site's tablet is in rehearsal, and taken once the session opens."""
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
                             json={"phones": ["q-ticket"], "phones_cards": False,
                                   "phones_rehearsal": False}, headers=auth)
    assert opened.status_code == 200, opened.text
    assert opened.json()["control"]["phones_rehearsal"] is True    # the hub's, not the sender's
    phone = api.fresh()
    tried = phone.post(f"/v/{demo.id}/q-ticket", data={"lang": "fr", "value": "yes"})
    assert tried.status_code == 409 and "répétition" in tried.text
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["ballots"] == 0 and real["questions"]["q-ticket"]["counts"]["yes"] == 0
    # The session opens (the rehearsal wiped): the same opening now takes real answers.
    session.open_session()
    assert statuses(push(hub, store, device)) == ["stored"]
    counted = phone.post(f"/v/{demo.id}/q-ticket", data={"lang": "fr", "value": "yes"})
    assert counted.status_code == 200, counted.text
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["questions"]["q-ticket"]["counts"]["yes"] == 1


def test_phones_opened_by_staff_or_a_tablet_in_session_are_not_held_back(hub, demo, tablet, push,
                                                                          statuses, api):
    store, device = tablet(hub)
    KioskSession(store, demo).start_rehearsal()       # another tablet of the site rehearses
    push(hub, store, device)
    from server import display_controls
    control = display_controls.set_display(hub, demo.id, {"phones": ["q-ticket"]}, "staff")
    assert control["control"]["phones_rehearsal"] is False
    counted = api.fresh().post(f"/v/{demo.id}/q-ticket", data={"lang": "fr", "value": "no"})
    assert counted.status_code == 200, counted.text
    assert json.loads(hub.read_results(demo.id)[1])["questions"]["q-ticket"]["counts"]["no"] == 1
