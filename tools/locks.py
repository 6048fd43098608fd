#!/usr/bin/env python3
"""Reading the dependency locks (requirements/*.lock, written by `make lock` with uv) and
writing what follows from them: buildspec/buildozer.spec's `requirements`, and a check that the
venv holds exactly the runtime lock's versions (tools/build-desktop.sh).

    python tools/locks.py buildozer          print the requirements line the runtime lock gives
    python tools/locks.py buildozer --write  put it into buildspec/buildozer.spec (`make lock`)
    python tools/locks.py check-venv         exit 1 unless the running venv matches the lock

Used by tests/unit/test_locks.py and tests/unit/test_buildspec.py, so that the tests and the
tools read a lock the same way. Needs only `packaging`.
"""
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
BUILDOZER_SPEC = ROOT / "buildspec" / "buildozer.spec"

# The Python the project runs on (and python-for-android builds), for markers that fork a lock.
_PYTHON_311 = {"python_version": "3.11", "python_full_version": "3.11.7"}
# python-for-android's markers: Android reads as Linux.
ANDROID = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "extra": "",
           **_PYTHON_311}
# python-for-android recipes that are not PyPI packages (libzbar: the C library pyzbar loads);
# python3 and kivy come first, sqlite3 for the store, openssl for HTTPS.
RECIPES_FIRST = ("python3", "kivy", "sqlite3", "openssl", "libzbar")
RECIPES = {"python3", "sqlite3", "openssl", "libzbar"}
# Packages of the runtime lock the APK does not need: pip (sqlite-utils' plugin installer
# command) and Kivy's documentation, code highlighting and garden tools, which the
# python-for-android Kivy recipe leaves out too.
NOT_SHIPPED = {"pip", "kivy-garden", "docutils", "pygments"}


@dataclass
class Pin:
    name: str          # canonical
    version: str
    marker: object     # packaging Marker or None
    hashes: list = field(default_factory=list)
    via: list = field(default_factory=list)

    def applies(self, environment=None):
        return self.marker is None or self.marker.evaluate(environment)


def read_lock(path):
    """{canonical name: Pin} from a lock written by `uv pip compile --generate-hashes`.
    Raises ValueError on a line it cannot read, a package listed twice or one not pinned
    exactly."""
    pins = {}
    current = None
    in_via = False
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("--hash="):
            if current is None:
                raise ValueError(f"{path}:{number}: a hash before any package")
            current.hashes.append(line.removeprefix("--hash=").rstrip(" \\"))
            continue
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            if current is not None and text.startswith("via"):
                rest = text[3:].strip()
                in_via = True
                if rest:
                    current.via.append(rest)
            elif current is not None and in_via and raw.startswith("    #   "):
                current.via.append(text)
            continue
        in_via = False
        requirement = Requirement(line.rstrip(" \\"))
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            raise ValueError(f"{path}:{number}: not pinned exactly: {line}")
        name = canonicalize_name(requirement.name)
        current = Pin(name, specifiers[0].version, requirement.marker)
        if name in pins:
            # A universal lock may fork a package by marker (numpy for Python < 3.12 and for
            # >= 3.12): the pin that applies to Python 3.11, the project's, is the one kept.
            other = pins[name]
            if other.marker is None or current.marker is None:
                raise ValueError(f"{path}:{number}: {name} is listed twice")
            if current.applies(_PYTHON_311) and not other.applies(_PYTHON_311):
                pins[name] = current
            elif current.applies(_PYTHON_311) and other.applies(_PYTHON_311):
                raise ValueError(f"{path}:{number}: {name} is listed twice for one Python")
            continue
        pins[name] = current
    return pins


def read_input(path):
    """[Requirement] of an input file (requirements/*.in), following its `-r` includes."""
    found = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found += read_input(Path(path).parent / line[3:].strip())
            continue
        if line.startswith("-"):
            raise ValueError(f"{path}: option {line!r} is not expected in an input file")
        found.append(Requirement(line))
    return found


def buildozer_requirements(lock=REQUIREMENTS / "runtime.lock"):
    """The list buildozer.spec's `requirements` must hold: the recipes, Kivy at its pin, then
    every package of the runtime lock that Android needs, each at its locked version."""
    pins = read_lock(lock)
    items = ["python3", f"kivy=={pins['kivy'].version}", "sqlite3", "openssl", "libzbar"]
    for name in sorted(pins):
        pin = pins[name]
        if name in RECIPES_FIRST or name in NOT_SHIPPED or not pin.applies(ANDROID):
            continue
        items.append(f"{name}=={pin.version}")
    return items


REQUIREMENTS_LINE = re.compile(r"^requirements = .*$", re.M)


def write_buildozer(items):
    text = BUILDOZER_SPEC.read_text(encoding="utf-8")
    if len(REQUIREMENTS_LINE.findall(text)) != 1:
        raise SystemExit(f"{BUILDOZER_SPEC}: expected one 'requirements = ' line")
    BUILDOZER_SPEC.write_text(REQUIREMENTS_LINE.sub("requirements = " + ",".join(items), text),
                              encoding="utf-8")


def venv_differences(lock=REQUIREMENTS / "runtime.lock"):
    """{name: (locked, installed or None)} for the lock's packages that apply here and that the
    running interpreter does not hold at the locked version."""
    from importlib import metadata
    differences = {}
    for name, pin in read_lock(lock).items():
        if not pin.applies():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pin.version:
            differences[name] = (pin.version, installed)
    return differences


def main(argv):
    if argv[:1] == ["buildozer"]:
        items = buildozer_requirements()
        if "--write" in argv:
            write_buildozer(items)
            print(f"buildspec/buildozer.spec: {len(items)} requirements from runtime.lock")
        else:
            print("requirements = " + ",".join(items))
        return 0
    if argv[:1] == ["check-venv"]:
        differences = venv_differences()
        for name, (locked, installed) in sorted(differences.items()):
            print(f"{name}: requirements/runtime.lock pins {locked}, the venv has "
                  f"{installed or 'nothing'}", file=sys.stderr)
        return 1 if differences else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
