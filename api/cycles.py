"""The evaluation's read endpoints: regimes, cycles, ratings, timelines, complaints.

Current state comes from the read model, caught up with the log before each read (a
client sees its own accepted statements). ``at`` — a log position (the state after
that event) or an RFC 3339 time (the acts signed by then) — instead replays the
cycle's acts through the rules, as the writer judged them then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from cadreledger.service import Ledger
from domain.regimes import PROFILES, profile_hash
from ledger.errors import INVALID_REQUEST, NOT_FOUND, Rejected
from projections.history import Step, replay_cycle
from projections.views import cycle_view

At = Annotated[
    str | None,
    Query(
        max_length=40,
        description="a log position (the state after that event) or an RFC 3339 time "
        "(the state from the acts signed at or before it)",
        examples=["120", "2026-12-10T09:00:00Z"],
    ),
]


def cycles_router(ledger: Ledger, problem: dict[str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["evaluation"])
    not_found: dict[int | str, dict[str, Any]] = {404: problem}

    @router.get("/regimes")
    def regimes() -> dict[str, Any]:
        """Every regime profile, with the hash a cycle must pin when it opens."""
        return {
            "regimes": [
                {"id": rid, "version": version, "hash": profile_hash(data), "profile": data}
                for (rid, version), data in sorted(PROFILES.items())
            ]
        }

    @router.get("/cycles")
    def cycles(
        unit: Annotated[str | None, Query(max_length=64)] = None,
        year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    ) -> dict[str, Any]:
        """The evaluation cycles, newest first, optionally of one unit or year."""
        position, docs = _current(ledger, "cycle/")
        found = [
            {
                key: doc[key]
                for key in ("cycle", "unit", "year", "regime", "phase", "deadline", "published")
            }
            for doc in docs.values()
            if (unit is None or doc["unit"] == unit) and (year is None or doc["year"] == year)
        ]
        found.sort(key=lambda c: (-c["year"], c["cycle"]))
        return {"position": position, "cycles": found}

    @router.get("/cycles/{cycle}", responses=not_found)
    def cycle(cycle: str, at: At = None) -> dict[str, Any]:
        """A cycle: ratings with their breakdown and why, quota and head-vs-collective
        status per group, meetings, complaints — now, or at a position or time."""
        return _state(ledger, cycle, at)

    @router.get("/cycles/{cycle}/ratings", responses=not_found)
    def ratings(cycle: str, at: At = None) -> dict[str, Any]:
        """Every subject's score breakdown, level and why; each group's quota status."""
        doc = _state(ledger, cycle, at)
        return {k: doc[k] for k in ("cycle", "position", "regime", "phase", "subjects", "groups")}

    @router.get("/cycles/{cycle}/cadres/{cadre}", responses=not_found)
    def cadre(cycle: str, cadre: str, at: At = None) -> dict[str, Any]:
        """One cadre's rating (breakdown, why, amendments, complaints) and its history."""
        return _cadre(ledger, cycle, cadre, at, with_rating=True)

    @router.get("/cycles/{cycle}/cadres/{cadre}/timeline", responses=not_found)
    def cadre_timeline(cycle: str, cadre: str, at: At = None) -> dict[str, Any]:
        """The acts that touched one cadre (theirs and the cycle's), in log order."""
        return _cadre(ledger, cycle, cadre, at, with_rating=False)

    @router.get("/cycles/{cycle}/timeline", responses=not_found)
    def timeline(cycle: str, at: At = None) -> dict[str, Any]:
        """Every act of the cycle in log order, each with whether the rules admit it."""
        _, steps, position = _replayed(ledger, cycle, at)
        return {"cycle": cycle, "position": position, "timeline": [s.to_json() for s in steps]}

    @router.get("/cycles/{cycle}/complaints", responses=not_found)
    def complaints(cycle: str) -> dict[str, Any]:
        """Every complaint of the cycle with its status (filed, accepted, upheld, dismissed)."""
        doc = _state(ledger, cycle, None)
        found = [
            {"cadre": sid, **c}
            for sid, rating in doc["subjects"].items()
            for c in rating["complaints"]
        ]
        found.sort(key=lambda c: (c["filed"], c["event"]))
        return {"cycle": cycle, "position": doc["position"], "complaints": found}

    @router.get("/cycles/{cycle}/complaints/{complaint}", responses=not_found)
    def complaint(cycle: str, complaint: str) -> dict[str, Any]:
        """One complaint: its status and every act about it — filing, acceptance,
        resolution, and a re-classification that cites the resolution."""
        doc = _state(ledger, cycle, None)
        for sid, rating in doc["subjects"].items():
            for c in rating["complaints"]:
                if c["event"] == complaint:
                    _, steps, _ = _replayed(ledger, cycle, None, sid)
                    linked = {complaint, c["resolution"]} - {None}
                    acts = [s.to_json() for s in steps if _about(s, linked)]
                    return {"cycle": cycle, "cadre": sid, **c, "acts": acts}
        raise _missing(f"{cycle}/complaints/{complaint}")

    @router.get("/units/{unit}", responses=not_found)
    def unit(unit: str) -> dict[str, Any]:
        """A unit's ratings across its cycles: each subject's level and total, per cycle."""
        position, docs = _current(ledger, "")
        units = docs.get("registry", {}).get("units", {})
        cycles = [d for name, d in docs.items() if name.startswith("cycle/") and d["unit"] == unit]
        if unit not in units and not cycles:
            raise _missing(unit)
        return {
            "unit": unit,
            "name": units.get(unit, {}).get("name"),
            "parent": units.get(unit, {}).get("parent"),
            "position": position,
            "cycles": [
                {
                    "cycle": c["cycle"],
                    "year": c["year"],
                    "regime": c["regime"]["id"],
                    "phase": c["phase"],
                    "ratings": {
                        sid: {
                            "name": r["name"],
                            "level": r["level"],
                            "total": r["score"]["total"] if r["score"] else None,
                        }
                        for sid, r in c["subjects"].items()
                    },
                }
                for c in sorted(cycles, key=lambda c: (-c["year"], c["cycle"]))
            ],
        }

    @router.get("/people/{person}", responses=not_found)
    def person(person: str) -> dict[str, Any]:
        """A registered person: name, standing roles, and keys with their validity."""
        position, docs = _current(ledger, "registry")
        found = docs.get("registry", {}).get("people", {}).get(person)
        if found is None:
            raise _missing(person)
        return {"person": person, "position": position, **found}

    return router


def _current(ledger: Ledger, prefix: str) -> tuple[int, dict[str, Any]]:
    projector = ledger.projector
    projector.catch_up()
    return projector.read_model.position(), projector.read_model.docs(prefix)


def _state(ledger: Ledger, cycle: str, at: str | None) -> dict[str, Any]:
    """The cycle document now (the read model) or at a moment (a replay)."""
    if at is None:
        position, docs = _current(ledger, f"cycle/{cycle}")
        doc = docs.get(f"cycle/{cycle}")
        if doc is None:
            raise _missing(cycle)
        return {"position": position, **doc}
    found, _, position = _replayed(ledger, cycle, at)
    return {"position": position, **cycle_view(found)}


def _cadre(
    ledger: Ledger, cycle: str, cadre: str, at: str | None, *, with_rating: bool
) -> dict[str, Any]:
    found, steps, position = _replayed(ledger, cycle, at, cadre)
    if cadre not in found.evaluations:
        raise _missing(f"{cycle}/{cadre}")
    page: dict[str, Any] = {"cycle": cycle, "cadre": cadre, "position": position}
    if with_rating:
        page["rating"] = cycle_view(found)["subjects"][cadre]
    return {**page, "timeline": [s.to_json() for s in steps]}


def _replayed(
    ledger: Ledger, cycle: str, at: str | None, cadre: str | None = None
) -> tuple[Any, list[Step], int]:
    """The cycle replayed up to ``at``, its timeline, and the log size that covers it."""
    through, when = _moment(at)
    projector = ledger.projector
    projector.catch_up()
    now = projector.model.cycles.get(cycle)
    if now is None:
        raise _missing(cycle)
    model, steps = replay_cycle(
        ledger.store,
        projector.model.registry,
        cycle,
        list(now.evaluations),
        through=through,
        at=when,
        cadre=cadre,
    )
    found = model.cycles.get(cycle)
    if found is None:
        raise _missing(cycle)
    size = projector.model.position
    return found, steps, size if through is None else min(through + 1, size)


def _moment(at: str | None) -> tuple[int | None, datetime | None]:
    """``at`` as (position, None) or (None, time); both None for "now"."""
    if at is None:
        return None, None
    if at.isdigit():
        return int(at), None
    try:
        when = datetime.fromisoformat(at)
    except ValueError as e:
        raise Rejected(
            INVALID_REQUEST,
            f"Tham số at={at!r} phải là vị trí (số nguyên) hoặc thời điểm RFC 3339.",
            f"The parameter at={at!r} must be a log position or an RFC 3339 time.",
            field="at",
        ) from e
    return None, when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _about(step: Step, events: set[str]) -> bool:
    fields = step.act.statement
    return step.event in events or any(
        fields.get(k) in events for k in ("complaint", "cause", "appeal_of")
    )


def _missing(what: str) -> Rejected:
    return Rejected(NOT_FOUND, f"Không tìm thấy {what!r}.", f"{what!r} was not found.")
