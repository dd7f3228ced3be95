# The two front-door commands: `make demo` (run the demo study) and `make test`.
CORES ?= all
BIN := .venv/bin

.PHONY: demo test install report lint clean

demo: install
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --report results/report.html
	@echo "Study done: open results/report.html"

report: install
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --report results/report.html

test:
	bash envs/install.sh --test
	$(BIN)/python -m pytest -q -ra

install:
	bash envs/install.sh

lint: install
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs benchmarks .snakemake
