"""Identities and keys (danh tính và khóa): who may sign, with which key, in which role.

The root of trust is fixed at the log's genesis: one or more root keys. The root
grants the registrar role; registrars register people and their keys, rotate and
revoke them, and grant the other standing roles. Every statement must be signed by
a key registered to its actor, valid when it was signed and not revoked before it
reached the log.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.acts import Act
from domain.fields import refuse_field
from domain.messages import act_type, existing, refusal
from domain.messages import role as role_term
from domain.problems import (
    KEY_NOT_YET_VALID,
    KEY_REVOKED,
    NOT_AUTHORISED,
    REVOCATION_BACKDATED,
    UNKNOWN_KEY,
    UNKNOWN_REFERENCE,
    WEAK_KEY,
    require_reason,
)
from ledger.ed25519 import public_key_problem
from ledger.keys import KeyFormatError, VerifierKey

ROOT = "root"
REGISTRAR = "registrar"
# Standing roles, beyond those a cycle assigns for itself.
STANDING_ROLES = ("registrar", "organiser", "inspector", "auditor", "integrator", "admin")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EVENT = re.compile(r"[0-9a-f]{64}")
MAX_DISOWNED = 1000  # acts one revocation may name (a statement's size is bounded)


@dataclass
class KeyRecord:
    text: str
    valid_from: datetime
    registered_by: str  # event
    registered_position: int = -1  # -1: at genesis
    revoked_effective: datetime | None = None
    revoked_by: str | None = None  # event
    revoked_position: int | None = None
    # The event hashes of acts of this key the revocation disowns (logged at or after
    # ``revoked_effective``, before the revocation): named as evidence, never undone.
    revoked_disowns: tuple[str, ...] = ()


@dataclass
class Person:
    id: str
    name: str
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    roles: set[str] = field(default_factory=set)
    # (position, role, granted?) in log order: what the person held at any earlier point
    grants: list[tuple[int, str, bool]] = field(default_factory=list)
    # Who they are related to (quan hệ), from their side: other person → "manager" (the
    # other is their direct manager), "subordinate", "spouse" or "relative".
    relations: dict[str, str] = field(default_factory=dict)

    def roles_before(self, position: int) -> set[str]:
        held = {ROOT} if ROOT in self.roles else set()
        for at, role, granted in self.grants:
            if at >= position:
                break
            (held.add if granted else held.discard)(role)
        return held


@dataclass
class Unit:
    id: str
    name: str
    parent: str | None


RELATION_KINDS = ("manager", "spouse", "relative")


class Registry:
    def __init__(self, root_keys: Iterable[str]) -> None:
        self.people: dict[str, Person] = {}
        self.units: dict[str, Unit] = {}
        self._shared: set[str] = set()  # in a fork: people not yet copied
        for text in root_keys:
            name = key_name(text)
            person = self.people.setdefault(name, Person(name, "root of trust"))
            person.keys[text] = KeyRecord(text, EPOCH, "genesis")
            person.roles.add(ROOT)

    def fork(self) -> Registry:
        """A copy for a batch's draft: each person is copied when the draft changes them."""
        twin = copy.copy(self)
        twin.people, twin.units = dict(self.people), dict(self.units)
        twin._shared = set(self.people)
        return twin

    # -- checks every act passes ------------------------------------------------------
    # They hold the act to the registry as it stood at the act's position, so that a
    # registry from later in the log (the projector's) can judge an earlier act: what
    # "as of" replays of one cycle rely on, instead of replaying the registry's stream.

    def check_signer(self, act: Act) -> None:
        person = self.people.get(act.actor)
        record = person.keys.get(act.signer) if person else None
        if record is None or record.registered_position >= act.position:
            raise refusal(
                UNKNOWN_KEY,
                "key.not_registered",
                {"actor": act.actor},
                signer=act.signer,
                actor=act.actor,
            )
        revoked = record.revoked_position
        if record.revoked_by is not None and revoked is not None and revoked < act.position:
            raise refusal(
                KEY_REVOKED,
                "key.revoked",
                {"revoked_by": record.revoked_by},
                actor=act.actor,
                event=record.revoked_by[:12] + "…",
            )
        if act.time < record.valid_from:
            raise refusal(KEY_NOT_YET_VALID, "key.not_yet_valid", since=record.valid_from)

    def has_role(self, person: str, *roles: str, before: int | None = None) -> bool:
        found = self.people.get(person)
        if found is None:
            return False
        held = found.roles if before is None else found.roles_before(before)
        return bool(held.intersection((ROOT, *roles)))

    def require_role(self, act: Act, *roles: str) -> None:
        if not self.has_role(act.actor, *roles, before=act.position):
            raise refusal(
                NOT_AUTHORISED,
                "registry.not_authorised",
                {"needed": [ROOT, *roles]},
                actor=act.actor,
                act=act_type(act.type),
                needed=[role_term(name) for name in (ROOT, *roles)],
            )

    def person(self, pid: str) -> Person:
        """A registered person, ready to be changed."""
        if pid in self._shared:
            self._shared.discard(pid)
            self.people[pid] = copy.deepcopy(self.people[pid])
        found = self.people.get(pid)
        if found is None:
            raise refusal(UNKNOWN_REFERENCE, "person.unknown", {"person": pid}, person=pid)
        return found

    # -- the registry's own statements ------------------------------------------------

    def person_registered(self, act: Act) -> None:
        self.require_role(act, REGISTRAR)
        body = act.body
        pid, name, key = body.id("person"), body.label("name"), _key(act, "key")
        valid_from = _valid_from(act)
        if pid in self.people:
            raise existing("person.exists", person=pid)
        if key_name(key) != pid:
            refuse_field("key", "key.name", person=pid)
        record = KeyRecord(key, valid_from, act.event, act.position)
        self.people[pid] = Person(pid, name, {key: record})

    def key_registered(self, act: Act) -> None:
        self.require_role(act, REGISTRAR)
        body = act.body
        person, key = self.person(body.id("person")), _key(act, "key")
        valid_from = _valid_from(act)
        if key_name(key) != person.id:
            refuse_field("key", "key.name", person=person.id)
        if key in person.keys:
            raise existing("key.exists")
        person.keys[key] = KeyRecord(key, valid_from, act.event, act.position)

    def key_revoked(self, act: Act, last_use: tuple[datetime, str] | None = None) -> None:
        """By a registrar, or by the holder (a person may always disown a lost key).

        ``effective`` (when the key was lost) may be earlier than the revocation reaches
        the log, not later than the act's own time. If the key signed acts logged at or
        after it (``last_use``: the log time and event of the key's latest act, as far
        as the model knows), the revocation must name them in ``disowns``. They stay
        admitted — a revocation undoes nothing — and the verifier reports them as
        evidence of a compromise reported late."""
        body = act.body
        person = self.person(body.id("person"))
        if person.id != act.actor:
            self.require_role(act, REGISTRAR)
        key = _key(act, "key")
        reason = body.text("reason")
        require_reason(reason)
        effective = _time(act, "effective") if body.has("effective") else act.time
        # "From now" by the signer's clock (within the clock skew of the log's) is now.
        if effective > max(act.time, act.issued_at):
            refuse_field("effective", "key.effective_late")
        effective = min(effective, act.time)
        disowns = _disowns(act)
        record = person.keys.get(key)
        if record is None:
            raise refusal(UNKNOWN_REFERENCE, "key.unknown", person=person.id)
        if record.revoked_by is not None:
            raise existing("key.revoked_exists")
        if last_use is not None and last_use[0] >= effective and not disowns:
            used, event = last_use
            raise refusal(
                REVOCATION_BACKDATED,
                "key.revocation_backdated",
                {"field": "effective", "last_use": used.isoformat(), "event": event},
                event=event,
                used=used,
                effective=effective,
            )
        record.revoked_effective, record.revoked_by = effective, act.event
        record.revoked_position = act.position
        record.revoked_disowns = disowns

    def role_granted(self, act: Act) -> None:
        role = act.body.choice("role", STANDING_ROLES)
        # Only the root makes registrars; registrars grant the other standing roles.
        self.require_role(act, *(() if role == REGISTRAR else (REGISTRAR,)))
        person = self.person(act.body.id("person"))
        if role in person.roles:
            raise existing("standing_role.exists", role=role_term(role))
        person.roles.add(role)
        person.grants.append((act.position, role, True))

    def role_revoked(self, act: Act) -> None:
        role = act.body.choice("role", STANDING_ROLES)
        self.require_role(act, *(() if role == REGISTRAR else (REGISTRAR,)))
        person = self.person(act.body.id("person"))
        if role not in person.roles:
            raise refusal(
                UNKNOWN_REFERENCE, "standing_role.not_held", person=person.id, role=role_term(role)
            )
        person.roles.discard(role)
        person.grants.append((act.position, role, False))

    def unit_registered(self, act: Act) -> None:
        self.require_role(act, REGISTRAR, "organiser")
        body = act.body
        uid, name = body.id("unit"), body.label("name")
        parent = body.id("parent") if body.has("parent") else None
        if uid in self.units:
            raise existing("unit.exists", unit=uid)
        if parent is not None and parent not in self.units:
            raise refusal(UNKNOWN_REFERENCE, "unit.no_parent", unit=parent)
        self.units[uid] = Unit(uid, name, parent)

    def relation_recorded(self, act: Act) -> None:
        """A relation the registry records (quan hệ: cấp trên trực tiếp, vợ/chồng, người
        thân), so that a conflict nobody declared can still be seen: ``related`` is
        ``person``'s direct manager (``kind: manager``), spouse or relative."""
        self.require_role(act, REGISTRAR)
        body = act.body
        kind = body.choice("kind", RELATION_KINDS)
        person, related = self.person(body.id("person")), self.person(body.id("related"))
        if person.id == related.id:
            refuse_field("related", "relation.self")
        if related.id in person.relations:
            raise existing("relation.exists", person=person.id, related=related.id)
        person.relations[related.id] = kind
        related.relations[person.id] = "subordinate" if kind == "manager" else kind

    def to_doc(self) -> dict[str, object]:
        return {
            "people": {
                p.id: {
                    "name": p.name,
                    "roles": sorted(p.roles),
                    "keys": [
                        {
                            "key": k.text,
                            "valid_from": k.valid_from.isoformat(),
                            "revoked_by": k.revoked_by,
                        }
                        for k in p.keys.values()
                    ],
                }
                for p in sorted(self.people.values(), key=lambda p: p.id)
            },
            "units": {
                u.id: {"name": u.name, "parent": u.parent}
                for u in sorted(self.units.values(), key=lambda u: u.id)
            },
        }


def key_name(text: str) -> str:
    """The name part of a C2SP verifier key ``name+keyid+base64``."""
    return text.split("+", 1)[0]


def _key(act: Act, name: str) -> str:
    """An Ed25519 verifier key as the ledger reads it (``VerifierKey.parse``: name, key ID,
    type and length), spelt as the ledger spells it, so that it can match a signer."""
    value = act.body.raw(name)
    try:
        key = VerifierKey.parse(value) if isinstance(value, str) else None
    except KeyFormatError:
        key = None
    if key is None or key.text != value:
        refuse_field(name, "key.format")
    # Only keys every Ed25519 verifier treats alike (docs/SPEC.md §2): with a weak key
    # its holder could make signatures one verifier accepts and another refuses.
    weakness = public_key_problem(key.public)
    if weakness is not None:
        raise refusal(WEAK_KEY, f"key.weak.{weakness}", {"field": name}, field=name)
    return str(value)


def _time(act: Act, name: str) -> datetime:
    value = act.body.raw(name)
    try:
        if not isinstance(value, str) or not value.endswith("Z"):
            raise ValueError(value)
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        refuse_field(name, "field.time")


def _disowns(act: Act) -> tuple[str, ...]:
    """The event hashes a revocation names as disowned (empty if none)."""
    if not act.body.has("disowns"):
        return ()
    value = act.body.raw("disowns")
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_DISOWNED
        or not all(isinstance(h, str) and _EVENT.fullmatch(h) for h in value)
        or len(set(value)) != len(value)
    ):
        refuse_field("disowns", "key.disowns", most=MAX_DISOWNED)
    return tuple(value)


def _valid_from(act: Act) -> datetime:
    return _time(act, "valid_from") if act.body.has("valid_from") else act.time
