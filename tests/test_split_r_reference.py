"""The per-set table's test (radsnake.cohort.split.set_table) against R's fisher.test."""

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import r_unavailable
from radsnake.cohort.split import SET_TABLE_TEST, set_table

pytestmark = pytest.mark.r_reference

R_SCRIPT = Path(__file__).parent / "r" / "fisher.R"
# Held-out set (events, non-events) against training (events, non-events).
TABLES = {
    "issue": ((19, 15), (44, 36)),
    "unbalanced": ((17, 11), (29, 53)),
    "small": ((1, 6), (9, 4)),
    "no_events": ((0, 12), (20, 30)),
    "large": ((150, 350), (420, 780)),
}


def test_fisher_p_values_match_r(tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        r_unavailable("Rscript not found on PATH")
    rows = [(name, *held, *train) for name, (held, train) in TABLES.items()]
    pd.DataFrame(rows, columns=["table", "a", "b", "c", "d"]).to_csv(tmp_path / "in.csv", index=False)
    subprocess.run([rscript, "--vanilla", str(R_SCRIPT), str(tmp_path / "in.csv"), str(tmp_path / "out.csv")],
                   check=True, capture_output=True, timeout=120)
    reference = pd.read_csv(tmp_path / "out.csv", dtype=str).set_index("table")["p"].astype(float)
    for name, (held, train) in TABLES.items():
        labels = [1] * held[0] + [0] * held[1] + [1] * train[0] + [0] * train[1]
        cases = [f"c{i:04d}" for i in range(len(labels))]
        split = pd.DataFrame({"case_id": cases, "set": ["test"] * sum(held) + ["train"] * sum(train)})
        table = set_table(split, pd.Series(labels, index=cases)).set_index("set")
        assert table.loc["test", "test"] == SET_TABLE_TEST
        assert table.loc["test", ["cases", "events"]].tolist() == [sum(held), held[0]]
        assert abs(table.loc["test", "p_value"] - reference[name]) <= 1e-10, name
        assert pd.isna(table.loc["train", "p_value"]) and table.loc["train", "test"] == ""
