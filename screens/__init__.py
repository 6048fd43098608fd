"""The Kivy side: one module per screen with its .kv beside it. Screens are thin: they show
state and turn taps into calls of the services they are given (app/ and, through it, sync/)."""
from pathlib import Path


def load_kv(module_file: str) -> None:
    """Load the .kv file that sits beside `module_file` (call with `__file__`), once; its
    compiled expressions kept between starts (screens/kv_cache.py)."""
    from kivy.lang import Builder

    from screens.kv_cache import compiled_rules

    path = str(Path(module_file).with_suffix(".kv"))
    if path not in Builder.files:
        with compiled_rules(path):
            Builder.load_file(path)
