"""The evaluation model: every act, in log order, through the rules.

``Model.handle`` admits an act or raises ``Rejected`` leaving the model unchanged
(every handler checks everything before it changes anything).
The sequencer judges a batch in a ``Draft`` (copy-on-write of what the batch
touches) and keeps it only once the batch is committed. ``Model.replay`` applies
stored acts and records, instead of raising, any that the rules would refuse: the
verifier and the projections see the same state the sequencer saw.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from datetime import datetime

from domain.acts import Act
from domain.cycle import Cycle
from domain.fields import Body, refuse_field
from domain.messages import existing, refusal
from domain.problems import PROFILE_SUPERSEDED, UNKNOWN_REFERENCE, UNKNOWN_TYPE
from domain.regimes import PROFILES, SETTING_TYPES, make_profile, profile_hash, superseded
from domain.registry import Registry
from domain.streams import REGISTRY_TYPES
from domain.webhooks import webhook_host
from ledger.errors import Rejected

REGISTRY_ACTS: dict[str, Callable[[Registry, Act], None]] = {
    "person.registered": Registry.person_registered,
    "key.registered": Registry.key_registered,
    "key.revoked": Registry.key_revoked,
    "role.granted": Registry.role_granted,
    "role.revoked": Registry.role_revoked,
    "unit.registered": Registry.unit_registered,
    "relation.recorded": Registry.relation_recorded,
}
CYCLE_ACTS: dict[str, Callable[[Cycle, Act], None]] = {
    "cycle.roster": Cycle.roster_set,
    "cycle.role_assigned": lambda c, a: c.role_assigned(a, withdraw=False),
    "cycle.role_withdrawn": lambda c, a: c.role_assigned(a, withdraw=True),
    "exception.recorded": Cycle.exception_recorded,
    "quota.exception": Cycle.quota_exception,
    "self_assessment.submitted": Cycle.self_assessed,
    "meeting.held": Cycle.meeting_held,
    "comment.made": Cycle.comment_made,
    "minutes.adopted": Cycle.minutes_adopted,
    "minutes.superseded": Cycle.minutes_superseded,
    "conflict.declared": Cycle.conflict_declared,
    "score.submitted": Cycle.score_submitted,
    "score.amended": Cycle.score_amended,
    "confidence.tallied": Cycle.confidence_tallied,
    "tally.recorded": Cycle.tally_recorded,
    "scoring.reopened": Cycle.scoring_reopened,
    "finding.recorded": Cycle.finding_recorded,
    "appraisal.proposed": Cycle.appraisal_proposed,
    "decision.issued": Cycle.decision_issued,
    "decision.revised": Cycle.decision_revised,
    "notice.sent": Cycle.notice_sent,
    "result.published": Cycle.result_published,
    "complaint.filed": Cycle.complaint_filed,
    "complaint.accepted": Cycle.complaint_accepted,
    "complaint.resolved": Cycle.complaint_resolved,
}
# Acts outside cycles that need only a standing role; their bodies are the business
# of the part of the service that uses them (webhooks, audits).
STANDING_ACTS: dict[str, str] = {
    "webhook.registered": "integrator",
    "webhook.removed": "integrator",
    "audit.reported": "auditor",
}
assert frozenset(REGISTRY_ACTS) == REGISTRY_TYPES
ACT_TYPES = frozenset(
    {*REGISTRY_ACTS, *CYCLE_ACTS, *STANDING_ACTS, "cycle.opened", "evidence.recorded"}
)


@dataclass(frozen=True)
class Violation:
    """A stored act the rules would have refused."""

    position: int
    event: str
    type: str
    problem: str
    detail_en: str
    detail_vi: str


class Model:
    def __init__(self, root_keys: Iterable[str], registry: Registry | None = None) -> None:
        """``registry``: one from later in the log, to judge only cycle acts against
        (its checks are as of each act's position; the model must not change it)."""
        self.registry = registry if registry is not None else Registry(root_keys)
        self.cycles: MutableMapping[str, Cycle] = {}
        self.violations_seen: dict[tuple[str, str], int] = {}  # (person, violation) → year
        self.position = 0  # acts applied (the log size they cover)
        self.refused: list[Violation] = []
        # Per signing key, the log time and event of its latest admitted act: what a
        # back-dated revocation is judged against (``Registry.key_revoked``).
        self.last_use: MutableMapping[str, tuple[datetime, str]] = {}

    # -- admitting one act ------------------------------------------------------------

    def handle(self, act: Act) -> None:
        kind = act.type
        if kind not in ACT_TYPES:
            raise refusal(UNKNOWN_TYPE, "unknown_type", {"known": sorted(ACT_TYPES)}, type=kind)
        self.registry.check_signer(act)
        if (cycle_act := CYCLE_ACTS.get(kind)) is not None:
            cycle_act(self._cycle_for_write(act.body.id("cycle")), act)
        elif kind == "key.revoked":
            key = act.statement.get("key")
            last = self.last_use.get(key) if isinstance(key, str) else None
            self._registry_for_write().key_revoked(act, last)
        elif (registry_act := REGISTRY_ACTS.get(kind)) is not None:
            registry_act(self._registry_for_write(), act)
        elif (role := STANDING_ACTS.get(kind)) is not None:
            self.registry.require_role(act, role)
            if kind == "webhook.registered":
                webhook_host(act.body)  # its shape; its address is the service's to judge
        elif kind == "cycle.opened":
            self._open_cycle(act)
        else:  # evidence.recorded, the one cycle act that reads across cycles
            cycle = self._cycle_for_write(act.body.id("cycle"))
            cycle.evidence_recorded(act, self.violations_seen)
            self._note_violation(cycle, act)
        self.last_use[act.signer] = (act.time, act.event)
        self.position = act.position + 1

    def replay(self, act: Act) -> Violation | None:
        """Apply a stored act; one the rules refuse is recorded and changes nothing."""
        try:
            self.handle(act)
        except Rejected as e:
            self.position = act.position + 1
            violation = Violation(
                act.position, act.event, act.type, e.problem.slug, e.detail_en, e.detail_vi
            )
            self.refused.append(violation)
            return violation
        return None

    def begin(self) -> Draft:
        return Draft(self)

    # -- what the handlers reach through (a Draft copies on first write) --------------

    def _registry_for_write(self) -> Registry:
        return self.registry

    def _cycle_for_write(self, cycle_id: str) -> Cycle:
        cycle = self.cycles.get(cycle_id)
        if cycle is None:
            raise refusal(UNKNOWN_REFERENCE, "cycle.unknown", {"field": "cycle"}, cycle=cycle_id)
        return cycle

    def _store_cycle(self, cycle: Cycle) -> None:
        self.cycles[cycle.id] = cycle

    def _open_cycle(self, act: Act) -> None:
        self.registry.require_role(act, "organiser")
        body = act.body
        cycle_id = body.id("cycle")
        if cycle_id in self.cycles:
            raise existing("cycle.exists", cycle=cycle_id)
        pinned = body.mapping("regime")
        regime, version = Body(pinned).raw("id"), Body(pinned).integer("version", 1, 10_000)
        data = PROFILES.get((str(regime), version))
        if data is None:
            known = ", ".join(f"{r} v{v}" for r, v in sorted(PROFILES))
            refuse_field("regime", "regime.unknown", known=known)
        if Body(pinned).raw("hash") != profile_hash(data):
            refuse_field(
                "regime.hash",
                "regime.hash",
                regime=regime,
                version=version,
                hash=profile_hash(data),
            )
        # A new cycle pins the version in force at the log's time: an organiser may not
        # escape what a later version added (task conditions) by pinning an older one.
        replaced = superseded(str(regime), version, act.time)
        if replaced is not None:
            current = PROFILES[(str(regime), replaced.by)]
            raise refusal(
                PROFILE_SUPERSEDED,
                "regime.superseded",
                {
                    "field": "regime",
                    "in_force": {
                        "id": regime,
                        "version": replaced.by,
                        "hash": profile_hash(current),
                    },
                },
                regime=regime,
                version=version,
                current=replaced.by,
                since=replaced.since.date(),
            )
        settings = dict(body.mapping("settings")) if body.has("settings") else {}
        for name, value in settings.items():
            types = SETTING_TYPES.get(name)
            if types is None or isinstance(value, bool) != (bool in types):
                refuse_field("settings", "setting.unknown", setting=name)
            if not isinstance(value, types):
                refuse_field("settings", "setting.type", setting=name)
        if settings.get("quota_rounding", "floor") not in ("floor", "round", "ceil"):
            refuse_field("settings", "setting.rounding")
        self._store_cycle(Cycle.open(act, make_profile(data, settings)))

    def _note_violation(self, cycle: Cycle, act: Act) -> None:
        """A discipline's violation forces KHT in one year only (ND 48/2023)."""
        violation = act.statement.get("violation")
        if act.statement.get("kind") == "discipline" and isinstance(violation, str):
            subject = str(act.statement["cadre"])
            self.violations_seen.setdefault((subject, violation), cycle.year)


class Draft(Model):
    """One batch's view of the model: what it changes is copied first, kept on ``commit``."""

    def __init__(self, base: Model) -> None:
        # A draft begun on a draft not yet committed (the writer lays out a batch while
        # the one before it commits) reads that one's state, and is committed after it
        # into the model beneath both.
        self.base: Model = base.base if isinstance(base, Draft) else base
        self.registry = base.registry
        self.cycles = dict(base.cycles)
        self.violations_seen = dict(base.violations_seen)
        self.position = base.position
        self.refused = []
        # The batch's own uses over the model's (kept on commit), not a copy per batch;
        # on a draft, over that draft's own too (the one before it is committed by now,
        # so the chain stays three deep however long the writer keeps pipelining).
        if isinstance(base, Draft):
            assert isinstance(base.last_use, ChainMap)
            self.last_use = ChainMap({}, base.last_use.maps[0], self.base.last_use)
        else:
            self.last_use = ChainMap({}, base.last_use)
        self._copied_registry = False
        self._copied: set[str] = set()

    def _registry_for_write(self) -> Registry:
        if not self._copied_registry:
            self.registry = self.registry.fork()
            self._copied_registry = True
        return self.registry

    def _cycle_for_write(self, cycle_id: str) -> Cycle:
        if cycle_id in self._copied:  # already the draft's own: nearly every act of a batch
            return self.cycles[cycle_id]
        cycle = self.cycles[cycle_id] = super()._cycle_for_write(cycle_id).fork()
        self._copied.add(cycle_id)
        return cycle

    def _store_cycle(self, cycle: Cycle) -> None:
        super()._store_cycle(cycle)
        self._copied.add(cycle.id)

    def commit(self) -> None:
        base = self.base
        base.registry, base.cycles = self.registry, self.cycles
        base.violations_seen, base.position = self.violations_seen, self.position
        assert isinstance(self.last_use, ChainMap)
        base.last_use.update(self.last_use.maps[0])
