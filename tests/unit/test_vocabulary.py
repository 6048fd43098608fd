"""One word for one thing on the tablet: its central server is "serveur" in French and "server"
in Italian on every screen (the facilitator's sync page once said hub, serveur and plateforme
for it), and the people who run it are "les responsables du serveur" / "i responsabili del
server". Checked on the strings of the tablet's code (app/, screens/, sync/, main.py); the hub's
staff pages have their own reader."""
import re

import pytest

from tests.unit.test_i18n import catalog, extracted_messages

OTHER_NAMES = {"fr": r"\bhub\b|plate-?forme", "it": r"\bhub\b|piattaforma"}


def tablet_msgids() -> set[str]:
    return {m if isinstance(m, str) else m[0] for m in extracted_messages(tablet_only=True)}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_server_has_one_name_on_the_tablet(lang):
    msgids = tablet_msgids()
    assert "Sync with the hub" in msgids          # the sync page's strings are in the scan
    found = []
    for message in catalog(lang):
        if not message.id or (message.id if isinstance(message.id, str)
                              else message.id[0]) not in msgids:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            bare = re.sub(r"\{[^}]*\}", "", text or "")
            if re.search(OTHER_NAMES[lang], bare, re.I):
                found.append(text)
    assert not found, found


def test_the_check_finds_another_name():
    assert re.search(OTHER_NAMES["fr"], "Synchronisation avec le hub", re.I)
    assert re.search(OTHER_NAMES["it"], "il personale della piattaforma", re.I)
