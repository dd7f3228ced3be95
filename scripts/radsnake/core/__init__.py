"""radsnake.core: errors, the job runtime, tables, the study config, reruns by content, the
end-of-run summary and the config docs. Imports nothing else of radsnake.

See docs/design.md, "Package layers"."""
