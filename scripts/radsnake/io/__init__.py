"""radsnake.io: reading and writing the study's inputs: sheets, images, DICOM series and masks,
the cohort sheet, provenance stamps, external sets, clinical columns, PyRadiomics params.
Imports radsnake.core.

See docs/design.md, "Package layers"."""
