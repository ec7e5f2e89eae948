# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= profiles/demo.toml
# Test processes (pytest-xdist). Two halve the suite's time on a 2-core machine: most tests wait on
# stand-ins, subprocesses and terminals rather than on the CPU. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

.PHONY: run test install install-dev lint bench clean tmux promtool rsync

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/gpumigrate --profile $(PROFILE)

test: install-dev tmux promtool
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: install-dev rsync
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# $(call apt_tool,COMMAND,DEBIAN-PACKAGE,MESSAGE-IF-MISSING): for tools no PyPI package has.
# Installed when we may (root with apt-get); otherwise the tests or benchmarks that need them skip
# and say why. (No commas in the message: make's $(call) splits on them.)
define apt_tool
@command -v $(1) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
  { apt-get install -y -q --no-install-recommends $(2) >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
    apt-get install -y -q --no-install-recommends $(2) >/dev/null 2>&1; }; }; } || echo "$(3)"
endef

# tmux drives the real terminal app in tests/e2e/test_session_tmux.py.
tmux:
	$(call apt_tool,tmux,tmux,tmux is not installed: the tmux-driven terminal tests will be skipped)

# promtool checks the generated Prometheus rules (tests/unit/test_ops_prometheus.py).
promtool:
	$(call apt_tool,promtool,prometheus,promtool is not installed: the promtool rule checks will be skipped (structural checks still run))

# rsync is a yardstick in benchmarks/bench_transfer_local.py.
rsync:
	$(call apt_tool,rsync,rsync,rsync is not installed: the local benchmark compares with rclone only)
