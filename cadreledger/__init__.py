"""cadreledger: wiring of the ledger, the domain and the HTTP service (config, service, CLI).

The rooms and the arrows between them: docs/architecture.md."""

__version__ = "0.1.0"
