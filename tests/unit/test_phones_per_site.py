"""One phones' opening per consultation, kept by the site that opened it (docs/protocol.md,
"Phones in the room"): a tablet enrolled at another site can neither re-open, change nor
close it (403 `phones_open_elsewhere`, translated); its tablets and staff can; once closed,
any site's tablet opens phones for its own site. Through the hub's API in process."""
from __future__ import annotations

from server import display_controls

CONSULTATION = "alpimed-2030"
MENTON, VENTIMIGLIA = "menton-mediatheque", "ventimiglia-biblioteca"
REFUSED = {
    "fr": "Les téléphones sont ouverts dans un autre lieu pour cette consultation\u00a0: seules "
          "les tablettes de ce lieu, ou l'équipe, peuvent les modifier ou les fermer.",
    "it": "I telefoni sono aperti in un'altra sede per questa consultazione: solo i tablet di "
          "quella sede, o lo staff, possono modificarli o chiuderli."}


def _put(api, device, control, lang="fr"):
    return api.fresh().put(f"/api/v1/consultations/{CONSULTATION}/display", json=control,
                           headers={"Authorization": f"Bearer {device['id']}:{device['secret']}",
                                    "Accept-Language": lang})


def _control(api) -> dict:
    return api.fresh().get(f"/api/v1/consultations/{CONSULTATION}/display").json()["control"]


def test_a_tablet_of_another_site_cannot_change_the_phones_opening(hub, api, tablet):
    _, menton = tablet(hub, MENTON)
    _, ventimiglia = tablet(hub, VENTIMIGLIA)
    _, menton_too = tablet(hub, MENTON)
    opened = _put(api, ventimiglia, {"phones": ["q-ticket"], "phones_cards": True})
    assert opened.status_code == 200, opened.text
    assert opened.json()["control"]["phones_site"] == VENTIMIGLIA

    for lang in ("fr", "it"):
        for control in ({"phones": []}, {"phones": ["q-ticket"]}, {"phones_cards": False}):
            refused = _put(api, menton, control, lang)
            assert refused.status_code == 403, (control, refused.text)
            assert refused.json()["error"]["code"] == "phones_open_elsewhere"
            assert refused.json()["error"]["message"] == REFUSED[lang]
    kept = _control(api)
    assert (kept["phones"], kept["phones_cards"], kept["phones_site"]) == (
        ["q-ticket"], True, VENTIMIGLIA)
    # The rest of the projector stays theirs to drive.
    assert _put(api, menton, {"hidden": True}).status_code == 200

    # Staff close the other site's opening; then Menton opens its own, Ventimiglia waits.
    display_controls.set_display(hub, CONSULTATION, {"phones": []}, "staff")
    assert _put(api, menton, {"phones": ["q-ticket"]}).status_code == 200
    assert _control(api)["phones_site"] == MENTON
    assert _put(api, ventimiglia, {"phones": []}).status_code == 403
    # Another tablet of the opening's site closes it.
    assert _put(api, menton_too, {"phones": []}).status_code == 200
    assert _control(api)["phones"] == []
    assert _put(api, ventimiglia, {"phones": ["q-ticket"]}).status_code == 200
    assert _control(api)["phones_site"] == VENTIMIGLIA
