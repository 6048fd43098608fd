"""The projector's "vote on your phone" view: while a facilitator has questions open to phones
(app/display.py, `phones`), the screen shows the phones' address as a QR as large as the
screen allows and in short text (read from the back of a hall), the question(s), and the
count of phone answers arriving live (the results' `phone` channel)."""
from __future__ import annotations

from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

import screens.widgets.qr  # noqa: F401  (QRImage)
from app.counts import PHONE
from app.errors import N_
from app.formatting import number
from screens import load_kv
from screens.projector.style import content, say, say_n


def phone_answers(snapshot, questions) -> int:
    """Phone answers to the open questions so far: the most any of them got (the same phones
    answer each question of a series)."""
    if snapshot is None:
        return 0
    counts = []
    for question_id in questions:
        channels = (snapshot.questions.get(question_id) or {}).get("channels") or {}
        counts.append(int((channels.get(PHONE) or {}).get("ballots") or 0))
    return max(counts, default=0)


def short_address(url: str) -> str:
    """The address as the room types it: without `https://`, the path on a line of its own
    (never cut in the middle of a name)."""
    host, _, path = url.split("://", 1)[-1].partition("/")
    return f"{host}\n/{path}" if path else host


class PjPhonesPanel(BoxLayout):
    """The QR, the short address, the questions and the live count."""
    url = StringProperty("")
    heading = StringProperty("")
    address = StringProperty("")
    prompts = StringProperty("")
    count = StringProperty("")
    word = StringProperty("")

    def show(self, consultation, questions, snapshot, langs, url: str) -> None:
        self.url = url
        self.heading = say(langs, N_("Vote on your phone"), "\n")
        self.address = short_address(url)
        prompts = [content(langs[:1], q.prompt, "\n") for q in
                   (consultation.question(qid) for qid in questions) if q is not None]
        self.prompts = "\n".join(prompts[:3])
        n = phone_answers(snapshot, questions)
        self.count = number(n, langs[0])
        def ngettext(singular, plural, count):     # extracted as ngettext (babel.cfg)
            return say_n(langs, singular, plural, count, "\n")
        self.word = ngettext("answer from a phone", "answers from phones", n)


load_kv(__file__)
