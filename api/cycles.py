"""The evaluation's read endpoints: regimes, cycles, ratings, timelines, complaints.

Current state comes from the read model, caught up with the log before each read (a
client sees its own accepted statements). ``at`` — a log position (the state after
that event) or an RFC 3339 time (the acts signed by then) — instead replays the
cycle's acts through the rules, as the writer judged them then.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response

from api import schemas
from api.auth import ask_of, authenticating, reveal, who
from api.depends import LedgerDep, on_state
from api.feed import CODE, TypeQuery
from api.paging import (
    DEFAULT_LIMIT,
    LINK_HEADER,
    KeyAfter,
    Limit,
    PositionAfter,
    after_key,
    after_position,
    link_next,
)
from api.policy import may_see_results, sees_complaints, sees_discipline, subjects_owned
from api.problems import PROBLEM
from api.texts import revealing
from cadreledger.service import Ledger, entry_json
from domain.regimes import PROFILES, SUPERSEDED, profile_hash
from domain.streams import REGISTRY_STREAM
from ledger.errors import INVALID_REQUEST, NOT_FOUND, Rejected
from projections.fairness import judge_sealed_reasons
from projections.history import Step, cycle_streams
from projections.views import cycle_view

# What ``_moment`` reads, stated for the schema: a position in decimal, or an RFC 3339
# time (``format: date-time``); nothing else, the empty string included.
AT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": "^(0|[1-9][0-9]{0,15})$"},
        {"type": "string", "format": "date-time", "maxLength": 40},
    ]
}
At = Annotated[
    str | None,
    Query(
        max_length=40,
        description="a log position (the state after that event) or an RFC 3339 time "
        "(the state from the acts the log admitted at or before it: their logged_at)",
        examples=["120", "2026-12-10T09:00:00Z"],
        json_schema_extra=AT_SCHEMA,
    ),
]

BUNDLE_TYPE = "application/vnd.cadreledger.bundle+json"
PERSONAL_BUNDLE_TYPE = "application/vnd.cadreledger.personal-bundle+json"

P = ParamSpec("P")
T = TypeVar("T")
Act = TypeVar("Act")  # an act as a page lists it: its JSON, or a replay's step

# Replays and whole-cycle reads take turns on one thread of their own. They hold the
# GIL, so running several at once buys no speed; and each holds a whole cycle's acts
# while it runs. Spread over the server's many worker threads, glibc gives each thread
# its own arena and keeps each arena's peak, so the service's memory would follow the
# largest cycle times the number of threads (the load drill saw it climb with the log).
_REPLAYS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay")


def _in_turn(endpoint: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """``endpoint`` run on the replay thread (FastAPI reads the wrapped signature)."""

    @functools.wraps(endpoint)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(contextvars.copy_context().run, endpoint, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(_REPLAYS, call)

    return run


# Sealed texts (comments, reasons, grounds) come out opened: api/texts.py.
router = APIRouter(prefix="/v1", tags=["evaluation"], route_class=revealing(reveal))
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: PROBLEM}


def found(model: type[schemas.Open], **extra: Any) -> dict[int | str, dict[str, Any]]:
    return {**schemas.ok(model, **extra), **_NOT_FOUND}


def opener(request: Request, wanted: list[str]) -> dict[str, str | None]:
    """The texts of ``wanted`` this request may read (None for the rest)."""
    return {c: r.text for c, r in reveal(request, wanted).items()}


class RecentReads:
    """A reader pages through a long cycle a thousand acts at a time (the web UI's
    replay reads every page at once): the last two replays or envelope reads are kept,
    by the log position they were read at, so that each page is not a whole replay. No
    more: on a growing log every new position is a new key, and each kept replay holds
    a whole cycle (the load drill's memory bound). One per app (``create_app``); used on
    the replay thread only (``_in_turn``); what is kept is never mutated."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], Any] = {}

    def keep(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        if key not in self._kept:
            self._kept[key] = make()
            while len(self._kept) > 2:
                self._kept.pop(next(iter(self._kept)))
        value: T = self._kept[key]
        return value


RecentDep = Annotated[RecentReads, on_state("recent_reads")]


class TimelineQuery(NamedTuple):
    """What a timeline's query asks for: the moment (``at``), the statement types (as on
    the event feed), and the page after a position."""

    request: Request
    response: Response
    at: str | None
    types: list[str] | None
    after: int
    limit: int

    def page(
        self, acts: list[Act], type_of: Callable[[Act], str], position: Callable[[Act], int]
    ) -> tuple[list[Act], int | None]:
        """The page of ``acts`` (in log order) of the types asked for, and its ``next``,
        also given as the answer's ``Link``."""
        wanted = {t for item in self.types or () for t in item.split(",")}
        chosen = [a for a in acts if type_of(a) in wanted] if wanted else acts
        page, following = after_position(chosen, position, self.after, self.limit)
        link_next(self.request, self.response, following)
        return page, following


async def _timeline_query(
    request: Request,
    response: Response,
    at: At = None,
    types: TypeQuery = None,
    after: PositionAfter = -1,
    limit: Limit = DEFAULT_LIMIT,
) -> TimelineQuery:
    return TimelineQuery(request, response, at, types, after, limit)


TimelineDep = Annotated[TimelineQuery, Depends(_timeline_query)]


@router.get("/regimes", responses=schemas.ok(schemas.Regimes))
def regimes() -> dict[str, Any]:
    """Every regime profile, with the hash a cycle must pin when it opens, and the
    version that superseded it (new cycles must pin that one) with since when."""

    def replaced(key: tuple[str, int]) -> dict[str, Any] | None:
        found = SUPERSEDED.get(key)
        if found is None:
            return None
        return {"version": found.by, "since": found.since.isoformat().replace("+00:00", "Z")}

    return {
        "regimes": [
            {
                "id": rid,
                "version": version,
                "hash": profile_hash(data),
                "profile": data,
                "superseded_by": replaced((rid, version)),
            }
            for (rid, version), data in sorted(PROFILES.items())
        ]
    }


@router.get("/cycles", responses=schemas.ok(schemas.Cycles, headers=LINK_HEADER))
def cycles(
    ledger: LedgerDep,
    request: Request,
    response: Response,
    unit: Annotated[str | None, Query(pattern=CODE, description="a unit code")] = None,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    after: KeyAfter = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """The evaluation cycles, newest first, optionally of one unit or year; ``after``
    is the code of the last cycle you have."""
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
    page, following = after_key(found, lambda c: str(c["cycle"]), after, limit)
    link_next(request, response, following)
    return {"position": position, "cycles": page, "next": following}


@router.get("/cycles/{cycle}", responses=found(schemas.CycleDocument))
@_in_turn
def cycle(ledger: LedgerDep, request: Request, cycle: str, at: At = None) -> dict[str, Any]:
    """A cycle: ratings with their breakdown and why, quota and head-vs-collective
    status per group, meetings, complaints — now, or at a position or time.
    (Complaints, discipline and conflicts only for those entitled: see
    ``_for_reader``.)"""
    return _for_reader(ledger, request, _state(ledger, cycle, at))


@router.get("/cycles/{cycle}/ratings", responses=found(schemas.Ratings))
@_in_turn
def ratings(ledger: LedgerDep, request: Request, cycle: str, at: At = None) -> dict[str, Any]:
    """Every subject's score breakdown, level and why; each group's quota status."""
    doc = _for_reader(ledger, request, _state(ledger, cycle, at))
    return {k: doc[k] for k in ("cycle", "position", "regime", "phase", "subjects", "groups")}


@router.get("/cycles/{cycle}/cadres/{cadre}", responses=found(schemas.CadrePage))
@_in_turn
def cadre(ledger: LedgerDep, cycle: str, cadre: str, at: At = None) -> dict[str, Any]:
    """One cadre's rating (breakdown, why, amendments, complaints) and its history."""
    return _cadre(ledger, cycle, cadre, at, with_rating=True)


@router.get(
    "/cycles/{cycle}/cadres/{cadre}/timeline",
    responses=found(schemas.CadreTimeline, headers=LINK_HEADER),
)
@_in_turn
def cadre_timeline(ledger: LedgerDep, cycle: str, cadre: str, query: TimelineDep) -> dict[str, Any]:
    """The acts that touched one cadre (theirs and the cycle's), in log order."""
    page = _cadre(ledger, cycle, cadre, query.at, with_rating=False)
    page["timeline"], following = query.page(page["timeline"], lambda act: act["type"], _position)
    return {**page, "next": following}


def _attachment(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The answers of a route that hands out a file: the file, or not found."""
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "object"}}}},
        **_NOT_FOUND,
    }


def _file(body: bytes, media_type: str, filename: str) -> Response:
    # Not application/json: a bundle goes out byte for byte, its sealed values never
    # opened on the way (``revealing`` opens only JSON answers).
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/cycles/{cycle}/cadres/{cadre}/bundle",
    response_class=Response,
    responses=_attachment(
        BUNDLE_TYPE,
        "the cycle's evidence bundle, focused on the cadre "
        "(docs/SPEC.md §10); check it with `cadreledger verify FILE`",
    ),
)
@_in_turn
def cadre_bundle(ledger: LedgerDep, cycle: str, cadre: str) -> Response:
    """A cadre's case bundle, as ``cadreledger export --cycle C --cadre X`` writes it:
    the registry's, the cycle's and every subject's streams with their proofs, the
    pinned profile and what was served — everything ``cadreledger verify FILE``
    needs offline. Texts stay sealed (commitments only), anyone's."""
    from evidence.bundle import export, write

    now = ledger.queries.model().cycles.get(cycle)
    if now is None:
        raise _missing(cycle)
    if cadre not in now.evaluations:
        raise _missing(f"{cycle}/{cadre}")
    return _file(write(export(ledger, cycle, cadre)), BUNDLE_TYPE, f"{cycle}-{cadre}.bundle.json")


@router.get(
    "/cycles/{cycle}/cadres/{cadre}/personal-bundle",
    response_class=Response,
    responses=_attachment(
        PERSONAL_BUNDLE_TYPE,
        "the cadre's personal bundle (docs/SPEC.md §10.1): the "
        "cycle's own events and theirs, the registry's, with their proofs; check "
        "it with `cadreledger verify FILE`",
    ),
)
@_in_turn
def personal_bundle(ledger: LedgerDep, cycle: str, cadre: str) -> Response:
    """A cadre's own record to check offline, as ``cadreledger export --personal``
    writes it: only the events that touched their result (the cycle's own stream
    and theirs, as ``entries?cadre=`` gives them), the registry's events, each with
    its inclusion proof to one signed checkpoint, and the log key. Texts stay
    sealed. ``cadreledger verify FILE`` says what it checked and what it could not."""
    from evidence.personal_bundle import export_personal, write_personal

    body = write_personal(export_personal(ledger, cycle, cadre))
    return _file(body, PERSONAL_BUNDLE_TYPE, f"{cycle}-{cadre}.personal.json")


@router.get("/cycles/{cycle}/timeline", responses=found(schemas.Timeline, headers=LINK_HEADER))
@_in_turn
def timeline(
    ledger: LedgerDep, recent: RecentDep, cycle: str, query: TimelineDep
) -> dict[str, Any]:
    """Every act of the cycle in log order, each with whether the rules admit it."""
    steps, position = recent.keep(
        ("timeline", cycle, query.at, ledger.queries.model().position),
        lambda: _replayed(ledger, cycle, query.at)[1:],
    )
    page, following = query.page(steps, lambda s: s.act.type, lambda s: s.position)
    return {
        "cycle": cycle,
        "position": position,
        "timeline": [s.to_json() for s in page],
        "next": following,
    }


@router.get("/cycles/{cycle}/complaints", responses=found(schemas.Complaints, headers=LINK_HEADER))
def complaints(
    ledger: LedgerDep,
    request: Request,
    response: Response,
    cycle: str,
    after: KeyAfter = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Every complaint of the cycle with its status (filed, accepted, upheld,
    dismissed), in the order filed; ``after`` is the last complaint's event hash."""
    doc = _state(ledger, cycle, None)
    found = [
        {"cadre": sid, **c} for sid, rating in doc["subjects"].items() for c in rating["complaints"]
    ]
    found.sort(key=lambda c: (c["filed"], c["event"]))
    page, following = after_key(found, lambda c: str(c["event"]), after, limit)
    link_next(request, response, following)
    return {"cycle": cycle, "position": doc["position"], "complaints": page, "next": following}


@router.get("/cycles/{cycle}/complaints/{complaint}", responses=found(schemas.ComplaintCase))
@_in_turn
def complaint(ledger: LedgerDep, cycle: str, complaint: str) -> dict[str, Any]:
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


@router.get("/cycles/{cycle}/entries", responses=found(schemas.CycleEntries, headers=LINK_HEADER))
@_in_turn
def cycle_entries(
    ledger: LedgerDep,
    recent: RecentDep,
    request: Request,
    response: Response,
    cycle: str,
    after: PositionAfter = -1,
    limit: Limit = DEFAULT_LIMIT,
    registry: Annotated[
        bool,
        Query(description="also the registry's events (people, keys, roles), in log order"),
    ] = False,
    cadre: Annotated[
        str | None,
        Query(max_length=64, description="only the cycle's own and this cadre's events"),
    ] = None,
) -> dict[str, Any]:
    """The stored envelopes of the cycle's events after position ``after``, verbatim,
    in log order (as ``/v1/log/entries`` gives them): what a reader needs to check
    each act's signature, its stream's hash chain and its inclusion in the log.
    ``cadre`` keeps the events of the cycle's stream and that cadre's (what their
    own timeline shows). With ``registry=true`` the registry's events come too,
    and ``root_keys`` names the log's root of trust: what a reader needs to check
    that each signer's key was registered to them (the web UI's replay does)."""
    model = ledger.queries.model()
    now = model.cycles.get(cycle)
    if now is None:
        raise _missing(cycle)
    if cadre is not None and cadre not in now.evaluations:
        raise _missing(f"{cycle}/{cadre}")
    streams = cycle_streams(cycle, now.evaluations if cadre is None else [cadre])
    if registry:
        streams = [REGISTRY_STREAM, *streams]
    stop = model.position
    rows = recent.keep(
        ("entries", cycle, tuple(streams), stop),
        lambda: ledger.queries.envelopes(streams, stop),
    )
    page, following = after_position(rows, lambda row: row[0], after, limit)
    link_next(request, response, following)
    found: dict[str, Any] = {
        "cycle": cycle,
        "entries": [entry_json(row) for row in page],
        "next": following,
    }
    if registry:
        found["root_keys"] = list(ledger.root_keys)
    return found


@router.get("/cycles/{cycle}/fairness", responses=found(schemas.FairnessReport))
@_in_turn
def fairness(
    ledger: LedgerDep,
    cycle: str,
    request: Request,
    cadre: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """The cycle's signs to examine (docs/verifier.md §5) — ballots apart from the
    panel, amendments, decisions apart from the proposal or the score, retaliation,
    panel changes, formalism, time limits … — each with its severity, the person
    concerned, the statistic and threshold, and the events behind it by hash and
    position: signs, never an accusation. ``cadre`` keeps that cadre's findings;
    without it, ``scorers`` profiles each scorer of the cycle (the web UI's scorer
    page)."""
    judged = ledger.queries.fairness(cycle)
    if judged is None:
        raise _missing(cycle)
    report = judged.report
    # The sealed amendment reasons this reader may read are judged (thin, directed).
    judge_sealed_reasons(report, lambda wanted: opener(request, wanted))
    found = [f for f in report["findings"] if cadre is None or f["cadre"] == cadre]
    counts: dict[str, int] = {}
    severities: dict[str, int] = {}
    for f in found:
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
        severities[f["severity"]] = severities.get(f["severity"], 0) + 1
    return {
        "cycle": cycle,
        "position": judged.position,
        "settings": report["settings"],
        "kinds": report["kinds"],
        "counts": dict(sorted(counts.items())),
        "severities": dict(sorted(severities.items())),
        "findings": found,
        # Each scorer's profile in this cycle (ballots, mean deviation from the panel,
        # the cadres they marked up or down): about every cadre they scored, so only
        # for the whole cycle's readers, not for one cadre's.
        "scorers": report["scorers"] if cadre is None else None,
    }


@router.get("/units/{unit}", responses=found(schemas.UnitPage))
def unit(ledger: LedgerDep, unit: str, request: Request) -> dict[str, Any]:
    """A unit's ratings across its cycles: each subject's level and total, per cycle
    (with authentication on: the cycles whose results the caller may see)."""
    reader = who(request)
    visible = (lambda c: may_see_results(reader, c)) if authenticating(request) else None
    page = ledger.queries.unit(unit, visible)
    if page is None:
        raise _missing(unit)
    return page


@router.get("/people/{person}", responses=found(schemas.PersonPage))
def person(ledger: LedgerDep, person: str) -> dict[str, Any]:
    """A registered person: name, standing roles, and keys with their validity."""
    position, docs = _current(ledger, "registry")
    found = docs.get("registry", {}).get("people", {}).get(person)
    if found is None:
        raise _missing(person)
    return {"person": person, "position": position, **found}


def _current(ledger: Ledger, prefix: str) -> tuple[int, dict[str, Any]]:
    return ledger.queries.documents(prefix)


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


# The parts of a subject's rating that published results do not show: complaints stay
# with oversight, their handlers and the person concerned; discipline and other
# evidence, conflicts of interest and the personal reasons a level was capped (leave,
# discipline) with the cycle's insiders and the person concerned.
_COMPLAINTS = ("complaints",)
_DISCIPLINE = ("evidence", "conflicts")
_PUBLIC_WHY = frozenset({"thresholds"})  # the score's own reason: part of the result


def _for_reader(ledger: Ledger, request: Request, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (a cycle document) as this reader may see it: every subject's level and
    score, and each one's complaints and discipline only where the policy allows it."""
    if not authenticating(request):
        return doc
    ask = ask_of(ledger, request)
    complaints, discipline = sees_complaints(ask), sees_discipline(ask)
    if complaints and discipline:
        return doc
    own = subjects_owned(ask)
    subjects = {}
    for sid, rating in doc["subjects"].items():
        if sid in own:
            subjects[sid] = rating
            continue
        closed = dict(rating)
        withheld = [*(() if complaints else _COMPLAINTS), *(() if discipline else _DISCIPLINE)]
        for key in withheld:
            closed[key] = []
        if not discipline:
            allow = dict(closed["rules_allow"])
            allow["why"] = [w for w in allow["why"] if w.get("rule") in _PUBLIC_WHY]
            closed["rules_allow"] = allow
            withheld.append("rules_allow.why")
        closed["withheld"] = withheld
        subjects[sid] = closed
    return {**doc, "subjects": subjects}


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
    found = ledger.queries.replay(cycle, through=through, at=when, cadre=cadre)
    if found is None:
        raise _missing(cycle)
    return found


def _moment(at: str | None) -> tuple[int | None, datetime | None]:
    """``at`` as (position, None) or (None, time); both None for "now"."""
    if at is None:
        return None, None
    if at.isascii() and at.isdigit():
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


def _position(act: dict[str, Any]) -> int:
    return int(act["position"])


def _about(step: Step, events: set[str]) -> bool:
    fields = step.act.statement
    return step.event in events or any(
        fields.get(k) in events for k in ("complaint", "cause", "appeal_of")
    )


def _missing(what: str) -> Rejected:
    return Rejected(NOT_FOUND, f"Không tìm thấy {what!r}.", f"{what!r} was not found.")
