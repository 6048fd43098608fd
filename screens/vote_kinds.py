"""Which body shows which kind of question: the question screen reads `body_for`; each body
builds on screens/question_body.py, never on the screen itself."""
from screens.vote_budget import BudgetBody
from screens.vote_choice import ChoiceBody
from screens.vote_colour import ColourBody
from screens.vote_open import OpenBody
from screens.vote_place import PlaceBody
from screens.vote_ranking import RankingBody
from screens.vote_scale import ScaleBody
from screens.vote_yes_no import YesNoBody

BODIES = {"colour": ColourBody, "yes_no": YesNoBody, "scale": ScaleBody, "choice": ChoiceBody,
          "ranking": RankingBody, "budget": BudgetBody, "open": OpenBody}
BODIES["place"] = PlaceBody


def body_for(question, *, screen):
    return BODIES[question.kind](question=question, screen=screen)
