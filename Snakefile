# radsnake: a reproducible radiomics study. This file is an index; see README.md.
from snakemake.utils import min_version

min_version("9.0")

# No configfile directive: the study's --configfile is the whole truth (rules/common.smk),
# and with none the demo study (config/demo/config.yaml) runs.


include: "rules/common.smk"


# The report's first page: docs/report/workflow.rst, headed by the study's notices and
# verdicts once summarise_models has written them (rules/statistics.smk).
report: report_text()


include: "rules/demo.smk"
include: "rules/segmentation.smk"
include: "rules/qc.smk"
include: "rules/extract.smk"
include: "rules/aggregate.smk"
include: "rules/robustness.smk"
include: "rules/split.smk"
include: "rules/harmonisation.smk"
include: "rules/selection.smk"
include: "rules/models.smk"
include: "rules/evaluation.smk"
include: "rules/statistics.smk"
include: "rules/validation.smk"
include: "rules/figures.smk"
include: "rules/bundle.smk"
include: "rules/apply.smk"
include: "rules/negative_control.smk"
include: "rules/comparison.smk"
include: "rules/survival.smk"
include: "rules/survival_report.smk"
include: "rules/provenance.smk"
include: "rules/run_end.smk"
# Last: gives every rule above the hash of the code it runs.
include: "rules/code.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
