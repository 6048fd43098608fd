"""What a question kind declares on the screens' side, once (screens/kinds/<kind>.py): the
kiosk body that asks it, the projector view that shows its results, what the facilitator's
figures page says of its tally, and — for kinds counted by hand (app.kinds: `countable`) —
the numbers the facilitator types in on the counts page.

Results reach these parts as the kind's declared type (app/kinds/<kind>.py: `result`), never as
a dict read with defaults: a renamed field fails, it is not shown as an empty chart."""
from __future__ import annotations

from typing import Any


class ScreenKind:
    """One question kind on the screens. A module of screens/kinds/ declares
    `KIND = SomeScreens()`; the registry (screens/kinds/__init__.py) lists them."""
    name: str = ""
    body: type = None               # a screens.question_body.QuestionBody
    projector_view: type = None     # a screens.projector.base.PjResultView

    def summary(self, consultation, question, result, lang: str, _) -> str:
        """One or a few lines that say what the tally (`result`, the kind's Result) holds,
        in the reader's language, for the facilitator's figures page."""
        raise NotImplementedError

    def figures_widget(self, consultation, question, result, lang: str) -> Any:
        """A widget below the question's card on the figures page, or None."""
        return None

    # The counts page (countable kinds only).
    def count_fields(self, consultation, question, lang: str, _) -> list[tuple[str | None, list]]:
        """The numbers to type, in groups: [(group title or None, [(key, label), …]), …].
        A key is the path of the number in the count's `counts` (app/kinds: count_cells),
        ("yes",) or ("p-bus", "green")."""
        raise NotImplementedError

    def asks_ballots(self, question) -> bool:
        """True when the count needs how many ballots it stands for (several options ticked
        per ballot)."""
        return False
