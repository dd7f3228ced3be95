"""radsnake.ml: feature selection, models, fitting, validation, fit checks and bundles.
Imports core, io, cohort, imaging and stats.

See docs/design.md, "Package layers"."""
