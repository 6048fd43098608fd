"""The packaging specs follow the project: buildozer.spec lists every package of the runtime
lock that Android needs, at its locked version, and every kind of file the app reads; the
PyInstaller spec collects every .kv, compiled catalog and asset."""
import ast
import configparser
import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BUILDOZER_SPEC = ROOT / "buildspec" / "buildozer.spec"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
PYINSTALLER_SPEC = ROOT / "buildspec" / "piazzetta.spec"

# Folders whose files end up on the device, and the files there the app never reads at run time
# (catalog sources, caches, lock files).
RUNTIME_FOLDERS = ("app", "screens", "sync", "locales", "assets")
NOT_NEEDED_AT_RUN_TIME = {"pyc", "pyo", "po", "pot", "lock", "md", "xlsx"}
# Kinds the app needs even when the tree holds none yet (compiled catalogs are git-ignored;
# fonts and photos may come with a consultation bundle).
REQUIRED_KINDS = {"py", "kv", "mo", "json", "png", "jpg", "jpeg", "ttf", "otf"}


from tests.unit.conftest import load_locks_tool  # noqa: E402

locks = load_locks_tool()


def buildozer_config():
    config = configparser.ConfigParser(interpolation=None)
    config.read(BUILDOZER_SPEC, encoding="utf-8")
    return config


def buildozer_list(key):
    return [item.strip() for item in buildozer_config().get("app", key).split(",")
            if item.strip()]


def buildozer_requirements():
    """{canonical name: version or None} from the spec's `requirements`."""
    found = {}
    for item in buildozer_list("requirements"):
        name, _sep, version = item.partition("==")
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name), f"odd requirement {item!r}"
        key = canonicalize_name(name)
        assert key not in found, f"{name} is listed twice"
        found[key] = version or None
    return found


def android_pins():
    """{name: version} of the runtime lock's packages that the APK ships."""
    return {name: pin.version for name, pin in locks.read_lock(RUNTIME_LOCK).items()
            if pin.applies(locks.ANDROID) and name not in locks.NOT_SHIPPED}


def test_the_android_marker_environment_reads_as_linux():
    assert Marker('sys_platform == "linux"').evaluate(locks.ANDROID)
    assert not Marker('sys_platform == "win32"').evaluate(locks.ANDROID)


def test_buildozer_lists_every_package_of_the_runtime_lock_at_its_version():
    listed = buildozer_requirements()
    pins = android_pins()
    assert {"kivy", "pillow", "sqlite-utils", "requests", "certifi"} <= set(pins)
    missing = {n: v for n, v in pins.items() if n not in listed}
    assert not missing, f"add to buildozer.spec's requirements (make lock): {missing}"
    stale = {n: (listed[n], v) for n, v in pins.items() if listed[n] != v}
    assert not stale, f"buildozer.spec pins differ from requirements/runtime.lock " \
                      f"(spec, lock): {stale}"


def test_buildozer_lists_nothing_the_lock_does_not_explain():
    assert set(buildozer_requirements()) - set(android_pins()) - locks.RECIPES == set()


def test_buildozer_leaves_out_windows_only_and_unshipped_packages():
    listed = buildozer_requirements()
    pins = locks.read_lock(RUNTIME_LOCK)
    windows_only = {n for n, pin in pins.items() if not pin.applies(locks.ANDROID)}
    assert "kivy-deps-sdl2" in windows_only
    assert windows_only.isdisjoint(listed)
    assert locks.NOT_SHIPPED.isdisjoint(listed)


def test_buildozer_spec_is_what_make_lock_writes():
    assert buildozer_list("requirements") == locks.buildozer_requirements(RUNTIME_LOCK)


def test_buildozer_lists_the_python_and_kivy_recipes_first():
    items = buildozer_list("requirements")
    assert items[0] == "python3"
    assert items[1].startswith("kivy==")
    assert {"sqlite3", "openssl"} <= set(buildozer_requirements()), \
        "the store needs Python's sqlite3 module and sync needs TLS"


def test_every_buildozer_requirement_is_pinned_except_recipes():
    unpinned = [n for n, v in buildozer_requirements().items()
                if v is None and n not in locks.RECIPES]
    assert unpinned == []


def file_kinds_in_tree():
    kinds = {}
    for folder in RUNTIME_FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or path.name.startswith("."):
                continue
            kind = path.suffix.lower().lstrip(".")
            if kind and kind not in NOT_NEEDED_AT_RUN_TIME:
                kinds.setdefault(kind, path.relative_to(ROOT))
    return kinds


def test_buildozer_includes_every_kind_of_file_the_app_reads():
    included = {kind.lower() for kind in buildozer_list("source.include_exts")}
    kinds = file_kinds_in_tree()
    assert {"py", "kv", "json"} <= set(kinds), "the tree scan found no sources"
    missing = {kind: str(example) for kind, example in kinds.items() if kind not in included}
    assert not missing, f"add to source.include_exts (kind: example file): {missing}"
    assert REQUIRED_KINDS <= included, REQUIRED_KINDS - included


def test_buildozer_keeps_the_runtime_folders_and_main():
    config = buildozer_config()
    source_dir = (BUILDOZER_SPEC.parent / config.get("app", "source.dir")).resolve()
    assert source_dir == ROOT
    assert (source_dir / "main.py").is_file(), "python-for-android starts main.py"
    excluded = set(buildozer_list("source.exclude_dirs"))
    assert excluded.isdisjoint(RUNTIME_FOLDERS)
    assert {"tests", "server", ".venv", "build", "dist"} <= excluded
    patterns = buildozer_list("source.exclude_patterns")
    assert not any(p.endswith(".mo") or p.endswith(".kv") for p in patterns)


def test_buildozer_is_a_landscape_kiosk_with_internet_and_camera():
    config = buildozer_config()
    assert config.get("app", "orientation") == "landscape"
    assert {"INTERNET", "CAMERA"} <= set(buildozer_list("android.permissions"))
    assert config.get("app", "fullscreen") == "1"
    # Buildozer's output stays in git-ignored folders.
    assert config.get("buildozer", "build_dir").startswith("../build")
    assert config.get("buildozer", "bin_dir").startswith("../dist")


# ---- The PyInstaller spec -------------------------------------------------------------------

def spec_constant(name):
    """The literal value assigned to `name` at the top level of piazzetta.spec."""
    tree = ast.parse(PYINSTALLER_SPEC.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned in piazzetta.spec")


def collected_by_pyinstaller():
    found = set()
    for top, patterns in spec_constant("DATA_PATTERNS").items():
        for pattern in patterns:
            found |= {p for p in (ROOT / top).glob(pattern) if p.is_file()}
    return found


@pytest.mark.parametrize("folder, pattern", [
    ("screens", "**/*.kv"),
    ("locales", "*/LC_MESSAGES/*.mo"),
    ("assets", "**/*"),
])
def test_pyinstaller_spec_collects_every_data_file(folder, pattern):
    present = {p for p in (ROOT / folder).glob(pattern)
               if p.is_file() and "__pycache__" not in p.parts}
    if folder == "locales" and not present:
        pytest.skip("no compiled catalogs: run `make catalogs`")
    assert present, f"nothing matches {folder}/{pattern}"
    missing = sorted(str(p.relative_to(ROOT)) for p in present - collected_by_pyinstaller())
    assert missing == []


def test_no_kv_file_lies_outside_screens():
    stray = [p for folder in RUNTIME_FOLDERS if folder != "screens"
             for p in (ROOT / folder).rglob("*.kv")] + list(ROOT.glob("*.kv"))
    assert stray == [], "a .kv file outside screens/ is not bundled by piazzetta.spec"


def test_pyinstaller_spec_lists_every_project_package_as_hidden_imports():
    packages = set(spec_constant("PACKAGES"))
    assert {"app", "screens", "sync"} <= packages
    excluded = set(spec_constant("EXCLUDES"))
    # Nothing the client imports may be excluded; the hub and test tools must be.
    assert excluded.isdisjoint(packages | {"kivy", "PIL", "sqlite_utils", "requests", "qrcode"})
    assert {"server", "fastapi", "pytest"} <= excluded


def test_pyinstaller_spec_imports_kivy_deps_only_on_windows():
    source = PYINSTALLER_SPEC.read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if module and module.startswith("kivy_deps"):
                guard = source.splitlines()[:node.lineno]
                assert any('sys.platform == "win32"' in line for line in guard[-12:]), \
                    f"kivy_deps imported outside the Windows branch (line {node.lineno})"
    assert "kivy.tools.packaging.pyinstaller_hooks" in source
    for helper in ("get_deps_minimal", "hookspath()", "runtime_hooks()"):
        assert helper in source


def imported_top_level_names(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_client_imports_nothing_the_bundle_excludes():
    excluded = set(spec_constant("EXCLUDES"))
    offenders = {}
    for package in spec_constant("PACKAGES"):
        for path in (ROOT / package).rglob("*.py"):
            hits = imported_top_level_names(path) & excluded
            if hits:
                offenders[str(path.relative_to(ROOT))] = sorted(hits)
    hits = imported_top_level_names(ROOT / "main.py") & excluded
    if hits:
        offenders["main.py"] = sorted(hits)
    assert offenders == {}, "the desktop bundle leaves these out (piazzetta.spec EXCLUDES)"


# ---- Deployment documentation ----------------------------------------------------------------

def hub_settings_variables():
    source = (ROOT / "server" / "settings.py").read_text(encoding="utf-8")
    return set(re.findall(r"PIAZZETTA_HUB_[A-Z_]+", source))


def test_deploy_docs_and_examples_name_every_hub_setting():
    variables = hub_settings_variables()
    assert {"PIAZZETTA_HUB_DATA_DIR", "PIAZZETTA_HUB_DATABASE_URL", "PIAZZETTA_HUB_HOST",
            "PIAZZETTA_HUB_PORT", "PIAZZETTA_HUB_PUBLIC_URL", "PIAZZETTA_HUB_SECRET_KEY",
            "PIAZZETTA_HUB_MAX_BATCH"} <= variables
    for document in ("docs/deploy.md", "deploy/hub.env.example"):
        text = (ROOT / document).read_text(encoding="utf-8")
        missing = sorted(v for v in variables if v not in text)
        assert missing == [], f"{document} does not mention {missing}"
    documented = set(re.findall(r"PIAZZETTA_HUB_[A-Z_]+",
                                (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")))
    assert documented <= variables, f"docs/deploy.md names unknown settings: " \
                                    f"{sorted(documented - variables)}"


def test_deploy_examples_start_the_hub_and_the_kiosk():
    unit = (ROOT / "deploy" / "piazzetta-hub.service").read_text(encoding="utf-8")
    assert re.search(r"^ExecStart=\S+python -m server$", unit, re.M)
    assert "EnvironmentFile=" in unit
    container = (ROOT / "deploy" / "Containerfile").read_text(encoding="utf-8")
    assert 'CMD ["python", "-m", "server"]' in container
    assert "--require-hashes --no-deps -r requirements/hub.lock" in container
    for needed in ("app/", "sync/", "server/", "locales/"):
        assert f"COPY {needed}" in container or f"{needed} {needed}" in container, needed
    nginx = (ROOT / "deploy" / "nginx-piazzetta-hub.conf").read_text(encoding="utf-8")
    assert "listen 443 ssl" in nginx and "proxy_pass http://piazzetta_hub" in nginx
    assert "X-Forwarded-Proto" in nginx
    for kiosk in ("piazzetta-kiosk.service", "piazzetta-kiosk.desktop"):
        text = (ROOT / "deploy" / kiosk).read_text(encoding="utf-8")
        assert re.search(r"piazzetta kiosk\b", text), kiosk
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for file in ("piazzetta-hub.service", "Containerfile", "nginx-piazzetta-hub.conf",
                 "hub.env.example", "piazzetta-kiosk.service", "piazzetta-kiosk.desktop",
                 "buildozer.spec", "piazzetta.spec", "build-desktop.sh", "smoke-desktop.sh"):
        assert file in docs, f"docs/deploy.md does not mention {file}"


def test_pyinstaller_keeps_babel_locale_data_for_every_language_the_app_speaks():
    from app.model import LANGUAGES
    kept = set(spec_constant("BABEL_LOCALES"))
    assert "root" in kept and set(LANGUAGES) <= kept


def test_the_shipped_nginx_config_logs_no_query_string():
    """A confirmation link's `?t=` shows a participation card: the access log keeps the path
    only, in every server block (issue 23)."""
    nginx = (ROOT / "deploy" / "nginx-piazzetta-hub.conf").read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in nginx.splitlines())
    formats = re.findall(r"log_format\s+(\w+)\s+((?:'[^']*'\s*)+);", code)
    assert [name for name, _ in formats] == ["piazzetta_noquery"]
    for leak in ("$request ", "$request\"", "$request_uri", "$args", "$query_string",
                 "$http_referer", "$arg_"):
        assert leak not in formats[0][1], leak
    logs = [l for l in re.findall(r"access_log\s+([^;]+);", code) if l.strip() != "off"]
    servers = code.count("server {")
    assert len(logs) == servers and all(l.split()[-1] == "piazzetta_noquery" for l in logs)
    # The sign-up paths (form, confirmation, card page) are not logged at all, in every
    # server block: no client address, second or user agent beside a sign-up (issue 23 review).
    signup = re.findall(r"location\s+\^~\s+/signup\s*\{([^}]*)\}", code)
    assert len(signup) == servers and all("access_log off;" in block for block in signup)
    assert all("proxy_pass http://piazzetta_hub" in block or "return 301" in block
               for block in signup)
