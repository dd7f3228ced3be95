"""radsnake.figures.style: every figure, in one house style. Draws from tables; imports every layer
below it, never radsnake.jobs.

See docs/design.md, "Package layers"."""
