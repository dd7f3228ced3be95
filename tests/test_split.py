import numpy as np
import pandas as pd
import pytest

from radsnake.core.errors import InputError
from radsnake.io.external import evaluation_sets, external_cohorts, in_set, ordered_sets, with_sets
from radsnake.cohort.split import (
    DRAWN,
    HASHED,
    KEPT_COLUMNS,
    LOCKED,
    adopt_earlier_split,
    assign_sets,
    case_uniform,
    check_strata,
    n_test_cases,
    read_kept,
    updated_kept,
)

EMPTY_KEPT = pd.DataFrame(columns=KEPT_COLUMNS)


def cohort(n, centers=("A", "B", "C")):
    return pd.DataFrame(
        {
            "case_id": [f"c{i:04d}" for i in range(n)],
            "label": [i % 3 == 0 for i in range(n)],
            "center": [centers[i % len(centers)] for i in range(n)],
        }
    ).astype({"label": int})


def test_first_draw_is_exact_per_label_and_hash_shares_near_target():
    data = cohort(3000)  # 1000 of label 1, 2000 of label 0
    split = assign_sets(data, "random", 0.3, [], seed=1)
    test = (split["set"] == "test").to_numpy()
    labels = data["label"].to_numpy()
    assert test[labels == 1].sum() == 300 and test[labels == 0].sum() == 600
    assert set(split["assigned_by"]) == {DRAWN}
    # Cases new to a kept split are assigned by their own hash: the share only near the target.
    hashed = assign_sets(data, "random", 0.3, [], seed=1, kept=EMPTY_KEPT)
    assert set(hashed["assigned_by"]) == {HASHED}
    test = (hashed["set"] == "test").to_numpy()
    for label in (0, 1):
        assert abs(test[labels == label].mean() - 0.3) < 0.04


def test_exact_counts_63_and_51_cases():
    data = pd.DataFrame({"case_id": [f"p{i:03d}" for i in range(114)], "label": [1] * 63 + [0] * 51, "center": "A"})
    split = assign_sets(data, "random", 0.3, [], seed=42).merge(data, on="case_id")
    assert split.loc[split["set"] == "test", "label"].value_counts().to_dict() == {1: 19, 0: 15}


def test_test_count_rounds_halves_up_on_the_written_fraction():
    assert [n_test_cases(n, 0.3) for n in (5, 15, 51, 63, 0)] == [2, 5, 15, 19, 0]
    assert n_test_cases(3, 0.5) == 2 and n_test_cases(10, 0.25) == 3 and n_test_cases(7, 0.0) == 0


def test_strata_are_drawn_exactly_per_cell():
    data = cohort(300)  # centres A, B, C cycle; labels every third
    data["sex"] = np.where(np.arange(300) % 4 == 0, "f", "m")
    split = assign_sets(data, "random", 0.3, [], seed=3, strata=["center", "sex"]).merge(data, on="case_id")
    for _, cell in split.groupby(["label", "center", "sex"]):
        assert (cell["set"] == "test").sum() == n_test_cases(len(cell), 0.3)


def test_adding_cases_never_moves_existing_ones():
    first = assign_sets(cohort(100), "random", 0.3, [], seed=7)
    kept = updated_kept(None, first)
    after = assign_sets(cohort(160), "random", 0.3, [], seed=7, kept=kept).set_index("case_id")
    before = first.set_index("case_id")["set"]
    assert after["set"].loc[before.index].equals(before)
    assert set(after["assigned_by"].drop(before.index)) == {HASHED}


def test_removing_and_reordering_cases_moves_nobody():
    first = assign_sets(cohort(100), "random", 0.3, [], seed=7)
    full = first.set_index("case_id")["set"]
    subset = cohort(100).iloc[::-1].iloc[10:]
    # A first draw does not depend on the order of the sheet's rows.
    reordered = assign_sets(cohort(100).iloc[::-1], "random", 0.3, [], seed=7).set_index("case_id")["set"]
    assert reordered.equals(full)
    part = assign_sets(subset, "random", 0.3, [], seed=7, kept=updated_kept(None, first)).set_index("case_id")["set"]
    assert part.equals(full.loc[part.index])
    # The kept file keeps the rows of removed cases, so a case that comes back keeps its set.
    kept = updated_kept(updated_kept(None, first), assign_sets(subset, "random", 0.3, [], seed=7, kept=EMPTY_KEPT))
    assert kept["case_id"].tolist() == sorted(full.index)


def test_kept_file_adopts_an_earlier_split_and_is_checked(tmp_path):
    earlier = tmp_path / "results" / "split.csv"
    earlier.parent.mkdir()
    earlier.write_text("case_id,set\nc0000,test\nc0001,train\nc0002,external\n")
    kept = tmp_path / "split" / "assignments.csv"
    assert read_kept(str(kept), "") is None
    note = adopt_earlier_split(str(kept), str(earlier))
    assert note.startswith("radsnake: split: the sets of ") and "none of these moves" in note
    assert kept.read_text() == "case_id,set,assigned_by\nc0000,test,earlier_split\nc0001,train,earlier_split\n"
    assert adopt_earlier_split(str(kept), str(earlier)) == ""  # once only
    split = assign_sets(cohort(12), "random", 0.3, [], seed=1, kept=read_kept(str(kept), "")).set_index("case_id")
    assert split.loc[["c0000", "c0001"], "set"].tolist() == ["test", "train"]
    assert set(split["assigned_by"].drop(["c0000", "c0001"])) == {HASHED}

    kept.write_text("case_id,set\nc0000,validation\n")
    with pytest.raises(InputError, match="is the study's kept split and must have columns case_id,set,assigned_by"):
        read_kept(str(kept), "")


def test_locked_sets_are_kept_and_left_out_of_the_draw():
    data = cohort(30)
    locked = pd.DataFrame({"case_id": ["c0000", "c0001"], "set": ["test", "train"]})
    split = assign_sets(data, "random", 0.3, [], seed=1, locked=locked).set_index("case_id")
    assert split.loc[["c0000", "c0001"], "assigned_by"].tolist() == [LOCKED, LOCKED]
    drawn = split.drop(["c0000", "c0001"]).join(data.set_index("case_id"))
    for _, cell in drawn.groupby("label"):
        assert (cell["set"] == "test").sum() == n_test_cases(len(cell), 0.3)
    kept = updated_kept(None, split.reset_index())
    assert kept.set_index("case_id").loc["c0000", "assigned_by"] == LOCKED


def test_unknown_stratum_is_an_error():
    with pytest.raises(InputError, match=r"split.strata \['age'\]: a stratum must be 'center' or a categorical"):
        check_strata(["center", "age"], {"age": "numeric", "sex": "categorical"})
    check_strata(["center", "sex"], {"age": "numeric", "sex": "categorical"})


def test_seed_changes_split_and_output_sorted():
    a = assign_sets(cohort(200), "random", 0.3, [], seed=1)
    b = assign_sets(cohort(200), "random", 0.3, [], seed=2)
    assert not a["set"].equals(b["set"])
    assert a["case_id"].is_monotonic_increasing


def test_center_split_holds_out_whole_centres():
    data = cohort(90)
    split = assign_sets(data, "center", 0.3, ["C"], seed=1)
    merged = data.merge(split, on="case_id")
    assert set(merged.loc[merged["center"] == "C", "set"]) == {"external"}
    assert "external" not in set(merged.loc[merged["center"] != "C", "set"])
    assert {"train", "test"} <= set(merged["set"])


def test_unknown_external_centre_is_an_error():
    with pytest.raises(InputError, match="external centre\\(s\\) \\['Z'\\]"):
        assign_sets(cohort(30), "center", 0.3, ["Z"], seed=1)


def test_locked_assignments_win():
    locked = pd.DataFrame({"case_id": ["c0000", "c0001"], "set": ["test", "train"]})
    split = assign_sets(cohort(50), "random", 0.0, [], seed=1, locked=locked).set_index("case_id")["set"]
    assert split["c0000"] == "test" and (split.drop("c0000") == "train").all()


def test_case_uniform_is_stable():
    # A fixed value: a change of hashing would silently move every patient.
    assert case_uniform(42, "case001") == pytest.approx(0.1880040485708016, abs=0)


def test_each_listed_centre_is_its_own_external_set():
    data = cohort(120, centers=("A", "B", "C", "D"))
    split = assign_sets(data, "center", 0.3, ["D", "C"], seed=1)
    merged = data.merge(split, on="case_id")
    assert set(merged.loc[merged["center"] == "C", "set"]) == {"external_C"}
    assert set(merged.loc[merged["center"] == "D", "set"]) == {"external_D"}
    assert set(merged.loc[merged["center"].isin(["A", "B"]), "set"]) == {"train", "test"}
    # Nobody is in the pooled set in split.csv: it is formed when evaluated.
    assert "external" not in set(split["set"])


def test_cohort_column_makes_external_cohorts_with_any_method():
    data = cohort(60)
    late = {case: "late" for case in data["case_id"][:12]}
    split = assign_sets(data, "random", 0.3, [], seed=1, case_cohorts=late).set_index("case_id")["set"]
    # A single cohort keeps the plain name `external`.
    assert (split[list(late)] == "external").all()
    assert set(split.drop(list(late))) == {"train", "test"}

    # With a listed centre too there are two cohorts; the cohort column wins over the centre.
    split = assign_sets(data, "center", 0.3, ["C"], seed=1, case_cohorts=late).set_index("case_id")["set"]
    centres = data.set_index("case_id")["center"]
    assert (split[list(late)] == "external_late").all()
    others = split.drop(list(late))
    assert set(others[centres[others.index] == "C"]) == {"external_C"}
    assert set(others[centres[others.index] != "C"]) == {"train", "test"}


def test_cohort_of_a_case_not_in_the_table_still_names_the_sets():
    # Cohort names come from the whole sheet, as at parse time, even if QC dropped a case.
    data = cohort(60)
    split = assign_sets(data, "center", 0.3, ["C"], seed=1, case_cohorts={"dropped": "late"})
    assert set(split["set"]) == {"train", "test", "external_C"}


@pytest.mark.parametrize("name", ["St Mary", "a/b", "..", "-x", "ä"])
def test_unsafe_external_centre_name_is_an_error(name):
    data = cohort(30, centers=("A", name))
    with pytest.raises(InputError, match="cannot be used in file names"):
        assign_sets(data, "center", 0.3, [name], seed=1)


def test_cohort_names_differing_only_in_case_are_an_error():
    with pytest.raises(InputError, match="differ only in upper/lower case"):
        assign_sets(cohort(30), "center", 0.3, ["C"], seed=1, case_cohorts={"c0000": "c"})


def test_locked_external_keeps_the_case_in_its_own_cohort():
    data = cohort(60)
    late = {"c0000": "late"}
    locked = pd.DataFrame({"case_id": ["c0000", "c0001"], "set": ["external", "external_C"]})
    split = assign_sets(data, "center", 0.3, ["C"], seed=1, locked=locked, case_cohorts=late).set_index("case_id")
    assert split.loc["c0000", "set"] == "external_late" and split.loc["c0001", "set"] == "external_C"

    ambiguous = pd.DataFrame({"case_id": ["c0003"], "set": ["external"]})  # centre A, no cohort
    with pytest.raises(InputError, match="belong to none"):
        assign_sets(data, "center", 0.3, ["C"], seed=1, locked=ambiguous, case_cohorts=late)
    unknown = pd.DataFrame({"case_id": ["c0003"], "set": ["external_Z"]})
    with pytest.raises(InputError, match="external_Z"):
        assign_sets(data, "center", 0.3, ["C"], seed=1, locked=unknown, case_cohorts=late)
    # Without external cohorts there is no external set to lock a case into.
    with pytest.raises(InputError, match="does not have"):
        assign_sets(data, "random", 0.3, [], seed=1, locked=ambiguous)


def test_evaluation_sets_follow_from_the_config_alone():
    assert evaluation_sets(0.3, [], pool=True) == ["train", "test"]
    assert evaluation_sets(0.0, ["C"], pool=False) == ["train", "external"]
    assert evaluation_sets(0.3, ["D", "C"], pool=True) == ["train", "test", "external_C", "external_D", "external"]
    assert evaluation_sets(0.3, ["D", "C"], pool=False) == ["train", "test", "external_C", "external_D"]
    assert external_cohorts("center", ["D", "C"], ["", "late", "C"]) == ["C", "D", "late"]
    # Listed centres count only for the centre method; the cohort column for any.
    assert external_cohorts("random", ["D"], ["late"]) == ["late"]


def test_pooled_set_is_every_external_cohort():
    frame = pd.DataFrame({"case_id": list("abcde"), "set": ["train", "test", "external_C", "external_D", "external_C"]})
    pooled = in_set(frame, "external")
    assert pooled["case_id"].tolist() == ["c", "d", "e"] and set(pooled["set"]) == {"external"}
    stacked = with_sets(frame, ["train", "external_C", "external"])
    assert stacked["set"].tolist() == ["train", "external_C", "external_C", "external", "external", "external"]
    assert ordered_sets(["external", "test", "external_D", "train", "external_C"]) == [
        "train", "test", "external_C", "external_D", "external",
    ]
