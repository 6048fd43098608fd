"""Personal data at the hub (review, items 3 and 6–8): events refused or in conflict are kept
for review without a resident's name or contact; sign-up links of revoked devices attribute
nothing; the data folder and the database are private to the hub's user; `export ideas`
publishes approved ideas only."""
from __future__ import annotations

import copy
import json
import os
import stat

import pytest
from sqlalchemy import select

from app.paths import DEMO_BUNDLE_DIR
from server import db
from server.hub import Hub
from server.settings import Settings

SITE = "menton-mediatheque"


def file_bytes(hub) -> bytes:
    """Everything SQLite holds on disk, after a checkpoint."""
    with hub.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = hub.settings.data_dir / "hub.sqlite3"
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal"))
                    if p.exists())


def signup_form(name: str, contact: str) -> dict:
    return {"name": name, "contact": contact, "consent": True}


def test_refused_and_conflicting_events_keep_no_personal_data(hub, demo, tablet, pending):
    store, device = tablet(hub)
    store.record_signup(signup_form("Zéphyrine Quagliarulo", "zephyrine.q@example.org"),
                        consultation_id=demo.id, site_id=SITE)
    store.submit_proposal(demo, title="Un banc", text="Près de la gare",
                          contact="+33 6 11 22 33 44", contact_consent=True)
    signup, idea = pending(store)
    assert [r["status"] for r in hub.ingest(device, [signup, idea])] == ["stored", "stored"]
    # The same IDs with other content: conflicts.
    other_signup = copy.deepcopy(signup)
    other_signup["payload"].update(name="Bartholomew Xylander", contact="bart.x@example.org")
    other_idea = copy.deepcopy(idea)
    other_idea["payload"].update(contact="+39 333 765 4321", text="Autre")
    # Refused: an unknown consultation, a bad field, a payload that is not an object, a
    # mistyped type, personal data outside the payload.
    refused = [
        dict(signup, id="s-unknown", payload=dict(
            signup["payload"], signup_id="s2", consultation_id="nope",
            name="Ottilie Vandermeer", contact="ottilie.v@example.org")),
        dict(signup, id="s-no-consent", payload=dict(
            signup["payload"], signup_id="s3", consent=False,
            name="Cunégonde Pfefferkorn", contact="+33 7 98 76 54 32")),
        dict(signup, id="s-text", payload="Hildegard Oyelaran hildegard.o@example.org"),
        dict(signup, id="s-type", type="Signup", payload=dict(
            signup["payload"], name="Wilhelmina Abernathy")),
        dict(signup, id="s-extra", type="no such type", note="Ignatius Fairweather"),
        dict(idea, id="i-huge", payload=dict(idea["payload"], proposal_id="i2",
                                             text="x" * 100_000, contact="+33 6 55 44 33 22")),
    ]
    results = hub.ingest(device, [other_signup, other_idea, *refused])
    assert [r["status"] for r in results] == ["conflict"] * 2 + ["rejected"] * len(refused)
    secrets = ["Bartholomew Xylander", "bart.x@example.org", "+39 333 765 4321",
               "Ottilie Vandermeer", "ottilie.v@example.org", "Cunégonde Pfefferkorn",
               "+33 7 98 76 54 32", "Hildegard Oyelaran", "Wilhelmina Abernathy",
               "Ignatius Fairweather", "+33 6 55 44 33 22",
               # what was stored lives in `signups` / `proposals` only, not in events
               ]
    reviews = hub.reviews()
    assert len(reviews) == 2 + len(refused)
    text = json.dumps(reviews, ensure_ascii=False)
    for secret in secrets:
        assert secret not in text
    raw = file_bytes(hub)
    for secret in secrets:
        assert secret.encode() not in raw, secret
    # Reviews still say what happened: the IDs, the types, the reasons, the rest of the event.
    by_id = {r["event_id"]: r for r in reviews}
    assert by_id["s-unknown"]["reason"] == "Unknown consultation."
    assert by_id["s-unknown"]["envelope"]["payload"]["redacted"] is True
    assert by_id[idea["id"]]["envelope"]["payload"]["text"] == "Autre"
    assert by_id[idea["id"]]["envelope"]["payload"]["contact"] is None
    # The stored events hold no contact either; the sign-up and the idea keep theirs where
    # they belong (the idea's with the resident's consent, for the answer).
    with hub.engine.connect() as conn:
        payloads = " ".join(conn.execute(select(db.events.c.payload)).scalars())
        assert "Quagliarulo" not in payloads and "11 22 33 44" not in payloads
        assert conn.execute(select(db.signups.c.name)).scalar() == "Zéphyrine Quagliarulo"
    assert hub.proposals(demo.id)[0]["contact"] == "+33 6 11 22 33 44"


def test_the_conflicts_api_serves_redacted_envelopes(hub, demo, tablet, pending):
    from fastapi.testclient import TestClient

    from server.api import create_app
    store, device = tablet(hub)
    store.record_signup(signup_form("Zéphyrine Quagliarulo", "zephyrine.q@example.org"),
                        consultation_id=demo.id)
    signup, = pending(store)
    hub.ingest(device, [signup])
    other = copy.deepcopy(signup)
    other["payload"]["name"] = "Bartholomew Xylander"
    refused = dict(signup, id="s-unknown", payload=dict(signup["payload"], signup_id="s2",
                                                       consultation_id="nope"))
    assert [r["status"] for r in hub.ingest(device, [other, refused])] == \
        ["conflict", "rejected"]
    client = TestClient(create_app(hub=hub))
    answer = client.get("/api/v1/admin/conflicts",
                        headers={"Authorization": f"Bearer {hub.settings.admin_token}"})
    assert answer.status_code == 200
    assert len(answer.json()["events"]) == 2
    assert "Xylander" not in answer.text and "Quagliarulo" not in answer.text
    assert "zephyrine" not in answer.text


# -- item 6: sign-up links of revoked or unknown devices attribute nothing ---------------------

@pytest.mark.parametrize("case", ["revoked", "unknown", "enrolled again"])
def test_links_of_revoked_or_unknown_devices_attribute_nothing(hub, demo, case):
    import re

    from fastapi.testclient import TestClient

    from app.signup import device_signup_key, mint_signup_token
    from server.api import create_app
    from server.participation import participation
    device_id, alias = "tab-lost", "unknownalias2345"
    if case != "unknown":
        alias = hub.enroll(hub.make_enrollment_code(SITE)["code"], device_id)["alias"]
        hub.revoke(device_id)
    if case == "enrolled again":   # staff lifted the revocation: the device's links work again
        hub.reinstate(device_id)
    token = mint_signup_token(device_signup_key(hub.settings.secret_key, alias),
                              consultation=demo.id, site=SITE, meeting="m-menton-1203",
                              device=alias)
    client = TestClient(create_app(hub=hub), base_url="https://testserver")
    page = client.get("/signup", params={"t": token, "lang": "fr"})
    assert page.status_code == 200 and "pas valable" not in page.text   # no alarm for residents
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    sent = client.post("/signup", data={**hidden, "t": token, "name": "Luca",
                                        "contact": "+39 333 1234567", "consent": "on"})
    assert sent.status_code == 200
    attributed = [(f["site_id"], f["meeting_id"], f["signups"])
                  for f in participation(hub).figures() if f["signups"]]
    if case == "enrolled again":
        assert attributed == [(SITE, "m-menton-1203", 1)]
    else:
        assert attributed == [(None, None, 1)]
        with hub.engine.connect() as conn:
            row = conn.execute(select(db.signups)).one()
        assert (row.device_id, row.consultation_id) == (None, None)


# -- item 7: the data folder and the database are the hub's user's only ------------------------

def test_the_data_folder_and_database_files_are_private(tmp_path):
    folder = tmp_path / "fresh" / "hub"
    old = os.umask(0o022)
    try:
        hub = Hub(Settings.from_env({}, data_dir=folder))
        hub.import_bundle(DEMO_BUNDLE_DIR)
        names = ("hub.sqlite3", "hub.sqlite3-wal", "hub.sqlite3-shm", "secret-key",
                 "admin-token")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in names:
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
        hub.close()
        # A folder and files left open by an older hub are tightened at the next start.
        folder.chmod(0o755)
        (folder / "hub.sqlite3").chmod(0o644)
        again = Hub(Settings.from_env({}, data_dir=folder))
        assert again.consultation("alpimed-2030") is not None
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in names[:3]:     # the -wal and -shm made again take the file's mode
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
        again.close()
    finally:
        os.umask(old)


# -- item 8: `export ideas` publishes approved ideas only ---------------------------------------

def test_export_ideas_gives_approved_ideas_as_published_and_all_only_on_request(
        hub, demo, tmp_path, capsys, tablet, pending):
    from server.admin import export, main as admin_main
    store, device = tablet(hub)
    good = store.submit_proposal(demo, title="Un banc", text="Près de la gare",
                                 contact="+33 6 12 34 56 78", contact_consent=True)
    spam = store.submit_proposal(demo, title="Achetez", text="Pub en ligne")
    store.submit_proposal(demo, title="En attente", text="Pas encore lue")
    store.moderate_proposal(good.id, "approved", text="Un banc près de la gare")
    store.moderate_proposal(spam.id, "rejected", reason="Publicité")
    hub.ingest(device, pending(store))
    published = json.loads(export(hub, "ideas", demo.id, "json"))
    assert [(i["title"], i["text"], i["status"]) for i in published] == \
        [("Un banc", "Un banc près de la gare", "approved")]
    csv_text = export(hub, "ideas", demo.id, "csv")
    assert "Achetez" not in csv_text and "En attente" not in csv_text
    assert "Près de la gare" not in csv_text           # the corrected text, not the original
    everything = json.loads(export(hub, "ideas", demo.id, "json", all_ideas=True))
    assert sorted(i["status"] for i in everything) == ["approved", "pending", "rejected"]
    assert {i["title"]: i["reason"] for i in everything}["Achetez"] == "Publicité"
    assert {i["title"]: i["original_text"] for i in everything}["Un banc"] == "Près de la gare"
    for text in (csv_text, json.dumps(everything), export(hub, "ideas", demo.id, "csv",
                                                          all_ideas=True)):
        assert "12 34 56 78" not in text and "contact" not in text
        assert store.device_id not in text
    # The CLI: the same, --all documented in its help.
    data = str(hub.settings.data_dir)
    hub.close()
    assert admin_main(["--data-dir", data, "export", "ideas", "--consultation", demo.id]) == 0
    out = capsys.readouterr().out
    assert "Un banc près de la gare" in out and "Achetez" not in out
    assert admin_main(["--data-dir", data, "export", "ideas", "--consultation", demo.id,
                       "--all", "--format", "json"]) == 0
    assert "Achetez" in capsys.readouterr().out
    from server.admin import _parser
    assert "--all" in _parser()._subparsers._group_actions[0].choices["export"].format_help()
