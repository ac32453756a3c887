"""cadreledger: wiring of the ledger, the domain and the HTTP service (config, service, CLI)."""

__version__ = "0.1.0"
