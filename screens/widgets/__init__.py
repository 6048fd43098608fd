"""Widgets shared by several screens; their kv rules are in widgets.kv beside this file."""
from kivy.properties import ListProperty, NumericProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label

from screens import load_kv


class Heading(Label):
    pass


class BodyText(Label):
    pass


class Chip(Label):
    pass


class RoundedButton(ButtonBehavior, Label):
    """A large, rounded touch target (at least theme.touch high) with a text label."""
    background = ListProperty([0, 0, 0, 1])
    foreground = ListProperty([1, 1, 1, 1])
    radius = NumericProperty(0)


load_kv(__file__.replace("__init__", "widgets"))
