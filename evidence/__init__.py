"""What the log hands out to be checked elsewhere: a cycle's evidence bundle
(``bundle``), a signed audit of the whole log (``auditor``), static tiles for a plain
file server (``tile_export``). The rooms and the arrows between them: docs/architecture.md."""
