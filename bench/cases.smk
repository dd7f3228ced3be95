# The cases of bench/planning.py's baselines (bench/trivial.smk, bench/required.smk): the
# sheet read once, and the image and mask through input functions, as the workflow's jobs
# read theirs.
import csv

with open(config["cohort"], newline="") as handle:
    CASES = {row["case_id"]: row for row in csv.DictReader(handle)}


def image(wildcards):
    return "config/" + CASES[wildcards.case]["image"]


def mask(wildcards):
    return "config/" + CASES[wildcards.case]["mask"]
