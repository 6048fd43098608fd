"""Where the program's own files are, from a checkout or from a frozen (PyInstaller) build."""
import sys
from pathlib import Path


def resource_root() -> Path:
    """The folder holding `locales/`, `assets/` and `screens/` (the bundle's root when frozen)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


LOCALE_DIR = resource_root() / "locales"
ASSETS_DIR = resource_root() / "assets"
DEMO_BUNDLE_DIR = ASSETS_DIR / "demo"
