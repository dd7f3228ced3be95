"""radsnake.imaging: per-case QC, feature extraction (and its warm worker), draft masks,
the demo cohort, the feature dictionary, robustness (ICC) and the features table.
Imports core, io and cohort.

See docs/design.md, "Package layers"."""
