"""Which stream a statement belongs to.

An evaluation cycle (kỳ đánh giá) has a stream of its own for cycle-wide acts (opening,
roster, minutes, decisions for the whole unit) and one stream per cadre evaluated in
it, so that each cadre's record is a hash chain a complainant can follow alone.
Identities, keys and standing roles share the ``registry`` stream, so the key history
a verifier needs is one chain. Other statements go to their actor's own stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from domain.messages import field_name, refusal
from ledger.errors import INVALID_STATEMENT

IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


REGISTRY_STREAM = "registry"
REGISTRY_TYPES = frozenset(
    {
        "person.registered",
        "key.registered",
        "key.revoked",
        "role.granted",
        "role.revoked",
        "unit.registered",
        "relation.recorded",
    }
)


def stream_for(statement: Mapping[str, Any]) -> str:
    if statement["type"] in REGISTRY_TYPES:
        return REGISTRY_STREAM
    cycle = _identifier(statement, "cycle")
    cadre = _identifier(statement, "cadre")
    if cycle and cadre:
        return f"cycle/{cycle}/cadre/{cadre}"
    if cycle:
        return f"cycle/{cycle}"
    if cadre:
        raise refusal(INVALID_STATEMENT, "stream.no_cycle", {"field": "cycle"})
    return f"actor/{statement['actor']}"


def _identifier(statement: Mapping[str, Any], field: str) -> str | None:
    value = statement.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise refusal(
            INVALID_STATEMENT, "stream.identifier", {"field": field}, field=field_name(field)
        )
    return value
