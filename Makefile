# The two front-door commands: `make demo` (run the demo study) and `make test`.
CORES ?= all
BIN := .venv/bin

.PHONY: demo test test-fast install report lint clean new-study config-doc

# The demo is one study config among others; its study folder is this clone.
DEMO_CONFIG := config/demo/config.yaml
# The survival demo (endpoint.type: survival, docs/survival.md): its own study folder,
# config/demo-survival/, on a feature table (about a minute and a half).
DEMO_SURVIVAL_CONFIG := config/demo-survival/config.yaml
DEMO_SURVIVAL_DIR := config/demo-survival

demo: install
	$(BIN)/snakemake --cores $(CORES) --configfile $(DEMO_CONFIG)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html --configfile $(DEMO_CONFIG)
	$(BIN)/snakemake --cores $(CORES) --configfile $(DEMO_SURVIVAL_CONFIG)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html --configfile $(DEMO_SURVIVAL_CONFIG)
	@echo "Studies done: open results/report.html and $(DEMO_SURVIVAL_DIR)/results/report.html"

report: install
	$(BIN)/snakemake --cores $(CORES) --report results/report.html --configfile $(DEMO_CONFIG)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html --configfile $(DEMO_SURVIVAL_CONFIG)

# Two pytest-xdist workers; each test module stays on one worker (tests/conftest.py).
PYTEST := $(BIN)/python -m pytest -q -ra -n 2 --dist loadfile

test:
	bash envs/install.sh --test
	$(PYTEST) --durations=30

# Unit tests and one small end-to-end study (docs/development.md, "Test tiers").
test-fast:
	bash envs/install.sh --test
	$(PYTEST) --durations=10 -m fast

install:
	bash envs/install.sh

# The workflow (Snakemake's linter, snakefmt), the Python code (ruff; pyproject.toml has its
# rules) and the package's layers (import-linter; pyproject.toml has the contracts).
# Linters come from envs/requirements-lint.lock (install.sh --lint).
lint:
	bash envs/install.sh --lint
	$(BIN)/snakemake --lint --configfile $(DEMO_CONFIG)
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff check scripts/ tests/ bench/
	cd scripts && ../$(BIN)/lint-imports --no-cache --config ../pyproject.toml

# A new study folder outside the clone (README, "Your own study"): make new-study DIR=~/studies/lung
new-study:
	@test -n "$(DIR)" || { echo "radsnake: name the study folder: make new-study DIR=~/studies/lung" >&2; exit 2; }
	@test -x $(BIN)/python || { echo "radsnake: run make install first" >&2; exit 1; }
	@PYTHONPATH=scripts $(BIN)/python -m radsnake.core.scaffold "$(DIR)"

# docs/config.md is generated from config/schemas/config.schema.yaml (tests/test_config_doc.py).
config-doc:
	PYTHONPATH=scripts $(BIN)/python -m radsnake.core.configdoc --write

clean:
	rm -rf results logs benchmarks .snakemake split
	cd $(DEMO_SURVIVAL_DIR) && rm -rf results logs benchmarks .snakemake split

# Benchmarks (docs/benchmarks.md): extraction vs PyRadiomics' CLI, planning time, modelling,
# aggregation memory. Full sizes by default (about 40 minutes on two idle cores); every size
# scales with BENCH_CASES, e.g. `make bench BENCH_CASES=20` for a smoke run.
BENCH_CASES ?= 200
BENCH_CORES ?= 2
BENCH_DIR ?= $(or $(TMPDIR),/tmp)/radsnake-bench

.PHONY: bench
bench: install
	$(BIN)/python bench/run_all.py --cases $(BENCH_CASES) --cores $(BENCH_CORES) --workdir $(BENCH_DIR)
