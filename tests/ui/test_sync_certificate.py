"""The facilitator's Sync page when someone on the room's Wi-Fi answers for the room's laptop
with another certificate: a real room kit, a real TLS interceptor, the tablet's real sync
service; the page says what happened and what to do, in the facilitator's language, and the
votes stay waiting (issue 22, item 6)."""
from __future__ import annotations

import time

import pytest

from app.i18n import gettext_for
from server.tls import room_certificate
from sync import protocol as p
from sync.enroll import enroll, parse_enrollment_qr
from sync.service import SyncService
from sync.status import ADVICE, CERTIFICATE_REFUSED
from tests.integration.conftest import free_port, record_votes
from tests.integration.roomkit import RoomKit
from tests.integration.tlsproxy import Interceptor
from tests.ui.conftest import step
from tests.ui.test_facilitator import enter_facilitator


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_sync_page_says_the_hubs_certificate_is_not_the_rooms(kiosk_factory, tmp_path,
                                                                     demo, lang):
    from app.store import Store
    room = RoomKit(tmp_path / "room").start()
    tablet = tmp_path / "tablet"
    store = Store.open(tablet)
    enroll(store, *parse_enrollment_qr(room.qr())[:2], pin=room.pin)
    record_votes(store, demo, 2)
    store.close()
    attacker = room_certificate(tmp_path / "attacker", ["127.0.0.1"])
    room.stop()
    moved = RoomKit(room.data_dir, port=free_port()).start()
    interceptor = Interceptor(moved.port, str(attacker.cert), str(attacker.key), port=room.port)
    sync = SyncService(tablet, push_delay=0.05, poll_interval=0.5)
    try:
        k = kiosk_factory(lang=lang)
        fac = enter_facilitator(k)
        k.tap(fac.nav_buttons["sync"])
        page = fac.ids.pages.get_screen("sync")
        fac.sync = sync
        sync.start()
        deadline = time.monotonic() + 30
        while sync.status().state != CERTIFICATE_REFUSED and time.monotonic() < deadline:
            time.sleep(0.05)
        page.poll()
        step(2)
        text = page.ids.status.text
        _ = gettext_for(lang)
        assert _(p.CertificateRefused().message) in text
        assert _(ADVICE[CERTIFICATE_REFUSED]) in text
        assert p.CertificateRefused().message not in text       # not left in English
        assert sync.status().pending > 0 and bytes(interceptor.captured) == b""
    finally:
        sync.stop()
        interceptor.close()
        moved.kill()
        room.kill()
