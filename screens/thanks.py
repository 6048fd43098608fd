"""Thanks: shown only once the answers or the idea are on disk; then back to the welcome."""
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from screens import load_kv


class ThanksScreen(Screen):
    controller = ObjectProperty(None, allownone=True)
    idea_code = StringProperty("")        # the short code of the idea just sent
    offer_idea = BooleanProperty(True)

    def finish(self):
        if self.controller is not None:
            self.controller.finish()

    def propose_idea(self):
        if self.controller is not None:
            self.controller.open_idea()


load_kv(__file__)
