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

# Every test, in three processes' worth of time rather than one after the other:
# - the window tests (tests/ui) in one process of their own, as before (one Kivy window), its
#   output kept in build/test-ui.log and shown when it ends;
# - meanwhile every other test on TEST_JOBS processes (pytest-xdist, --dist loadgroup): each
#   test file is one group (its module's hub starts once), the PostgreSQL tests one group, the
#   process and slow ones sent first (tests/conftest.py); TEST_JOBS=0 runs them in one process;
# - then the hit walk (tests/ui/test_hits.py) in a process of its own: after the other window
#   tests, what they leave in Kivy's window and clock made it miss a control it reaches alone;
# - then the leak check (tests/ui/test_memory.py) in a process of its own: after the other 190
#   window tests it once found the replaced kiosk still held (passing alone and in most runs).
TEST_JOBS ?= 2
XDIST = $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadgroup --no-loadscope-reorder)
test: setup
	@mkdir -p build
	sh tools/with-display.sh sh -c '\
		$(PY) -m pytest $(PYTEST_ARGS) tests/ui --ignore=tests/ui/test_hits.py \
			--ignore=tests/ui/test_memory.py \
			> build/test-ui.log 2>&1 & ui=$$!; \
		$(PY) -m pytest $(XDIST) $(PYTEST_ARGS) --ignore=tests/ui; others=$$?; \
		wait $$ui; windows=$$?; echo "== tests/ui (build/test-ui.log)"; cat build/test-ui.log; \
		[ $$others -eq 0 ] && [ $$windows -eq 0 ]'
	sh tools/with-display.sh $(PY) -m pytest $(PYTEST_ARGS) tests/ui/test_hits.py
	sh tools/with-display.sh $(PY) -m pytest $(PYTEST_ARGS) tests/ui/test_memory.py

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
