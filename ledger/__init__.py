"""A generic tamper-evident log: canonical statements, Ed25519, hash chains, an RFC 6962
Merkle tree in tiles, C2SP checkpoints, receipts and a verifier. Knows nothing of cadres:
it imports no other room of the project (docs/architecture.md)."""
