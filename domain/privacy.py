"""Whose personal data a statement's texts are (chủ thể dữ liệu), and which texts are free.

A sealed text is kept under its data subject's key, and erasing that subject's data
destroys the key. The subject is read from the signed statement itself, so nobody can
file a text under someone else:

- the cadre the statement is about (``cadre``): self-assessment reports, comments,
  ballots' amendment reasons, evidence, findings, decisions and their reasons, and
  complaints — the complainant is the cadre complaining about their own result;
- the person a registry statement is about (``person``): a key revocation's reason;
- otherwise the actor who wrote it: cycle-wide texts such as minutes and recorded
  exceptions. (A remark about one cadre belongs in a comment on that cadre, not in
  the minutes, if it is to be erasable with the cadre's data.)

Names and ids are not free texts: they say who acted and who is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.streams import REGISTRY_TYPES

# The body fields that hold free text about a person: what clients (the demo, tests)
# seal. The rules accept a sealed value in any text field.
FREE_TEXT_FIELDS = frozenset({"text", "reason", "report", "grounds", "finding"})


def data_subject(statement: Mapping[str, Any]) -> str:
    cadre = statement.get("cadre")
    if isinstance(cadre, str) and cadre:
        return cadre
    person = statement.get("person")
    if statement.get("type") in REGISTRY_TYPES and isinstance(person, str) and person:
        return person
    return str(statement["actor"])
