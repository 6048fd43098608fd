"""Which body shows which kind of question: the question screen reads `body_for`; each body
builds on screens/question_body.py, never on the screen itself. The bodies are declared with
their kinds (screens/kinds/)."""
from screens.kinds import SCREEN_KINDS, screens_of

BODIES = {name: kind.body for name, kind in SCREEN_KINDS.items()}


def body_for(question, *, screen):
    return screens_of(question).body(question=question, screen=screen)
