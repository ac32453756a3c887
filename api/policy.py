"""Who may read what (phân quyền): one rule per endpoint, decided on every request.

Roles come from two places. The registry's standing roles (registrar, organiser,
inspector, auditor, integrator, admin) hold across the organisation; a cycle's own
roles (authority, advisory body, chair, scoring panel, inspection committee) hold
within that cycle. A cadre is entitled to their own evaluation, and a complainant to
their own case (the person who answers for the evaluation: themselves, or the head
of a collective). An integrator reads only the cycles an operator granted it.

Unpublished scores stay within the cycle: before a cycle's result is published only
its own roles and the standing inspectors, auditors and admins see its ratings; once
published, every signed-in member of the organisation sees them. Timelines (who
scored what, when) never leave the cycle's insiders.

An endpoint without a rule here is refused to everyone: new endpoints fail closed
until someone decides who may use them (tests/service/test_access.py checks every route).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from access.tokens import OVERSIGHT
from domain.cycle import ADVISORY, AUTHORITY, CHAIR, INSPECTION, Cycle
from domain.model import Model
from domain.registry import ROOT

INTEGRATOR, ADMIN = "integrator", "admin"
COMPLAINT_HANDLERS = (AUTHORITY, ADVISORY, CHAIR, INSPECTION)


@dataclass(frozen=True)
class Identity:
    """A signed-in person as of this request."""

    person: str
    roles: frozenset[str]  # standing roles, now
    grants: frozenset[str]  # cycles an integrator may read

    @property
    def oversees(self) -> bool:
        return bool(self.roles & OVERSIGHT)


@dataclass(frozen=True)
class Ask:
    """One request as a rule sees it."""

    who: Identity | None
    path: Mapping[str, str]
    query: Mapping[str, str]
    model: Callable[[], Model | None]  # the ledger's current state, read on demand
    route: str = ""  # the route's path template, e.g. "/v1/cycles/{cycle}"


Rule = Callable[[Ask], bool]


def public(ask: Ask) -> bool:
    return True


def signed_in(ask: Ask) -> bool:
    return ask.who is not None


def log_reader(ask: Ask) -> bool:
    """The whole log, every statement in it: oversight only."""
    return ask.who is not None and ask.who.oversees


def feed_reader(ask: Ask) -> bool:
    """The event feed: oversight, or an integrator asking for a cycle it was granted."""
    who = ask.who
    if who is None:
        return False
    if who.oversees:
        return True
    return INTEGRATOR in who.roles and ask.query.get("cycle") in who.grants


def cycle_results(ask: Ask) -> bool:
    """A cycle's ratings now: its insiders; everyone signed in once it is published.
    (A past state, ``?at=``, may show scores from before publication: insiders only.)"""
    cycle = _cycle(ask)
    if cycle is not None and cycle.published and "at" not in ask.query and ask.who:
        return True
    return insider(ask)


def insider(ask: Ask) -> bool:
    """Oversight, or any of the cycle's own roles. (An unknown cycle passes, so that
    the endpoint can answer 404 to those who could have seen it.)"""
    who = ask.who
    if who is None:
        return False
    if who.oversees:
        return True
    cycle = _cycle(ask)
    return cycle is None or _in_roles(who, cycle)


def cadre_reader(ask: Ask) -> bool:
    """A cadre's page: the cycle's insiders, and the cadre themselves."""
    return insider(ask) or _owns(ask, ask.path.get("cadre", ""))


def entries_reader(ask: Ask) -> bool:
    """A cycle's signed acts, verbatim: its insiders; a cadre — or whoever answers for
    the subject, so the complainant about that result — with ``?cadre=`` themselves: the
    cycle's own events and their own, what their replay verifies. Never another
    subject's, nor the whole cycle's (no ``cadre``)."""
    return insider(ask) or _owns(ask, ask.query.get("cadre", ""))


def bundle_reader(ask: Ask) -> bool:
    """A subject's case bundle (the cycle's evidence bundle, focused on them): oversight
    and those who handle complaints only. A bundle must carry every subject's signed acts
    to be replayed (the group's quota and the head-vs-collective rule read them all), so
    it would show anyone else other people's complaints and discipline evidence, which
    stay with oversight, handlers and the person concerned."""
    return complaint_handler(ask)


def personal_bundle_reader(ask: Ask) -> bool:
    """A cadre's personal bundle (the cycle's own events and theirs, with their proofs
    and the registry's): those who handle complaints, and the cadre themselves (for a
    collective, its head) — never another cadre, whatever else they may read."""
    return complaint_handler(ask) or _owns(ask, ask.path.get("cadre", ""))


def fairness_reader(ask: Ask) -> bool:
    """A cycle's fairness evidence: its insiders; a cadre, with ``?cadre=`` themselves,
    the evidence about their own evaluation (as their own timeline shows it)."""
    return insider(ask) or _owns(ask, ask.query.get("cadre", ""))


def complaint_handler(ask: Ask) -> bool:
    """Every complaint of a cycle: oversight and those who handle complaints."""
    who, cycle = ask.who, _cycle(ask)
    if who is None:
        return False
    if who.oversees or cycle is None:
        return True
    return any(who.person in cycle.roles[role] for role in COMPLAINT_HANDLERS)


def complaint_reader(ask: Ask) -> bool:
    """One complaint: its handlers, and the complainant."""
    if complaint_handler(ask):
        return True
    cycle, event = _cycle(ask), ask.path.get("complaint", "")
    if cycle is None:
        return False
    return any(event in ev.complaints and _owns(ask, sid) for sid, ev in cycle.evaluations.items())


CADRE_PAGES = frozenset(
    {"/v1/cycles/{cycle}/cadres/{cadre}", "/v1/cycles/{cycle}/cadres/{cadre}/timeline"}
)
FAIRNESS = "/v1/cycles/{cycle}/fairness"
ENTRIES = "/v1/cycles/{cycle}/entries"
COMPLAINT_CASE = "/v1/cycles/{cycle}/complaints/{complaint}"


def text_scope(ask: Ask) -> frozenset[str] | None:
    """Whose personal texts (comments, reasons, grounds) this request may see opened:
    None for all of them (the cycle's insiders), else the subjects whose texts open — a
    cadre's own record on their own page or their own fairness evidence, a
    complainant's on their own case — and nobody's anywhere else (a colleague reading
    published levels, a cadre passing ``?cadre=<own id>`` to another route)."""
    if insider(ask):
        return None
    if ask.route in CADRE_PAGES:
        return _own(ask, ask.path.get("cadre", ""))
    if ask.route in (FAIRNESS, ENTRIES):
        return _own(ask, ask.query.get("cadre", ""))
    cycle = _cycle(ask)
    if ask.route == COMPLAINT_CASE and cycle is not None:
        event = ask.path.get("complaint", "")
        return frozenset(
            sid
            for sid, ev in cycle.evaluations.items()
            if event in ev.complaints and _owns(ask, sid)
        )
    return frozenset()


def sees_complaints(ask: Ask) -> bool:
    """Complaints in a cycle document (complainant, status): oversight and those who
    handle complaints; the person concerned sees their own (``subjects_owned``)."""
    return complaint_handler(ask)


def sees_discipline(ask: Ask) -> bool:
    """Discipline and other evidence, conflicts of interest, the personal reasons a
    level was capped: the cycle's insiders; the person concerned sees their own."""
    return insider(ask)


def subjects_owned(ask: Ask) -> frozenset[str]:
    """The subjects of the cycle whose evaluation the caller answers for."""
    cycle = _cycle(ask)
    if ask.who is None or cycle is None:
        return frozenset()
    return frozenset(sid for sid in cycle.evaluations if cycle.owner(sid) == ask.who.person)


def admin(ask: Ask) -> bool:
    return ask.who is not None and bool(ask.who.roles & {ROOT, ADMIN})


def integrator(ask: Ask) -> bool:
    return ask.who is not None and bool(ask.who.roles & {ROOT, ADMIN, INTEGRATOR})


def may_see_results(who: Identity | None, cycle: Cycle) -> bool:
    """For lists that span cycles (a unit's page): which cycles' levels to show."""
    if who is None:
        return False
    return who.oversees or bool(cycle.published) or _in_roles(who, cycle)


RULES: dict[tuple[str, str], Rule] = {
    # The log's own face: what witnesses, monitors and clients need, and nothing personal.
    ("GET", "/v1/log/checkpoint"): public,
    ("GET", "/v1/log/key"): public,
    ("GET", "/v1/log/proof/inclusion"): public,
    ("GET", "/v1/log/proof/consistency"): public,
    ("GET", "/v1/log/checkpoint/cosigned"): public,
    # C2SP tlog-tiles: tree hashes and event hashes only (api/tiles.py).
    ("GET", "/v1/log/tile/{level}/{index}"): public,
    ("GET", "/v1/log/tile/entries/{bundle}"): public,
    ("GET", "/problems/{slug}"): public,
    ("GET", "/"): public,  # a redirect to the web UI
    ("GET", "/healthz"): public,
    ("GET", "/readyz"): public,
    ("GET", "/metrics"): public,
    # A signed statement authenticates itself: the ledger checks the signer's key.
    ("POST", "/v1/statements"): public,
    ("POST", "/v1/webhooks/{webhook}/secret"): public,  # a signed request, too
    ("GET", "/v1/webhooks/{webhook}/key"): public,  # a public key, per endpoint
    ("POST", "/v1/auth/tokens"): public,
    ("POST", "/v1/auth/session"): public,
    ("DELETE", "/v1/auth/session"): public,
    ("GET", "/v1/auth/whoami"): signed_in,
    # Everything that carries statements.
    ("GET", "/v1/log/entries"): log_reader,
    ("GET", "/v1/log/tile/envelopes/{bundle}"): log_reader,  # the same envelopes, as tiles
    ("GET", "/v1/events"): feed_reader,
    ("GET", "/v1/events/stream"): feed_reader,
    # ... and the route itself lets in only the registration's registrant and admins.
    ("GET", "/v1/webhooks/{webhook}"): integrator,
    ("GET", "/v1/webhooks/{webhook}/deliveries"): integrator,
    # The evaluation.
    ("GET", "/v1/regimes"): signed_in,
    ("GET", "/v1/cycles"): signed_in,
    ("GET", "/v1/cycles/{cycle}"): cycle_results,
    ("GET", "/v1/cycles/{cycle}/ratings"): cycle_results,
    ("GET", "/v1/cycles/{cycle}/timeline"): insider,
    ("GET", "/v1/cycles/{cycle}/cadres/{cadre}"): cadre_reader,
    ("GET", "/v1/cycles/{cycle}/cadres/{cadre}/timeline"): cadre_reader,
    ("GET", "/v1/cycles/{cycle}/entries"): entries_reader,  # the signed acts, verbatim
    ("GET", "/v1/cycles/{cycle}/cadres/{cadre}/bundle"): bundle_reader,
    ("GET", "/v1/cycles/{cycle}/cadres/{cadre}/personal-bundle"): personal_bundle_reader,
    ("GET", "/v1/cycles/{cycle}/fairness"): fairness_reader,
    ("GET", "/v1/cycles/{cycle}/complaints"): complaint_handler,
    ("GET", "/v1/cycles/{cycle}/complaints/{complaint}"): complaint_reader,
    ("GET", "/v1/units/{unit}"): signed_in,  # lists only the cycles the caller may see
    ("GET", "/v1/people/{person}"): signed_in,
}


_CONVERTOR = re.compile(r":\w+}")


def rule_for(method: str, path: str) -> Rule | None:
    if path.startswith("/ui"):  # the web UI's pages are static; their data comes from /v1
        return public
    path = _CONVERTOR.sub("}", path)  # "{index:path}" is "{index}" in the document
    return RULES.get(("GET" if method == "HEAD" else method, path))


def _cycle(ask: Ask) -> Cycle | None:
    model = ask.model()
    return model.cycles.get(ask.path.get("cycle", "")) if model else None


def _in_roles(who: Identity, cycle: Cycle) -> bool:
    return any(who.person in people for people in cycle.roles.values())


def _own(ask: Ask, subject: str) -> frozenset[str]:
    return frozenset({subject}) if _owns(ask, subject) else frozenset()


def _owns(ask: Ask, subject: str) -> bool:
    cycle = _cycle(ask)
    return ask.who is not None and cycle is not None and cycle.owner(subject) == ask.who.person
