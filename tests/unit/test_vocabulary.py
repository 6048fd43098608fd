"""One word for one thing: the tablet's central server is "serveur" in French and "server" in
Italian on every screen (the sync page once said hub, serveur and plateforme for it), and
the people who run it are "les responsables du serveur" / "i responsabili del server"."""
import re

import pytest

from tests.unit.test_i18n import catalog

OTHER_NAMES = {"fr": r"\bhub\b|plate-?forme", "it": r"\bhub\b|piattaforma"}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_server_has_one_name(lang):
    found = []
    for message in catalog(lang):
        if not message.id:
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
