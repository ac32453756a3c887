"""What the read model serves, computed from the model's state: plain JSON documents.

A cycle's document holds every subject's rating — score breakdown, level, and *why*
(the rule or override that set it, with the events behind it) — the quota and
head-vs-collective status of each group, and each complaint's status. The digest
of all documents is what ``cadreledger rebuild`` prints: the same events always give
the same digest, whether the documents were rebuilt from zero or followed one batch
at a time.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from domain.cycle import Cycle
from domain.evaluation import Evaluation, Outcome
from domain.fields import format_points, text_json
from domain.judgement import allowed
from domain.levels import Level
from domain.model import Model
from ledger.canonical import canonical_bytes

# Change when the documents' shape changes: a read model written by another version is
# rebuilt rather than followed (and V9 will not compare across versions).
VIEWS_VERSION = "views/1"


def cycle_view(cycle: Cycle) -> dict[str, Any]:
    profile = cycle.profile
    return {
        "cycle": cycle.id,
        "unit": cycle.unit,
        "year": cycle.year,
        "regime": {"id": profile.id, "version": profile.version, "hash": profile.hash},
        "settings": dict(sorted(profile.settings.items())),
        "deadline": cycle.deadline.isoformat(),
        "phase": phase(cycle),
        "roles": {role: sorted(people) for role, people in sorted(cycle.roles.items())},
        "opened": cycle.opened,
        "roster": cycle.roster,
        "published": (
            {"date": cycle.published[0].isoformat(), "event": cycle.published[1]}
            if cycle.published
            else None
        ),
        "subjects": {sid: rating(cycle, ev) for sid, ev in sorted(cycle.evaluations.items())},
        "groups": groups(cycle),
        "meetings": [
            {
                "event": m.event,
                "date": m.day.isoformat(),
                "attendees": len(m.attendees),
                "comments": len(m.comments),
                "minutes": m.minutes,
                "superseded_minutes": m.superseded,
            }
            for m in cycle.meetings.values()
        ],
        "exceptions": [
            {"acts": sorted(acts), "until": until.isoformat(), "event": event}
            for acts, until, event in cycle.exceptions
        ],
    }


def rating(cycle: Cycle, ev: Evaluation) -> dict[str, Any]:
    """One subject's current rating and how it came to be."""
    subject = ev.subject
    tally = ev.tally
    scored = ev.corrected or tally
    forced, highest, why = allowed(cycle, ev)
    return {
        "name": subject.name,
        "kind": subject.kind,
        "group": subject.group,
        "leader": subject.leader,
        "head_of": subject.head_of,
        "self_assessment": ev.self_assessment,
        "self_score": (
            {"general": format_points(ev.self_scores[0]), "tasks": format_points(ev.self_scores[1])}
            if ev.self_scores
            else None
        ),
        "ballots": len(ev.ballots),
        "amended_ballots": sum(1 for b in ev.ballots.values() if b.amendments),
        "comments": len(ev.comments),
        "score": (
            {
                "general": format_points(tally["general"]) if tally else None,
                "tasks": format_points(tally["tasks"]) if tally else None,
                "total": format_points(scored["total"]),
                "tally": tally["event"] if tally else None,
                "corrected_by": ev.corrected["event"] if ev.corrected else None,
            }
            if scored
            else None
        ),
        "rules_allow": {
            "forced": forced.value if forced else None,
            "highest": highest.value,
            "why": why,
        },
        "proposal": outcome(ev.proposal),
        "decision": outcome(ev.decision),
        "superseded": [outcome(o) for o in ev.superseded],
        "level": ev.decision.level.value if ev.decision else None,
        "status": status(ev),
        "evidence": [{"kind": e.kind, "event": e.event, **e.detail} for e in ev.evidence],
        "conflicts": sorted(ev.conflicts),
        "notice": ev.notice,
        "complaints": [
            {
                "event": c.event,
                "status": c.status,
                "filed": c.filed.isoformat(),
                "against": c.against,
                "appeal_of": c.appeal_of,
                "accepted": c.accepted.isoformat() if c.accepted else None,
                "complex": c.complex,
                "resolved": c.resolved.isoformat() if c.resolved else None,
                "resolution": c.resolution,
            }
            for c in ev.complaints.values()
        ],
    }


def outcome(o: Outcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    # A sealed reason stays a commitment here: read models never hold personal texts.
    return {"level": o.level.value, "event": o.event, "why": o.why, "reason": text_json(o.reason)}


def status(ev: Evaluation) -> str:
    """Where a subject stands, in the order the process runs."""
    if ev.superseded:
        return "re-decided"
    for done, name in (
        (ev.decision, "decided"),
        (ev.proposal, "proposed"),
        (ev.tally, "tallied"),
        (ev.ballots, "scoring"),
        (ev.meetings, "reviewed"),
        (ev.self_assessment, "self-assessed"),
    ):
        if done:
            return name
    return "listed"


def phase(cycle: Cycle) -> str:
    if cycle.roster is None:
        return "opened"
    if cycle.published:
        return "published"
    statuses = Counter(status(ev) for ev in cycle.evaluations.values())
    return max(statuses, key=lambda s: (statuses[s], s)) if statuses else "listed"


def groups(cycle: Cycle) -> dict[str, Any]:
    """Per comparable group: level counts, the HTXS cap, and heads against collectives."""
    found: dict[str, Any] = {}
    for group in sorted({ev.subject.group for ev in cycle.evaluations.values()}):
        members = [ev for ev in cycle.evaluations.values() if ev.subject.group == group]
        decided = Counter(ev.decision.level.value for ev in members if ev.decision)
        current = Counter(ev.current.value for ev in members if ev.current)
        exception = group in cycle.quota_exceptions
        cap = cycle.profile.quota_cap(current.get(Level.HTT.value, 0), exception)
        found[group] = {
            "members": len(members),
            "decided": dict(sorted(decided.items())),
            "current": dict(sorted(current.items())),
            "htxs_cap": cap,
            "quota_exception": cycle.quota_exceptions.get(group),
            "within_quota": cap is None or decided.get(Level.HTXS.value, 0) <= cap,
        }
    heads = []
    for ev in cycle.evaluations.values():
        collective_id = ev.subject.head_of
        if collective_id is None:
            continue
        collective = cycle.evaluations[collective_id]
        head_level, collective_level = ev.current, collective.current
        heads.append(
            {
                "head": ev.subject.id,
                "collective": collective_id,
                "head_level": head_level.value if head_level else None,
                "collective_level": collective_level.value if collective_level else None,
                "ok": head_level is None
                or collective_level is None
                or head_level.rank <= collective_level.rank,
            }
        )
    return {"groups": found, "heads": heads}


def documents(model: Model, *, cycles: bool = True) -> dict[str, Any]:
    """Every document the read model holds, keyed as it stores them (``cycles=False``:
    all but the cycles')."""
    docs: dict[str, Any] = {"registry": model.registry.to_doc()}
    if cycles:
        docs.update(cycle_documents(model))
    if model.refused:  # as the follower writes it: only once there is something
        docs["refused"] = [v.__dict__ for v in model.refused]
    return docs


def cycle_documents(model: Model) -> dict[str, Any]:
    return {f"cycle/{cycle_id}": cycle_view(cycle) for cycle_id, cycle in model.cycles.items()}


def encoded(docs: Mapping[str, Any]) -> dict[str, bytes]:
    """Each document's RFC 8785 bytes: what the read model stores, and the digest covers."""
    return {name: canonical_bytes(doc) for name, doc in docs.items()}


def digest(docs: Mapping[str, Any]) -> str:
    """SHA-256 over the RFC 8785 form of all documents: equal state, equal digest."""
    return encoded_digest(encoded(docs))


def encoded_digest(texts: Mapping[str, bytes]) -> str:
    """``digest`` of documents already ``encoded``: RFC 8785 is compositional, so the
    form of the object holding them all is their names' and their own forms, joined in
    the order of the names' UTF-16 code units. (A rebuild encodes each document once,
    for the table and the digest both.)"""
    found = hashlib.sha256(b"{")
    names = sorted(texts, key=lambda name: name.encode("utf-16-be"))
    for i, name in enumerate(names):
        found.update((b"," if i else b"") + canonical_bytes(name) + b":")
        found.update(texts[name])  # hundreds of MB in all: hashed where it lies, not joined
    found.update(b"}")
    return found.hexdigest()
