"""radsnake.stats.discrimination: numbers about predictions and features: discrimination (AUC, DeLong),
calibration, intervals, verdicts, evaluation, feature and clinical-model statistics.
Imports core, io, cohort and imaging.

See docs/design.md, "Package layers"."""
