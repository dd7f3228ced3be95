"""Modelling stage: time of selection + all four tuned models as the cohort grows.

A synthetic feature table (cases x features, with signal) goes through the workflow's
bring-your-own-features path (`features_table`), with the default selection steps,
default model grids and 5-fold tuning, up to the four models' predictions:
`results/models/{logistic,svm,random_forest,decision_tree}/predictions.csv`.
Sizes form a "star": every --cases value at the largest --features value, and every
--features value at the largest --cases value (--grid cross runs every pair).

The table imitates radiomics features: blocks of features driven by shared latent
factors (so many are strongly correlated), scales from 1e-3 to 1e5, some skewed; two
latent factors differ between labels, so the signal is spread over many features.

    python bench/modelling.py --cases 250 500 1000 --features 500 1500
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import benchlib
from benchlib import say

MODELS = ["logistic", "svm", "random_forest", "decision_tree"]


def synthetic_features(n_cases: int, n_features: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng([seed, n_cases, n_features])
    labels = (rng.uniform(size=n_cases) < 0.4).astype(int)
    n_factors = 40
    factors = rng.normal(size=(n_cases, n_factors))
    factors[:, 0] += 0.9 * labels
    factors[:, 1] -= 0.6 * labels
    block = rng.integers(0, n_factors, size=n_features)  # each feature mostly follows one factor
    loading = rng.uniform(0.3, 1.0, size=n_features)
    values = factors[:, block] * loading + rng.normal(size=(n_cases, n_features)) * np.sqrt(1 - loading**2)
    skewed = rng.uniform(size=n_features) < 0.3
    values[:, skewed] = np.exp(values[:, skewed])
    values *= 10 ** rng.uniform(-3, 5, size=n_features)
    names = [f"feature_{i:05d}" for i in range(n_features)]
    table = pd.DataFrame(values, columns=names)
    table.insert(0, "case_id", [f"M{i:05d}" for i in range(n_cases)])
    return table, labels


def make_study(workdir: Path, n_cases: int, n_features: int, seed: int, cores: int) -> Path:
    study = workdir / f"model-{n_cases}x{n_features}"
    if study.exists():
        shutil.rmtree(study)
    table, labels = synthetic_features(n_cases, n_features, seed)
    benchlib.write_own_features_study(study, table, labels, seed, cores)
    return study


def run_size(workdir: Path, n_cases: int, n_features: int, seed: int, cores: int) -> dict:
    study = make_study(workdir, n_cases, n_features, seed, cores)
    targets = [f"results/models/{m}/predictions.csv" for m in MODELS]
    cmd = benchlib.study_command(study, cores, *targets)
    run = benchlib.run_timed(cmd, cwd=benchlib.REPO, log_dir=study, env=benchlib.env_for_runs(), label="modelling")
    per_model, cpu = {}, 0.0
    for model in MODELS:
        bench = pd.read_csv(study / "benchmarks" / "fit_model" / f"{model}.tsv", sep="\t")
        per_model[model] = float(bench["s"].iloc[0])
        cpu += float(bench["cpu_time"].iloc[0])
    # CPU of the four tuning jobs (Snakemake's benchmark files): less sensitive to a busy machine than wall time.
    return {"cases": n_cases, "features": n_features, **run, "fit_model_s": per_model, "fit_model_cpu_s": cpu}


def sizes(cases: list[int], features: list[int], grid: str) -> list[tuple[int, int]]:
    if grid == "cross":
        pairs = [(c, f) for f in features for c in cases]
    else:
        pairs = [(c, max(features)) for c in cases] + [(max(cases), f) for f in features]
    # Largest first: it is the size that matters most if a long run has to be cut short.
    return sorted(set(pairs), key=lambda p: (-p[0] * p[1], -p[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--features", type=int, nargs="+", default=[500, 1500])
    parser.add_argument("--grid", choices=["star", "cross"], default="star")
    parser.add_argument("--cores", type=int, default=2, help="Snakemake --cores and threads per model job")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=benchlib.DEFAULT_WORKDIR)
    args = parser.parse_args()
    workdir = args.workdir.resolve()

    benchlib.print_machine()
    results = []
    for n_cases, n_features in sizes(args.cases, args.features, args.grid):
        say(f"\n== modelling, {n_cases} cases x {n_features} features, --cores {args.cores}")
        result = run_size(workdir, n_cases, n_features, args.seed, args.cores)
        results.append(result)
        benchlib.save_result(workdir, "modelling", {"runs": results})
        say(f"  wall {result['wall_s']:.1f} s (load before {result['load_before']}); fit_model per model: "
            + ", ".join(f"{m} {s:.1f} s" for m, s in result["fit_model_s"].items()))

    say("\ncases  features  wall (s)  fit_model CPU (s)  " + "  ".join(f"{m:>13s}" for m in MODELS))
    for r in sorted(results, key=lambda r: (r["features"], r["cases"])):
        say(f"{r['cases']:5d}  {r['features']:8d}  {r['wall_s']:8.1f}  {r['fit_model_cpu_s']:17.1f}  "
            + "  ".join(f"{r['fit_model_s'][m]:13.1f}" for m in MODELS))
    by_size = {(r["cases"], r["features"]): r for r in results}
    top_cases, top_features = max(args.cases), max(args.features)
    for axis, series in (("cases", [(c, top_features) for c in sorted(set(args.cases))]),
                         ("features", [(top_cases, f) for f in sorted(set(args.features))])):
        series = [by_size[s] for s in series if s in by_size]
        for r in series[1:]:
            base = series[0]
            say(f"  growth in {axis}: {base['cases']}x{base['features']} -> {r['cases']}x{r['features']} "
                f"({r[axis] / base[axis]:.1f}x {axis}): wall {r['wall_s'] / base['wall_s']:.2f}x, "
                f"fit_model CPU {r['fit_model_cpu_s'] / base['fit_model_cpu_s']:.2f}x")
    path = benchlib.save_result(workdir, "modelling", {"runs": results})
    say(f"numbers saved to {path}")


if __name__ == "__main__":
    main()
