"""Failures shown on the tablet are named in the reader's words, never as a raw message."""
import sqlite3

import pytest

from app.errors import ValidationError
from screens.i18n import failure_words, tr


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_storage_and_network_failures_are_translated(lang):
    tr.lang = lang
    try:
        storage = failure_words(sqlite3.OperationalError("disk I/O error"))
        network = failure_words(ConnectionRefusedError(111, "Connection refused"))
        domain = failure_words(ValidationError("Tick the consent box to sign up.", "consent"))
    finally:
        tr.lang = "fr"
    assert "disk I/O" not in storage and "Connection refused" not in network
    assert storage.startswith({"fr": "La mémoire", "it": "Non è stato possibile"}[lang])
    assert network.startswith({"fr": "La connexion", "it": "Il collegamento"}[lang])
    assert domain.startswith({"fr": "Cochez", "it": "Spunti"}[lang]), domain


def test_the_tablet_sign_up_names_every_field_at_fault_at_once(kiosk):
    k = kiosk
    k.root.go("signup")
    k.settle()
    form = k.root.signup_form
    k.type(form.ids.contact, "pas un contact")
    k.tap(form.ids.send)
    assert form.ids.name.error and form.ids.contact.error and form.error   # all three at once
    assert k.root.current == "signup"
    assert k.store.conn.execute("SELECT COUNT(*) FROM outbox WHERE type = 'signup'"
                                ).fetchone()[0] == 0
