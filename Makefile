# The two commands: `make emulate` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt requirements-stubs.txt requirements-mpy.txt | sha1sum | cut -c1-12)
BUILD := build
PORT ?= /dev/ttyUSB0
EMULATE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup emulate test bench mpy deploy firmware clean

setup: $(STAMP)

$(STAMP): requirements-dev.txt requirements-stubs.txt requirements-mpy.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -rf $(VENV)/esp32-stubs
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/esp32-stubs -r requirements-stubs.txt
	$(PY) tools/install_mpy_deps requirements-mpy.txt $(VENV)/mpy-lib
	rm -f $(VENV)/.installed-* && touch $@

emulate: $(STAMP)
	$(PY) tools/emulate $(EMULATE_ARGS)

test: $(STAMP)
	$(PY) tools/run_tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) tools/bench

# Compile firmware/ and the board config to .mpy files in build/mpy (what `make deploy` copies).
mpy: $(STAMP)
	$(PY) tools/build_mpy $(BUILD)/mpy

deploy: mpy
	$(PY) tools/deploy $(PORT) $(BUILD)/mpy

# A frozen image needs a MicroPython checkout and ESP-IDF (see README); not run in CI.
firmware:
	@test -n "$(MPY_DIR)" || (echo "set MPY_DIR to a MicroPython checkout (and source ESP-IDF's export.sh)"; exit 2)
	$(MAKE) -C $(MPY_DIR)/ports/esp32 BOARD=ESP32_GENERIC BOARD_VARIANT=OTA \
		FROZEN_MANIFEST=$(CURDIR)/boards/esp32_generic/manifest.py

clean:
	rm -rf $(BUILD) .pytest_cache .mypy_cache
