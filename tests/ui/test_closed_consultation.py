"""A bundle pulled as closed (or draft): the welcome screen says so and no ballot starts."""
from dataclasses import replace

import pytest

from screens.i18n import tr


@pytest.mark.parametrize("status", ["closed", "draft"])
def test_closed_consultation_cannot_start(kiosk_factory, demo, status):
    k = kiosk_factory(consultation=replace(demo, status=status))
    welcome = k.root.welcome
    assert welcome.closed and welcome.ids.start.disabled
    assert welcome.ids.start.text == tr._("Voting is closed")
    k.root.start_ballot()            # the same call a tap makes: refused, never a crash
    k.settle()
    assert k.root.current == "welcome"
    assert k.store.events() == []
    tr.lang = "it"
    k.settle()
    assert welcome.ids.start.text == "Votazione chiusa"
