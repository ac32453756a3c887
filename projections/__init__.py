"""Read models rebuilt from the log's events (ratings, timelines, quotas, complaints), and the
audits V8–V9. Imports ``ledger`` and ``domain`` only (docs/architecture.md)."""
