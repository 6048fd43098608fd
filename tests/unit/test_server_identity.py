"""Device identity at the hub (issue 12), in process on a temporary SQLite database: enrollment
binds the tablet's own credential and is idempotent; a late, repeated or stranger's enrollment
changes nothing; only staff lift a revocation; a device acts only on consultations open to its
site, attributed to its site; residents see an alias, never a device ID; an idea code several
tablets made is never answered by guess."""
from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.paths import DEMO_BUNDLE_DIR
from app.signup import mint_signup_token
from server import channels, db, display_controls
from server.api import create_app
from server.errors import AuthError, HubError
from server.hub import Hub
from server.participation import participation

SITE = "menton-mediatheque"
OTHER_SITE = "ventimiglia-biblioteca"


def credential() -> tuple[str, str]:
    """(secret, its SHA-256): what a tablet makes before its first attempt."""
    secret = secrets.token_urlsafe(32)
    return secret, hashlib.sha256(secret.encode()).hexdigest()


def bearer(device_id: str, secret: str) -> str:
    return f"Bearer {device_id}:{secret}"


def device_row(hub, device_id: str) -> dict:
    with hub.engine.connect() as conn:
        return dict(conn.execute(select(db.devices).where(db.devices.c.id == device_id))
                    .one()._mapping)


def code_used(hub, code: str) -> bool:
    with hub.engine.connect() as conn:
        return conn.execute(select(db.enrollment_codes.c.used_at).where(
            db.enrollment_codes.c.code_hash == db.sha256(code.replace("-", "")))
        ).scalar() is not None


def refused(call, *args, **kwargs) -> HubError:
    with pytest.raises(HubError) as info:
        call(*args, **kwargs)
    return info.value


# -- enrollment: idempotent, replay-safe -------------------------------------------------------

def test_a_lost_answer_costs_nothing_the_same_request_gets_the_same_answer(hub):
    secret, cred = credential()
    code = hub.make_enrollment_code(SITE)["code"]
    first = hub.enroll(code, "tab-1", cred, "Tablette 1")
    assert "device_secret" not in first and first["credential"] == cred
    assert first["alias"] and "tab-1" not in first["alias"] and first["site_id"] == SITE
    # The answer was lost: the same request again, typed differently, gets the same data.
    assert hub.enroll(code.lower().replace("-", " "), "tab-1", cred, "Tablette 1") == first
    assert hub.authenticate(bearer("tab-1", secret))["id"] == "tab-1"
    # The same code with another credential or for another device is spent.
    _, other = credential()
    for device_id, binding in (("tab-1", other), ("tab-2", cred), ("tab-2", other)):
        assert refused(hub.enroll, code, device_id, binding).code == "enrollment_code_invalid"
    assert hub.authenticate(bearer("tab-1", secret))["id"] == "tab-1"


def test_a_late_copy_of_an_earlier_enrollment_changes_nothing(hub):
    secret, cred = credential()
    held, second = (hub.make_enrollment_code(s)["code"] for s in (OTHER_SITE, SITE))
    hub.enroll(second, "tab-1", cred)            # the tablet gave up on `held`, used another
    before = device_row(hub, "tab-1")
    late = refused(hub.enroll, held, "tab-1", cred)   # the held request arrives now
    assert (late.status, late.code) == (409, "device_enrolled")
    _, stranger = credential()
    assert refused(hub.enroll, held, "tab-1", stranger).code == "device_enrolled"
    assert device_row(hub, "tab-1") == before and not code_used(hub, held)
    assert hub.authenticate(bearer("tab-1", secret))["site_id"] == SITE   # still pushing
    # A copy of the request that did enroll it is answered again, changing nothing.
    assert hub.enroll(second, "tab-1", cred)["site_id"] == SITE
    assert device_row(hub, "tab-1") == before
    # The unspent code still enrolls a new tablet.
    assert hub.enroll(held, "tab-2", credential()[1])["site_id"] == OTHER_SITE


def test_its_own_credential_moves_a_device_and_later_copies_are_superseded(hub):
    secret, cred = credential()
    first = hub.make_enrollment_code(SITE)["code"]
    alias = hub.enroll(first, "tab-1", cred)["alias"]
    move = hub.make_enrollment_code(OTHER_SITE)["code"]
    moved = hub.enroll(move, "tab-1", cred, authorization=bearer("tab-1", secret))
    assert moved["site_id"] == OTHER_SITE and moved["alias"] == alias
    late = refused(hub.enroll, first, "tab-1", cred)
    assert (late.status, late.code) == (409, "enrollment_superseded")
    assert device_row(hub, "tab-1")["site_id"] == OTHER_SITE
    wrong = refused(hub.enroll, hub.make_enrollment_code(SITE)["code"], "tab-1", cred,
                    authorization=bearer("tab-1", "not its secret"))
    assert wrong.code == "device_enrolled"


def test_a_stranger_with_a_fresh_code_cannot_take_over_a_device(hub, demo, tablet, push):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    count_id = store.record_count(demo, "q-ticket", "paper", {"yes": 5, "no": 1}).count_id
    idea = store.submit_proposal(demo, title="Un banc", text="À l'ombre")
    push(hub, store, device)
    before = (device_row(hub, device["id"]), hub.read_results(demo.id), hub.proposals())
    stranger_secret, stranger = credential()
    for attempt in ({"credential": stranger}, {"credential": device["secret_hash"]},
                    {"credential": stranger, "authorization": bearer(device["id"], "guess")},
                    {}):                                   # the hub-made secret of old tablets
        code = hub.make_enrollment_code(SITE)["code"]
        assert refused(hub.enroll, code, device["id"], **attempt).code == "device_enrolled"
        assert not code_used(hub, code)
    with pytest.raises(AuthError):
        hub.authenticate(bearer(device["id"], stranger_secret))
    hub.revoke(device["id"])
    code = hub.make_enrollment_code(SITE)["code"]
    assert refused(hub.enroll, code, device["id"], stranger).code == "device_revoked"
    assert refused(hub.enroll, code, device["id"], device["secret_hash"],
                   authorization=bearer(device["id"], device["secret"])).code == "device_revoked"
    after = device_row(hub, device["id"])
    assert after["revoked_at"] is not None
    assert {k: v for k, v in after.items() if k != "revoked_at"} == \
        {k: v for k, v in before[0].items() if k != "revoked_at"}
    assert (hub.read_results(demo.id), hub.proposals()) == before[1:]
    assert [c["count_id"] for c in channels.counts_of(hub, demo.id)] == [count_id]
    assert [p["id"] for p in hub.proposals()] == [idea.id]


def test_only_staff_lift_a_revocation(hub):
    secret, cred = credential()
    alias = hub.enroll(hub.make_enrollment_code(SITE)["code"], "tab-1", cred)["alias"]
    hub.revoke("tab-1")
    for_other = hub.make_enrollment_code(None, device_id="tab-2")["code"]
    assert refused(hub.enroll, for_other, "tab-1", cred).code == "enrollment_code_other_device"
    staff = hub.make_enrollment_code(None, device_id="tab-1")
    assert staff["device_id"] == "tab-1"
    _, new = credential()
    again = hub.enroll(staff["code"], "tab-1", new)
    assert again["site_id"] == SITE and again["alias"] != alias      # old links stop
    assert device_row(hub, "tab-1")["revoked_at"] is None
    with pytest.raises(AuthError):
        hub.authenticate(bearer("tab-1", secret))                     # the new credential only
    # The explicit staff command keeps the credential.
    hub.revoke("tab-1")
    hub.reinstate("tab-1")
    assert device_row(hub, "tab-1")["revoked_at"] is None
    assert refused(hub.reinstate, "nobody").status == 404
    bad = refused(hub.enroll, hub.make_enrollment_code(SITE)["code"], "tab-3", "NOT-HEX")
    assert bad.field == "credential"


def test_an_older_database_gets_the_new_columns_and_aliases(tmp_path):
    from server.settings import Settings
    settings = Settings.from_env({}, data_dir=tmp_path / "hub")
    hub = Hub(settings)
    made = hub.enroll(hub.make_enrollment_code(None)["code"], "old-tablet")
    hub.close()
    conn = sqlite3.connect(tmp_path / "hub" / "hub.sqlite3")
    # A database of before: without these columns, and made before numbered migrations.
    conn.executescript("DROP TABLE schema_version;"
                       "DROP INDEX devices_alias; ALTER TABLE devices DROP COLUMN alias;"
                       "ALTER TABLE devices DROP COLUMN enrolled_by;"
                       "ALTER TABLE enrollment_codes DROP COLUMN for_device;"
                       "ALTER TABLE enrollment_codes DROP COLUMN credential_hash;")
    conn.close()
    hub = Hub(settings)
    try:
        me = hub.authenticate(bearer("old-tablet", made["device_secret"]))
        info = hub.device_info(me)
        assert re.fullmatch(r"[a-z2-7]{16}", info["alias"]) and info["signup_key"]
        assert hub.enroll(hub.make_enrollment_code(None)["code"], "new", credential()[1])
    finally:
        hub.close()


# -- site confinement --------------------------------------------------------------------------

@pytest.fixture
def everywhere(hub):
    """A second consultation open to every site (its bundle lists none)."""
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
    data = copy.deepcopy(data)
    data["consultation"]["id"] = "everywhere"
    data["sites"], data["meetings"] = [], []
    return hub.import_bundle(data)


def test_a_device_acts_only_on_consultations_open_to_its_site(hub, demo, everywhere, tablet):
    hub.create_site("elsewhere", {"fr": "Ailleurs"})
    store, device = tablet(hub, "elsewhere")
    assert [c["id"] for c in hub.bundle_index(device)["consultations"]] == ["everywhere"]
    for consultation in (demo, everywhere):
        ballot = store.start_ballot(consultation)
        store.record_answer(consultation, ballot, "q-ticket", "yes")
    store.record_count(demo, "q-ticket", "paper", {"yes": 9})
    store.submit_proposal(demo, title="Ici", text="Là")
    store.record_signup({"name": "Ada", "contact": "ada@example.org", "consent": True},
                        consultation_id=demo.id)
    envelopes = [e.envelope(store.device_id) for e in store.pending_events()]
    results = hub.ingest(device, envelopes)
    by_consultation = [(e["payload"].get("consultation_id"), r["status"], r.get("code"))
                       for e, r in zip(envelopes, results)]
    refused_here = [r for r in by_consultation if r[0] == demo.id]
    assert refused_here and all(r[1:] == ("rejected", "consultation_not_open_here")
                                for r in refused_here)
    assert {r[1] for r in by_consultation if r[0] == "everywhere"} == {"stored"}
    assert json.loads(hub.read_results(demo.id)[1])["ballots"] == 0
    assert hub.proposals(demo.id) == [] and participation(hub).figures(demo.id) == []
    # The projector of another site's consultation: refused to the device, open to staff.
    with pytest.raises(HubError) as info:
        display_controls.set_display(hub, demo.id, {"hidden": True}, "device:x", device)
    assert (info.value.status, info.value.code) == (403, "consultation_not_open_here")
    assert display_controls.read_display(hub, demo.id)[1].count(b'"revision":0') == 1
    display_controls.set_display(hub, "everywhere", {"hidden": True}, "device:x", device)
    display_controls.set_display(hub, demo.id, {"hidden": True}, "staff", None)


def test_the_site_and_meeting_come_from_the_enrollment_never_the_payload(hub, demo, tablet):
    store, device = tablet(hub)                                       # enrolled at Menton
    ballot = store.start_ballot(demo, site_id=OTHER_SITE, meeting_id="m-ventimiglia-1210")
    store.record_answer(demo, ballot, "q-ticket", "yes")
    own = store.start_ballot(demo, site_id=OTHER_SITE, meeting_id="m-menton-1203")
    store.record_answer(demo, own, "q-ticket", "no")
    store.record_count(demo, "q-ticket", "paper", {"yes": 3}, site_id=OTHER_SITE,
                       meeting_id="m-ventimiglia-1210")
    results = hub.ingest(device, [e.envelope(store.device_id) for e in store.pending_events()])
    assert {r["status"] for r in results} == {"stored"}
    with hub.engine.connect() as conn:
        ballots = dict(conn.execute(select(db.ballots.c.id, db.ballots.c.meeting_id)).all())
        sites = set(conn.execute(select(db.ballots.c.site_id)).scalars()) | set(
            conn.execute(select(db.tally_counts.c.site_id)).scalars())
        meetings = set(conn.execute(select(db.tally_counts.c.meeting_id)).scalars())
    assert sites == {SITE} and meetings == {None}
    assert ballots == {ballot: None, own: "m-menton-1203"}


def test_sign_up_links_name_an_alias_and_attribute_only_the_devices_site(hub, demo, everywhere):
    client = TestClient(create_app(hub=hub), base_url="https://testserver")
    hub.create_site("elsewhere", {"fr": "Ailleurs"})
    _, cred = credential()
    answer = hub.enroll(hub.make_enrollment_code("elsewhere")["code"], "tab-far", cred)
    key, alias = answer["signup_key"], answer["alias"]

    def attributed(consultation, site):
        token = mint_signup_token(key, consultation=consultation, site=site, meeting=None,
                                  device=alias)
        assert "tab-far" not in token
        return participation(hub).check_link(token)

    assert attributed(demo.id, "elsewhere") is None          # not open to its site
    assert attributed("everywhere", SITE) is None            # another site than its own
    claims = attributed("everywhere", None)
    assert (claims["site"], claims["device"]) == ("elsewhere", "tab-far")
    page = client.get("/signup", params={"t": mint_signup_token(
        key, consultation=demo.id, site=SITE, meeting=None, device=alias), "lang": "fr"})
    assert page.status_code == 200 and "pas valable" not in page.text
    me = client.get("/api/v1/device", headers={"Authorization": "Bearer x:y"})
    assert me.status_code == 401


# -- idea codes --------------------------------------------------------------------------------

def test_an_idea_code_two_tablets_made_is_never_answered_by_guess(hub, demo, tablet):
    client = TestClient(create_app(hub=hub), base_url="https://testserver")
    ids = []
    for title in ("Un banc", "Une fontaine"):
        store, device = tablet(hub)
        idea = store.submit_proposal(demo, title=title, text="Sur la place")
        envelope = store.pending_events()[0].envelope(store.device_id)
        envelope["payload"]["short_code"] = "K7PQ2M"
        assert hub.ingest(device, [envelope])[0]["status"] == "stored"
        ids.append(idea.id)
    ambiguous = refused(hub.answer_proposal, "k7pq2m", "accepted", "Oui")
    assert (ambiguous.status, ambiguous.code) == (409, "proposal_code_ambiguous")
    assert sorted(ambiguous.details["ids"]) == sorted(ids)
    assert all(i in ambiguous.describe() for i in ids)
    assert {p["answer_status"] for p in hub.proposals()} == {None}
    assert hub.answer_proposal(ids[1], "accepted", "Oui")["proposal_id"] == ids[1]
    admin = {"Authorization": f"Bearer {hub.settings.admin_token}"}
    answer = client.put("/api/v1/admin/proposals/K7PQ2M/answer", headers=admin,
                        json={"answer_status": "done"})
    assert answer.status_code == 409 and sorted(answer.json()["error"]["details"]["ids"]) == \
        sorted(ids)
    assert client.get("/ideas/K7PQ2M").status_code == 409
    with hub.engine.connect() as conn:
        owner = conn.execute(select(db.proposals.c.device_id).where(
            db.proposals.c.id == ids[1])).scalar()
        alias = conn.execute(select(db.devices.c.alias).where(db.devices.c.id == owner)).scalar()
    page = client.get(f"/ideas/K7PQ2M?d={alias}&lang=fr")
    assert page.status_code == 200 and "Retenue" in page.text
