"""The colour vote: one project at a time, its image and text, and three large buttons (green
"in favour", orange "needs rework", red "against"), each with an icon and a word. A tap records
the colour at once and shows the next project."""
from kivy.properties import NumericProperty, ObjectProperty, StringProperty

from screens import load_kv
from screens.i18n import tr
from screens.question_body import QuestionBody


class ColourBody(QuestionBody):
    auto_advance = True          # a tap records the colour and shows the next project
    project_index = NumericProperty(0)
    project = ObjectProperty(None, allownone=True)
    chosen = StringProperty("")
    image_source = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.projects = self.consultation.projects_of(self.question)
        tr.bind(lang=self._detail)
        self.bind(project_index=self._show_project)

    def load(self, from_end=False):
        index = len(self.projects) - 1 if from_end else 0
        if self.project_index == index:
            self._show_project()
        self.project_index = index

    def _current(self):
        return dict(self.session.answer_of(self.question.id) or {})

    def _show_project(self, *_args):
        self.project = self.projects[self.project_index]
        self.image_source = self.screen.image_path(self.project.image)
        self.chosen = self._current().get(self.project.id, "")
        self._detail()
        if self.screen is not None:
            self.screen.refresh_nav()
            self.screen.settling()

    def _detail(self, *_args):
        self.detail = tr._("Project {number} of {total}").format(
            number=self.project_index + 1, total=len(self.projects))

    def choose(self, colour):
        value = self._current()
        value[self.project.id] = colour
        if not self.screen.record(value):
            return
        self.chosen = colour
        if self.project_index < len(self.projects) - 1:
            self.project_index += 1
        else:
            self.screen.advance()

    def has_previous(self):
        return self.project_index > 0

    def back(self):
        if self.project_index > 0:
            self.project_index -= 1
            return True
        return False

    def skip(self):
        if self.project_index < len(self.projects) - 1:
            self.project_index += 1
            return True
        return False

    def next_inside(self):
        # Every project is shown before the next question, whether answered or not.
        return self.skip()


load_kv(__file__)
