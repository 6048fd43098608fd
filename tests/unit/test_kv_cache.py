"""screens/kv_cache.py: every .kv of screens/ parsed from the cache gives exactly what Kivy's own
parse gives (each rule property's mode, compiled value and watched keys), and a changed .kv, a
damaged cache or PYTHONDONTWRITEBYTECODE fall back to Kivy's parse."""
import os
import subprocess
import sys
from pathlib import Path
from types import CodeType

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
from kivy.lang.parser import Parser  # noqa: E402

from screens import kv_cache  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KIVY_STYLE = kv_cache.kivy_style_path()
KV_FILES = sorted(str(p) for p in (ROOT / "screens").rglob("*.kv")) + [KIVY_STYLE]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pycache"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return tmp_path / "pycache"


def walk(rule):
    """Every ParserRuleProperty of a rule and its children, in order."""
    for prop in rule.properties.values():
        yield prop
    yield from rule.handlers
    for canvas in (rule.canvas_before, rule.canvas_root, rule.canvas_after):
        if canvas is not None:
            yield from walk(canvas)
    for child in rule.children:
        yield from walk(child)


def described(parser):
    """(line, name, mode, value's code or constant, watched keys) of every rule property."""
    rules = [rule for _selector, rule in parser.rules]
    rules += [rule for _name, _base, rule in getattr(parser, "templates", ())]  # Kivy's own
    if parser.root is not None:
        rules.append(parser.root)
    out = []
    for rule in rules:
        for prop in walk(rule):
            value = prop.co_value
            if isinstance(value, CodeType):
                value = (value.co_code, value.co_consts, value.co_names, value.co_filename,
                         value.co_firstlineno)
            out.append((prop.line, prop.name, prop.mode, value, prop.watched_keys))
    return out


def parse(path, cached):
    content = Path(path).read_text(encoding="utf-8")
    if not cached:
        return Parser(content=content, filename=path)
    with kv_cache.compiled_rules(path):
        return Parser(content=content, filename=path)


@pytest.mark.parametrize("path", KV_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_the_cache_gives_what_kivy_compiles(path, cache_dir):
    kivys = parse(path, cached=False)
    expected = described(kivys)
    assert expected or not kivys.rules, f"no rule property read in {path}"
    assert described(parse(path, cached=True)) == expected       # writes the cache
    written = Path(kv_cache.cache_path(path))
    if not expected:
        return                                                    # nothing to keep
    assert written.is_file() and str(written).startswith(str(cache_dir))
    entries = kv_cache._read(path, str(written))
    assert len(entries) == len({(line, name) for line, name, *_ in expected})
    assert described(parse(path, cached=True)) == expected       # reads it


def test_a_changed_kv_file_is_parsed_again(tmp_path, cache_dir):
    kv = tmp_path / "changing.kv"
    kv.write_text("<Label>:\n    font_size: 10 + 2\n    text: str(self.width)\n")
    first = described(parse(str(kv), cached=True))
    assert kv_cache._read(str(kv), kv_cache.cache_path(str(kv)))
    kv.write_text("<Label>:\n    font_size: 10 + 5\n    text: str(self.height) + '!'\n")
    os.utime(kv, ns=(0, os.stat(kv).st_mtime_ns + 10**9))
    second = described(parse(str(kv), cached=True))
    assert second == described(parse(str(kv), cached=False))
    assert second != first
    assert [p[3] for p in second if p[1] == "font_size"] == [15]
    assert [p[4] for p in second if p[1] == "text"] == [[["self", "height"]]]


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path, cache_dir):
    kv = tmp_path / "damaged.kv"
    kv.write_text("<Label>:\n    text: 'a' if self.disabled else 'b'\n    opacity: 0.5\n")
    expected = described(parse(str(kv), cached=False))
    cached = Path(kv_cache.cache_path(str(kv)))
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"\x00not a marshal stream")
    assert described(parse(str(kv), cached=True)) == expected
    assert kv_cache._read(str(kv), str(cached))                   # rewritten whole


def test_nothing_written_without_bytecode(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    kv = tmp_path / "plain.kv"
    kv.write_text("<Label>:\n    text: str(self.width)\n")
    assert described(parse(str(kv), cached=True)) == described(parse(str(kv), cached=False))
    assert not Path(kv_cache.cache_path(str(kv))).exists()


def test_a_kv_loaded_while_another_is_parsed(tmp_path, cache_dir, monkeypatch):
    """A `#:import` directive may import a module that loads its own .kv (screens' modules
    call load_kv at import): both files get their own compiled rules, nothing waits."""
    inner = tmp_path / "inner.kv"
    inner.write_text("<Label>:\n    text: str(self.height)\n")
    (tmp_path / "kv_nested_module.py").write_text(
        "from pathlib import Path\n"
        "from kivy.lang.parser import Parser\n"
        "from screens import kv_cache\n"
        f"PATH = {str(inner)!r}\n"
        "with kv_cache.compiled_rules(PATH):\n"
        "    PARSED = Parser(content=Path(PATH).read_text(), filename=PATH)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    outer = tmp_path / "outer.kv"
    outer.write_text("#:import nested kv_nested_module\n<Button>:\n    text: str(self.width)\n")
    parsed = parse(str(outer), cached=True)
    import kv_nested_module
    assert described(parsed) == described(parse(str(outer), cached=False))
    assert described(kv_nested_module.PARSED) == described(parse(str(inner), cached=False))
    assert kv_cache._read(str(inner), kv_cache.cache_path(str(inner)))
    assert kv_cache._read(str(outer), kv_cache.cache_path(str(outer)))
    sys.modules.pop("kv_nested_module", None)


RULES_OF_KIVY = """
import os, sys
from screens import kv_cache
if sys.argv[1] == "cached":
    kv_cache.cache_kivy_style()
sys.path.insert(0, os.path.join("tests", "unit"))
import test_kv_cache                      # imports kivy.lang: Kivy parses its style.kv
from kivy.lang import Builder
print(repr(test_kv_cache.described(type("Rules", (), {"rules": Builder.rules, "root": None}))))
"""


@pytest.mark.process        # Python processes of their own: kivy.lang imported afresh
def test_kivy_style_read_from_the_cache_as_kivy_parses_it(tmp_path):
    """main.py's cache_kivy_style(): Kivy's own style.kv, parsed as kivy.lang is imported,
    gives the rules Kivy's parse gives; the first start writes its cache, the next reads it."""
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_HOME=str(tmp_path / "kivy"),
               PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"),
               PYTHONHASHSEED="0")   # Kivy lists a property's watched keys from a set
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def rules(mode):
        return subprocess.run([sys.executable, "-c", RULES_OF_KIVY, mode], cwd=ROOT, env=env,
                              check=True, capture_output=True, text=True).stdout

    kivys = rules("plain")
    assert "font_size" in kivys
    assert rules("cached") == kivys                     # parsed, and its cache written
    written = list((tmp_path / "pycache").rglob("style.kv.*.pyc"))
    assert len(written) == 1
    before = written[0].stat().st_mtime_ns
    assert rules("cached") == kivys                     # read back from that cache:
    assert written[0].stat().st_mtime_ns == before      # every rule found there
