"""radsnake.jobs: one entry point per rule. Reads and writes a job's files as a whole, calls
the layers below; nothing imports it (rule scripts and the warm worker call it by name).

See docs/design.md, "Package layers"."""
