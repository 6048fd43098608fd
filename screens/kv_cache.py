"""The kv rules' compiled expressions kept between starts, as Python keeps a module's bytecode.

Kivy's parser compiles every expression of a .kv file at each start (`compile()` of each
property's value, the regular expressions that find the keys it watches): for widgets.kv alone
about 90 ms of a kiosk's cold start, before the first frame. The parse itself is unchanged; what
each rule property's `precompile()` produced — its compiled value (or the constant it evaluates
to), its mode and its watched keys — is read back from `__pycache__/<name>.kv.<tag>.pyc`
beside the .kv (or under `sys.pycache_prefix`), written after the first parse. Like bytecode:
none written when `sys.dont_write_bytecode` (PYTHONDONTWRITEBYTECODE); a .kv changed (its size or
modification time), another Python or another Kivy makes the cache unused, and anything
unreadable in it is ignored (the file is parsed as Kivy always does).

Kivy's own style.kv (every Kivy widget's rules, ~70 ms of parsing as kivy.lang is first imported,
which main.py's start pays before its first frame) is kept the same way once main.py has called
cache_kivy_style() before importing Kivy's kv language.
"""
from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import threading
from contextlib import contextmanager

_FORMAT = 1
_lock = threading.RLock()      # re-entered: a #:import directive may load another .kv


def cache_path(kv_path: str) -> str | None:
    """Where the compiled rules of `kv_path` are kept (None when Python keeps no bytecode)."""
    try:
        return importlib.util.cache_from_source(kv_path + ".py")
    except NotImplementedError:         # sys.implementation.cache_tag is None
        return None


def _header(kv_path: str) -> tuple:
    import kivy
    stat = os.stat(kv_path)
    return (_FORMAT, sys.version, kivy.__version__, os.path.abspath(kv_path),
            stat.st_mtime_ns, stat.st_size)


def _read(kv_path: str, cached: str | None) -> dict:
    if cached is None:
        return {}
    try:
        with open(cached, "rb") as file:
            header, entries = marshal.load(file)
        if header != _header(kv_path) or not isinstance(entries, dict):
            return {}
        return entries
    except Exception:                   # missing, truncated, another format: parse as usual
        return {}


def _write(kv_path: str, cached: str, entries: dict) -> None:
    try:
        data = marshal.dumps((_header(kv_path), entries))
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        temporary = f"{cached}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, cached)   # a reader sees the old file or the whole new one
    except (OSError, ValueError):       # a read-only install, an unmarshallable constant
        try:
            os.unlink(temporary)
        except (OSError, UnboundLocalError):
            pass


@contextmanager
def compiled_rules(kv_path: str):
    """While Kivy parses `kv_path` (Builder.load_file), its rule properties' compiled values
    come from the cache when it is current, and the cache is written when it was not."""
    from kivy.lang.parser import ParserRuleProperty

    cached = cache_path(kv_path)
    entries = _read(kv_path, cached)
    known = bool(entries)
    fresh = {}
    original = ParserRuleProperty.precompile

    def precompile(prop):
        if prop.ctx.filename != kv_path:          # another file (never expected here)
            return original(prop)
        key = (prop.line, prop.name, prop.value, prop.mode)
        hit = entries.get(key)
        if hit is not None:
            prop.mode, prop.co_value, watched = hit
            prop.watched_keys = [list(keys) for keys in watched] if watched is not None \
                else None
            return None
        result = original(prop)
        watched = prop.watched_keys
        value = (prop.mode, prop.co_value,
                 [list(keys) for keys in watched] if watched is not None else None)
        try:
            marshal.dumps(value)
        except ValueError:              # a constant marshal cannot keep: compiled each time
            return result
        fresh[key] = value
        return result

    with _lock:                         # the parser's class is patched for this file only
        ParserRuleProperty.precompile = precompile
        try:
            yield
        finally:
            ParserRuleProperty.precompile = original
    if fresh and cached is not None and not sys.dont_write_bytecode:
        _write(kv_path, cached, {**entries, **fresh} if known else fresh)


class _KivyStyleFinder:
    """Finds nothing itself: when `kivy.lang.builder` is first imported, its module runs
    inside compiled_rules() for Kivy's own style.kv, which that module parses as it loads
    (the kv rules of every Kivy widget, before any of ours)."""

    def find_spec(self, name, path=None, target=None):
        if name != "kivy.lang.builder":
            return None
        sys.meta_path.remove(self)              # once: the next finders find the module
        import importlib.util as util
        spec = util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_with_cache(module):
            style = kivy_style_path()
            if not os.path.isfile(style):
                return exec_module(module)
            with compiled_rules(style):
                return exec_module(module)

        spec.loader.exec_module = exec_with_cache
        return spec


def kivy_style_path() -> str:
    """Kivy's style.kv, as kivy.lang.builder names it when it loads it."""
    import kivy
    return os.path.join(kivy.kivy_data_dir, "style.kv")


def cache_kivy_style() -> None:
    """Kivy's own style.kv (the rules of every Kivy widget, parsed as kivy.lang is first
    imported) read from the cache too. Call before anything imports kivy.lang; nothing happens
    when it is imported already."""
    if "kivy.lang.builder" in sys.modules \
            or any(isinstance(f, _KivyStyleFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _KivyStyleFinder())
