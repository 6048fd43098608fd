"""The Kivy side: one module per screen with its .kv beside it. Screens are thin: they show
state and turn taps into calls of the services they are given (app/ and, through it, sync/)."""
from pathlib import Path


def load_kv(module_file: str) -> None:
    """Load the .kv file that sits beside `module_file` (call with `__file__`), once."""
    from kivy.lang import Builder

    path = str(Path(module_file).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)
