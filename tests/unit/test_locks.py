"""The dependency locks decide what a machine installs: every package, transitive ones included,
pinned exactly with its hashes; each lock agrees with its input file (a changed input cannot
land without `make lock`); the three locks agree with each other; the venv the tests run in is
the dev lock."""
import re
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
LOCK_SETS = ("runtime", "hub", "dev")


from tests.unit.conftest import load_locks_tool  # noqa: E402

locks = load_locks_tool()


def lock(name):
    return locks.read_lock(REQUIREMENTS / f"{name}.lock")


def direct_wishes(name):
    return locks.read_input(REQUIREMENTS / f"{name}.in")


@pytest.mark.parametrize("name", LOCK_SETS)
def test_every_locked_package_is_pinned_with_hashes(name):
    pins = lock(name)
    assert len(pins) >= 10
    for pin in pins.values():
        assert pin.hashes, f"{name}.lock: {pin.name} has no hash"
        for value in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", value), (pin.name, value)


@pytest.mark.parametrize("name", LOCK_SETS)
def test_the_lock_is_written_by_make_lock(name):
    head = (REQUIREMENTS / f"{name}.lock").read_text(encoding="utf-8").splitlines()[:3]
    assert any("uv" in line for line in head)
    assert "#    make lock" in head


@pytest.mark.parametrize("name", LOCK_SETS)
def test_every_direct_wish_is_locked_at_a_version_it_allows(name):
    pins = lock(name)
    for requirement in direct_wishes(name):
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement} ({name}.in) is not in {name}.lock: run `make lock`"
        assert requirement.specifier.contains(pins[key].version, prereleases=True), \
            f"{name}.lock pins {key}=={pins[key].version}, {name}.in asks {requirement}: " \
            "run `make lock`"
        for extra in requirement.extras:
            # psycopg[binary] brings psycopg-binary: an extra's packages are locked too.
            extra_packages = {n for n, pin in pins.items()
                              if any(key in via for via in pin.via) and n != key}
            assert extra_packages, f"{requirement}: nothing locked for the extra {extra!r}"


@pytest.mark.parametrize("name", LOCK_SETS)
def test_the_lock_holds_no_direct_wish_its_input_dropped(name):
    wished = {canonicalize_name(r.name) for r in direct_wishes(name)}
    locked_as_direct = {n for n, pin in lock(name).items()
                        if any(via.startswith("-r ") for via in pin.via)}
    assert locked_as_direct == wished, \
        f"{name}.lock and {name}.in differ (lock only: {sorted(locked_as_direct - wished)}, " \
        f"input only: {sorted(wished - locked_as_direct)}): run `make lock`"


@pytest.mark.parametrize("name", LOCK_SETS)
def test_every_locked_package_is_needed_by_something_in_the_lock(name):
    pins = lock(name)
    for pin in pins.values():
        assert pin.via, f"{name}.lock: {pin.name} says nothing of why it is there"
        reasons = [v for v in pin.via if not v.startswith(("-r ", "-c "))]
        direct = any(v.startswith("-r ") for v in pin.via)
        assert direct or any(canonicalize_name(v.split("[")[0]) in pins for v in reasons), \
            f"{name}.lock: {pin.name} is needed only by packages outside the lock ({pin.via})"


@pytest.mark.parametrize("smaller, larger", [("runtime", "hub"), ("runtime", "dev"),
                                             ("hub", "dev")])
def test_the_locks_agree_on_every_package_they_share(smaller, larger):
    a, b = lock(smaller), lock(larger)
    shared = set(a) & set(b)
    assert shared
    differing = {n: (a[n].version, b[n].version) for n in shared if a[n].version != b[n].version}
    assert differing == {}


def test_the_dev_lock_holds_the_runtime_and_hub_locks():
    dev = lock("dev")
    for name in ("runtime", "hub"):
        missing = sorted(set(lock(name)) - set(dev))
        assert missing == [], f"in {name}.lock but not dev.lock: {missing}"


def test_kivy_is_exactly_the_release_the_screens_are_written_for():
    for name in ("runtime", "dev"):
        assert lock(name)["kivy"].version == "2.3.1"
    assert any(str(r) == "kivy==2.3.1" for r in direct_wishes("runtime"))


def test_the_tests_run_in_a_venv_installed_from_the_dev_lock():
    differing = locks.venv_differences(REQUIREMENTS / "dev.lock")
    assert differing == {}, "the venv differs from requirements/dev.lock (lock, venv): " \
                            f"{differing}: run `make setup`"


def test_set_up_installs_from_the_lock_with_hashes_and_only_make_lock_resolves():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    install_lines = [line for line in makefile.splitlines() if "pip install" in line]
    assert install_lines, "the Makefile installs nothing"
    for line in install_lines:
        assert "--require-hashes" in line and ".lock" in line, line
    compile_rule = makefile[makefile.index("UV_COMPILE ="):makefile.index("\nlock:")]
    assert "--generate-hashes" in compile_rule and "--universal" in compile_rule
    for path in [ROOT / ".ci" / "run", *ROOT.glob("tools/*.sh"), ROOT / "deploy" / "Containerfile"]:
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if re.search(r"pip\"? install", line) and "-r" in line:
                assert "--require-hashes" in line or "--require-hashes" in text, (path, line)
            assert "requirements/runtime.txt" not in line and "requirements/dev.txt" not in line, \
                (path, line)


def test_the_lock_reader_refuses_what_is_not_a_lock(tmp_path):
    loose = tmp_path / "loose.lock"
    loose.write_text("requests>=2\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(ValueError, match="not pinned exactly"):
        locks.read_lock(loose)
    twice = tmp_path / "twice.lock"
    twice.write_text("six==1.17.0\n    # via x\nsix==1.16.0\n")
    with pytest.raises(ValueError, match="listed twice"):
        locks.read_lock(twice)
    forked = tmp_path / "forked.lock"
    forked.write_text("numpy==2.4.6 ; python_full_version < '3.12'\n    # via x\n"
                      "numpy==2.5.5 ; python_full_version >= '3.12'\n    # via x\n")
    assert locks.read_lock(forked)["numpy"].version == "2.4.6"
