"""The clinical-values policy (radsnake.io.clinical_data): refuse or impute, per set.
The real workflow runs (parse-time stop, imputed study) are in test_sheets_workflow.py."""

import numpy as np
import pandas as pd
import pytest

from radsnake.io.clinical_data import check_clinical, clinical_gaps, impute_clinical, usable_clinical
from radsnake.core.errors import InputError

CLINICAL = {"age": "numeric", "sex": "categorical"}


def _frame():
    frame = pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "d", "e", "f"],
            "age": [50.0, 60.0, np.nan, 90.0, np.nan, 100.0],
            "sex": ["F", "M", "F", "female", "", "F"],
        }
    ).set_index("case_id", drop=False)
    sets = pd.Series(["train", "train", "train", "test", "test", "external"], index=frame.index)
    return frame, sets


def test_gaps_name_case_column_and_set():
    frame, sets = _frame()
    assert clinical_gaps(frame, CLINICAL, sets) == [
        ("c", "age", "train", ""),
        ("d", "sex", "test", "female"),
        ("e", "age", "test", ""),
        ("e", "sex", "test", ""),
    ]


def test_refuse_lists_every_cell_in_one_message():
    frame, sets = _frame()
    with pytest.raises(InputError) as err:
        check_clinical(frame, CLINICAL, sets, "refuse", source="/study/cohort.csv")
    assert str(err.value) == (
        "clinical data: 4 value(s) the clinical models cannot use (clinical_missing: refuse):\n"
        "  case c (train set): clinical column 'age' is empty\n"
        "  case d (test set): clinical column 'sex' holds 'female', a category no training case has (training: F, M)\n"
        "  case e (test set): clinical column 'age' is empty\n"
        "  case e (test set): clinical column 'sex' is empty\n"
        "Fill in or correct these cells in /study/cohort.csv, or set clinical_missing: impute to impute them "
        "from the training cases (docs/studies.md#clinical-data); no job has run."
    )


def test_impute_fits_on_training_cases_only_and_records_every_cell():
    frame, sets = _frame()
    gaps = check_clinical(frame, CLINICAL, sets, "impute")
    imputed, record = impute_clinical(frame, CLINICAL, sets, gaps)
    # Training ages 50, 60 (c is missing): median 55; with the test and external ages it would be 75.
    assert imputed.loc[["c", "e"], "age"].tolist() == [55.0, 55.0]
    assert imputed.loc[["d", "e"], "sex"].tolist() == ["F", "F"]
    assert record.to_dict("records") == [
        {"case_id": "c", "set": "train", "column": "age", "found": "", "imputed": "55", "fitted_on": "median of 2 training cases"},
        {"case_id": "e", "set": "test", "column": "age", "found": "", "imputed": "55", "fitted_on": "median of 2 training cases"},
        {"case_id": "d", "set": "test", "column": "sex", "found": "female", "imputed": "F", "fitted_on": "most frequent category of 3 training cases"},
        {"case_id": "e", "set": "test", "column": "sex", "found": "", "imputed": "F", "fitted_on": "most frequent category of 3 training cases"},
    ]


def test_training_median_ignores_test_values():
    frame = pd.DataFrame({"case_id": list("abcd"), "age": [10.0, 20.0, np.nan, 1000.0]}).set_index("case_id", drop=False)
    sets = pd.Series(["train", "train", "test", "test"], index=frame.index)
    gaps = check_clinical(frame, {"age": "numeric"}, sets, "impute")
    imputed, _ = impute_clinical(frame, {"age": "numeric"}, sets, gaps)
    assert imputed.loc["c", "age"] == 15.0


def test_harmonisation_covariates_are_never_imputed():
    frame, sets = _frame()
    with pytest.raises(InputError) as err:
        check_clinical(frame, CLINICAL, sets, "impute", protected=["age"])
    assert "case c (train set): clinical column 'age' is empty" in str(err.value)
    assert "'sex'" not in str(err.value).split("\n", 1)[1].split("Fill")[0]
    assert "harmonisation covariate(s) ['age'] are never imputed" in str(err.value)


def test_a_column_without_training_values_cannot_be_imputed():
    frame, sets = _frame()
    frame.loc[["a", "b", "c"], "age"] = np.nan
    with pytest.raises(InputError, match="clinical column 'age' has no value in any training case: nothing to impute from"):
        check_clinical(frame, CLINICAL, sets, "impute")


def test_job_time_check_names_the_sheet():
    frame, sets = _frame()
    frame = frame.assign(set=sets).reset_index(drop=True)
    with pytest.raises(InputError, match="in /s/cohort.csv, or set clinical_missing: impute .*the clinical models were not fitted"):
        usable_clinical(frame, CLINICAL, "refuse", "/s/cohort.csv")
    imputed, record = usable_clinical(frame, CLINICAL, "impute", "/s/cohort.csv")
    assert imputed["age"].notna().all() and len(record) == 4
    assert list(imputed["case_id"]) == list("abcdef")
