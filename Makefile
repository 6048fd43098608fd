# Piazzetta: `make run` starts the kiosk on the demo consultation; `make test` runs every test,
# `make check` the fast tier.
# Both do the whole set-up first (system packages when missing, the venv, compiled catalogs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYBABEL := $(VENV)/bin/pybabel
DATA_DIR ?= $(CURDIR)/build/data
HUB_DIR ?= $(CURDIR)/build/hub
ROLE ?= kiosk
LANG_ARG ?= fr
LANGS := fr it en

.PHONY: setup system venv lock catalogs messages preview run facilitator projector hub room test test-unit test-ui bench clean

setup: system venv catalogs

system:
	@sh tools/install-system-packages.sh

venv: $(VENV)/.installed

# Installs exactly what requirements/dev.lock pins (runtime and hub included), every file checked
# against its hash: a new release anywhere changes nothing here until `make lock` is run.
$(VENV)/.installed: requirements/runtime.lock requirements/hub.lock requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(PY) -m pip check
	touch $@

# The only thing that changes a pin. Resolves requirements/*.in for every platform (one lock
# serves Linux, macOS, Windows and the Android build) with uv, keeps the current pins where the
# inputs still allow them (UPGRADE=1 takes the newest releases instead), hashes every file, keeps
# the hub's and the dev lock's shared packages at the runtime lock's versions, and writes the
# runtime lock's Android packages into buildspec/buildozer.spec.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock: venv
	$(UV_COMPILE) requirements/runtime.in -o requirements/runtime.lock
	$(UV_COMPILE) -c requirements/runtime.lock requirements/hub.in -o requirements/hub.lock
	$(UV_COMPILE) -c requirements/runtime.lock -c requirements/hub.lock requirements/dev.in \
		-o requirements/dev.lock
	$(PY) tools/locks.py buildozer --write

# Compiled catalogs are built here, never edited by hand.
catalogs: venv
	$(PYBABEL) -q compile --use-fuzzy -d locales -D piazzetta

# After changing interface strings: refresh the template and every language's catalog.
messages: venv
	flock locales/.lock $(PYBABEL) extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --no-location --sort-output --width 100 \
		--project=Piazzetta -o locales/piazzetta.pot .
	for lang in $(LANGS); do \
		if [ -f locales/$$lang/LC_MESSAGES/piazzetta.po ]; then \
			flock locales/.lock $(PYBABEL) update --no-fuzzy-matching --ignore-obsolete --width 100 -i locales/piazzetta.pot -d locales -D piazzetta -l $$lang; \
		else \
			$(PYBABEL) init -i locales/piazzetta.pot -d locales -D piazzetta -l $$lang; \
		fi; \
	done

run: setup
	$(PY) main.py $(ROLE) --demo --data-dir $(DATA_DIR) --lang $(LANG_ARG) $(ARGS)

# Every kiosk screen of a bundle in each of its languages, as screenshots (build/preview/).
BUNDLE ?= assets/demo
preview: setup
	sh tools/with-display.sh $(PY) tools/preview.py $(BUNDLE) --out build/preview $(ARGS)

# A hub on this machine with the demo consultation imported (for the projector, sync, sign-up).
hub: setup
	$(PY) -m server --data-dir $(HUB_DIR) import-bundle assets/demo
	$(PY) -m server --data-dir $(HUB_DIR) serve

# The room kit: a hub on this laptop's LAN address (the demo, or the consultations pulled from
# its central hub), the tablets' enrollment QR, the projector's address, a live status line.
ROOM_DIR ?= $(CURDIR)/build/room
room: setup
	$(PY) -m server --data-dir $(ROOM_DIR) room $(ARGS)

# Every test, at the same time rather than one after the other:
# - the window tests (tests/ui) in UI_SHARDS processes, each a Kivy window on a display of its
#   own (tools/with-display.sh: Xvfb when there is no display; each starts 2 s after the one
#   before, so that `xvfb-run -a` picks another free display), each given a share of the files
#   balanced by their measured time (`--shard K/N`, tests/conftest.py); their output is kept
#   in build/test-ui-K.log and shown when they end. The leak check (tests/ui/test_memory.py)
#   and the hit walk (tests/ui/test_hits.py) each run first in a process of their own, as
#   they did alone: after the other window tests they had once found a replaced kiosk still
#   held and missed a control they reach alone (and the hit walk once missed the facilitator's
#   Synchronisation button right after the leak check, at load 20: passing first);
# - meanwhile every other test on TEST_JOBS processes (pytest-xdist, --dist loadgroup): each
#   test file is one group (its module's hub starts once), the PostgreSQL tests one group, the
#   process and slow ones sent first (tests/conftest.py); TEST_JOBS=0 runs them in one process.
# Three non-window workers beside two window shares: with two workers and three shares, the
# fresh-clone CI run (PostgreSQL tests included, quiet machine) ended its window shares at
# 377-451 s and its non-window part at 590 s; a third worker fills the non-window tests' waits
# on hub processes.
TEST_JOBS ?= 3
UI_SHARDS ?= 2
# Compiled modules and pytest's rewritten test modules kept in build/pycache, whatever the
# caller's environment says: with PYTHONDONTWRITEBYTECODE set, every pytest process rewrote
# every test module's asserts (about 5 s of CPU each) and every hub process compiled the
# server from its sources again.
test check test-unit test-ui: export PYTHONDONTWRITEBYTECODE =
test check test-unit test-ui: export PYTHONPYCACHEPREFIX = $(CURDIR)/build/pycache
XDIST = $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadgroup --no-loadscope-reorder)
test: setup
	@mkdir -p build
	@rm -f build/test-ui-*.log build/test-ui-*.rc
	for k in $$(seq 1 $(UI_SHARDS)); do \
		( sleep $$((2 * k)); sh tools/with-display.sh $(PY) -m pytest $(PYTEST_ARGS) \
			--shard $$k/$(UI_SHARDS) tests/ui > build/test-ui-$$k.log 2>&1; \
			echo $$? > build/test-ui-$$k.rc ) & \
	done; \
	sh tools/with-display.sh $(PY) -m pytest $(XDIST) $(PYTEST_ARGS) --ignore=tests/ui; \
	others=$$?; wait; status=$$others; \
	for k in $$(seq 1 $(UI_SHARDS)); do \
		echo "== tests/ui, share $$k of $(UI_SHARDS) (build/test-ui-$$k.log)"; \
		cat build/test-ui-$$k.log; \
		[ "$$(cat build/test-ui-$$k.rc 2>/dev/null)" = 0 ] || status=1; \
	done; \
	exit $$status

# The fast tier (target: under 90 s): the unit tests and the in-process API tests, without the
# tests marked `process` (hub processes, browsers, Python processes), `slow` (soak, kill, load,
# costly hashes) or `postgres` (a server), no window.
check: setup
	$(PY) -m pytest $(XDIST) -m "not process and not slow and not ui and not postgres" $(PYTEST_ARGS) tests/unit

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-ui: setup
	sh tools/with-display.sh $(PY) -m pytest tests/ui $(PYTEST_ARGS)

bench: setup
	sh tools/with-display.sh sh -c 'for b in bench/*.py; do $(PY) $$b $(BENCH_ARGS) || exit 1; done'

clean:
	rm -rf build .pytest_cache
