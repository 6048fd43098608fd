"""Attacks on the surfaces added for issues 28-30, from outside (in process, the real hub on a
temporary SQLite database): what each found is fixed in the product and checked here."""
from __future__ import annotations

import json

from server import closing as closings
from server import display_controls

CONSULTATION = "alpimed-2030"
MEETING = "m-menton-1203"


def _auth(device):
    return {"Authorization": f"Bearer {device['id']}:{device['secret']}"}


def test_an_enrolled_tablet_cannot_put_a_foreign_closing_qr_on_the_projectors(hub, tablet, api):
    """Phishing on the big screen: the display control `closing` is drawn as a QR over every
    view; a tablet's credentials (or a stolen one) must not point it anywhere but a closing
    record this hub holds, at this hub's own public address."""
    _store, device = tablet(hub)
    client = api.fresh()
    url = f"/api/v1/consultations/{CONSULTATION}/display"
    own = hub.settings.public_url.rstrip("/")
    for address in ("https://piazzetta-verifica.example/closing/" + "ab" * 16,
                    "https://evil.example/login/closing/" + "cd" * 16,
                    f"{own}/closing/" + "ef" * 16):           # ours, but no such record
        answer = client.put(url, json={"closing": address}, headers=_auth(device))
        assert answer.status_code == 400, (address, answer.text)
        assert answer.json()["error"]["field"] == "closing"
    control = json.loads(display_controls.read_display(hub, CONSULTATION)[1])["control"]
    assert not control.get("closing")
    # A real closing record of this hub is shown (closing the meeting puts it there), and a
    # facilitator's tablet may take it off and put it back.
    row = closings.make_for(hub, meeting_id=MEETING)
    real = f"{own}/closing/{row['id']}"
    assert client.put(url, json={"closing": ""}, headers=_auth(device)).status_code == 200
    assert client.put(url, json={"closing": real}, headers=_auth(device)).status_code == 200
    control = json.loads(display_controls.read_display(hub, CONSULTATION)[1])["control"]
    assert control["closing"] == real
