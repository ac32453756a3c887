"""Witnesses: a C2SP tlog-witness of our own (``witness``), and the log's side of being
witnessed — asking witnesses to cosign and keeping their cosignatures (``witnessing``).
The rooms and the arrows between them: docs/architecture.md."""
