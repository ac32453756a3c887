"""The evaluation's read endpoints: regimes, cycles, ratings, timelines, as of any moment.

Current state comes from the read model, caught up with the log before each read (a
client sees its own accepted statements). ``as_of`` (a log position, inclusive) or
``at`` (a time) instead replay the log's prefix through the rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from cadreledger.service import Ledger
from domain.regimes import PROFILES, profile_hash
from ledger.errors import NOT_FOUND, Rejected
from projections.history import replay_cycle
from projections.views import cycle_view

AsOf = Annotated[
    int | None, Query(ge=0, description="the state after the event at this log position")
]
At = Annotated[
    datetime | None,
    Query(description="the state from the acts signed at or before this time (RFC 3339)"),
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
    def cycle(cycle: str, as_of: AsOf = None, at: At = None) -> dict[str, Any]:
        """A cycle: ratings with their breakdown and why, quota and head-vs-collective
        status per group, complaints — now, or as of a position or time."""
        return _cycle_doc(ledger, cycle, as_of, at)

    @router.get("/cycles/{cycle}/cadres/{cadre}", responses=not_found)
    def cadre(cycle: str, cadre: str, as_of: AsOf = None, at: At = None) -> dict[str, Any]:
        """One cadre's rating and the timeline of every act that touched it."""
        model, steps = replay_cycle(
            ledger.store, ledger.root_keys, cycle, through=as_of, at=_utc(at), cadre=cadre
        )
        found = model.cycles.get(cycle)
        if found is None or cadre not in found.evaluations:
            raise _missing(f"{cycle}/{cadre}")
        view = cycle_view(found)
        return {
            "cycle": cycle,
            "cadre": cadre,
            "position": _position(ledger, as_of),
            "rating": view["subjects"][cadre],
            "timeline": [s.to_json() for s in steps],
        }

    @router.get("/cycles/{cycle}/timeline", responses=not_found)
    def timeline(cycle: str, as_of: AsOf = None, at: At = None) -> dict[str, Any]:
        """Every act of the cycle in log order, each with whether the rules admit it."""
        model, steps = replay_cycle(
            ledger.store, ledger.root_keys, cycle, through=as_of, at=_utc(at)
        )
        if cycle not in model.cycles:
            raise _missing(cycle)
        return {
            "cycle": cycle,
            "position": _position(ledger, as_of),
            "timeline": [s.to_json() for s in steps],
        }

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


def _cycle_doc(
    ledger: Ledger, cycle: str, as_of: int | None, at: datetime | None
) -> dict[str, Any]:
    if as_of is None and at is None:
        position, docs = _current(ledger, f"cycle/{cycle}")
        doc = docs.get(f"cycle/{cycle}")
        if doc is None:
            raise _missing(cycle)
        return {"position": position, **doc}
    model, _ = replay_cycle(ledger.store, ledger.root_keys, cycle, through=as_of, at=_utc(at))
    found = model.cycles.get(cycle)
    if found is None:
        raise _missing(cycle)
    return {"position": _position(ledger, as_of), **cycle_view(found)}


def _position(ledger: Ledger, as_of: int | None) -> int:
    size = ledger.size()
    return size if as_of is None else min(as_of + 1, size)


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _missing(what: str) -> Rejected:
    return Rejected(NOT_FOUND, f"Không tìm thấy {what!r}.", f"{what!r} was not found.")
