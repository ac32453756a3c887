"""What a ledger's genesis fixed, read back from ``ledger_meta`` and checked.

Genesis records the origin, the log's verifier key, the rule set (``evaluation/1``,
or ``none`` for a bare log) and, for an evaluation ledger, the root of trust. None of
it changes afterwards, so a row that is missing, malformed or at odds with the others
was changed behind the ledger's back: opening the ledger says which row, rather than
guess around it (a rule set read as "none" would quietly switch the rules' checks
off; a key that does not parse would look like a broken installation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cadreledger.config import ConfigError
from ledger.keys import KeyFormatError, VerifierKey

RULES_VERSION = "evaluation/1"
BARE = "none"


@dataclass(frozen=True)
class Genesis:
    log_key: VerifierKey
    rules: str  # RULES_VERSION or BARE
    root_keys: list[str]

    @property
    def evaluation(self) -> bool:
        return self.rules == RULES_VERSION


def read_genesis(meta: dict[str, str]) -> Genesis:
    """The genesis rows, or ``ConfigError`` naming the first that cannot be right."""
    try:
        # Strong keys only (docs/SPEC.md §2), as for every key the registry takes.
        log_key = VerifierKey.parse(meta.get("log_key", "")).check_strong()
    except KeyFormatError as e:
        raise ConfigError(f"ledger_meta.log_key is not a verifier key: {e}") from e
    if meta.get("origin") != log_key.name:
        raise ConfigError(
            f"ledger_meta.origin {meta.get('origin')!r} is not the log key's name {log_key.name!r}"
        )
    rules = meta.get("rules", BARE)
    if rules not in (BARE, RULES_VERSION):
        raise ConfigError(f"ledger_meta.rules {rules!r} is neither {BARE!r} nor {RULES_VERSION!r}")
    if rules == BARE:
        if "root_keys" in meta:
            raise ConfigError("ledger_meta.root_keys is set but ledger_meta.rules says a bare log")
        return Genesis(log_key, rules, [])
    try:
        root_keys = json.loads(meta["root_keys"])
        if not isinstance(root_keys, list) or not root_keys:
            raise ValueError("not a non-empty list")
        for text in root_keys:
            VerifierKey.parse(str(text)).check_strong()
    except (KeyError, ValueError) as e:  # KeyFormatError and JSON errors are ValueErrors
        raise ConfigError(f"ledger_meta.root_keys is not a list of verifier keys: {e}") from e
    return Genesis(log_key, rules, [str(k) for k in root_keys])
