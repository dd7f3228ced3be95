"""radsnake.io.cohort_sheet: the train/test split and ComBat harmonisation. Imports core and io.

See docs/design.md, "Package layers"."""
