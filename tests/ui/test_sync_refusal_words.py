"""The facilitator's Sync page when a new version of the consultation was refused (issue 26's
leftovers): why, in plain words and in their language, that the version in use is kept and
the votes still go — not "is this network behind a login page?". The status is the one the
worker publishes for a refusal (sync.protocol.ContentRefused, tests/integration/
test_live_refusals.py has it from a real hub); the page is the real one on a real window."""
import pytest

from sync import protocol as p
from sync import status as st
from screens.i18n import tr
from tests.ui.conftest import step
from tests.ui.test_facilitator import FakeSync, enter_facilitator

WORDS = {"fr": ("a été refusée\u00a0: elle n'est pas plus récente", "La version en service est "
                "conservée", "Les votes et les idées partent toujours"),
         "it": ("è stata rifiutata: non è più recente", "La versione in uso viene mantenuta",
                "Voti e idee continuano a essere inviati")}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_a_refused_version_is_said_plainly_on_the_sync_page(kiosk_factory, lang):
    k = kiosk_factory(lang=lang)
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["sync"])
    page = fac.ids.pages.get_screen("sync")

    class Refused(FakeSync):
        def status(self):
            return self.SyncStatus(enrolled=True, hub_url="https://hub.example", pending=0,
                                   state=st.CONTENT_REFUSED,
                                   problem=p.ContentRefused("not_newer").message)
    fac.sync = Refused()
    page.poll()
    step(2)
    text = page.ids.status.text
    for words in WORDS[lang]:
        assert words in text, text
    assert tr._(p.NotAcknowledged().message) not in text     # "… a login page?"
    k.shot("sync_content_refused", lang)


DRAFT_WORDS = {"fr": ("c'est un brouillon", "la session de cette tablette est ouverte",
                      "La version en service est conservée"),
               "it": ("è una bozza", "la sessione di questo tablet è aperta",
                      "La versione in uso viene mantenuta")}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_a_draft_refused_in_session_is_said_plainly(kiosk_factory, lang):
    """A hub restored from a backup made in rehearsal lists a draft again once the session
    opened (tests/integration/test_attack7_restored_draft.py): the page says so, whole."""
    k = kiosk_factory(lang=lang)
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["sync"])
    page = fac.ids.pages.get_screen("sync")

    class Refused(FakeSync):
        def status(self):
            return self.SyncStatus(enrolled=True, hub_url="https://hub.example", pending=0,
                                   state=st.CONTENT_REFUSED,
                                   problem=p.ContentRefused("draft_in_session").message)
    fac.sync = Refused()
    page.poll()
    step(2)
    text = page.ids.status.text
    for words in DRAFT_WORDS[lang]:
        assert words in text, text
    k.shot("sync_draft_refused", lang)


@pytest.mark.parametrize("lang", ["fr", "it"])
@pytest.mark.parametrize("reason", sorted(p.ContentRefused.REASONS))
def test_every_refusal_reads_whole_in_portrait_with_very_large_text(kiosk_factory, lang,
                                                                     reason):
    """A facilitator holding the tablet upright, text very large, reads every refusal: the
    reason in their language (never the English msgid), what is kept, what to do, each line
    whole inside the page's width."""
    from tests.ui.conftest import set_size
    k = kiosk_factory(lang=lang, text_size="very_large")
    set_size(800, 1280)
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["sync"])
    page = fac.ids.pages.get_screen("sync")

    class Refused(FakeSync):
        def status(self):
            return self.SyncStatus(enrolled=True, hub_url="https://hub.example", pending=0,
                                   state=st.CONTENT_REFUSED,
                                   problem=p.ContentRefused(reason).message)
    fac.sync = Refused()
    page.poll()
    step(4)
    label = page.ids.status
    text = label.text
    said = tr._(p.ContentRefused.REASONS[reason])
    assert said != p.ContentRefused.REASONS[reason] and said in text, text
    assert tr._(st.ADVICE[st.CONTENT_REFUSED]) in text, text
    assert label.texture_size[0] <= label.width + 1, (label.texture_size, label.width)
    assert label.height >= label.texture_size[1] - 1, (label.texture_size, label.height)
    from tests.ui.test_inclusion import pill_never_over_text
    pill_never_over_text(page.children[0])     # it hid "Send now" under the status
    k.shot(f"sync_refused_{reason}_portrait_very_large", lang)
