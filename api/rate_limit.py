"""Rate limiting per identity (giới hạn tần suất): a token bucket per person or address.

A signed-in request is counted against its person (``request.state.identity``, put
there by the authentication middleware, which must therefore run first: add this
middleware before it); an anonymous one against its client address. Each bucket
holds ``burst`` tokens and refills at ``rate`` per second; a request takes one, and a
request that finds the bucket empty gets 429 with ``Retry-After`` and nothing else
happens. Every counted answer says where the caller stands in the IETF fields
``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers).
Probes (``/healthz``, ``/readyz``, ``/metrics``) are never counted.

Where the buckets are in another process (``decide``: an HTTP worker asks the writer),
an endpoint named in ``defer`` takes its request's decision itself (``Deferred``, in
the scope), with its work: the statement intake sends a statement and its bucket's key
to the writer together, one trip for both, and the writer sequences it only if a token
was there. The answers are the same: refused, the request gets the 429 (``Limited``),
and nothing is stored; an endpoint that refuses the request itself takes the decision
first, and a 429 goes before its own refusal. Told that a bucket is empty, the process
refuses that caller itself until a token can be back (``EmptyBuckets``), without asking
or doing the endpoint's work: a caller over the limit costs no signature checks.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import API_PROBLEMS, problem_response
from ledger.errors import Rejected

RATE_LIMITED = API_PROBLEMS.add("rate-limited", 429, "Quá nhiều yêu cầu", "Too many requests")
UNCOUNTED = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_BUCKETS = 100_000  # people and addresses remembered; the idlest are forgotten first
DEFERRED = "cadreledger.rate"  # the scope's key for a ``Deferred``


@dataclass(frozen=True)
class RatePolicy:
    rate: float  # tokens added per second
    burst: int  # the bucket's size: requests allowed at once after a quiet spell

    @property
    def window(self) -> int:
        """Seconds for an empty bucket to fill (the policy's ``w``)."""
        return max(1, math.ceil(self.burst / self.rate))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int  # whole tokens left after this request
    retry_after: int  # seconds until one token is back (0 when allowed)
    full_in: int  # seconds until the bucket is full again
    wait: float = 0.0  # ``retry_after`` unrounded: no token comes back sooner


class TokenBuckets:
    """Buckets by key; not thread-safe: used from the event loop only."""

    def __init__(
        self,
        policy: RatePolicy,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.max_buckets = max_buckets
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: tokens, at

    def take(self, key: str) -> Decision:
        rate, burst = self.policy.rate, self.policy.burst
        now = self.clock()
        tokens, at = self.buckets.pop(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self.buckets[key] = (tokens, now)  # the most recently seen last
        if len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)
        wait = 0.0 if allowed else (1.0 - tokens) / rate
        return Decision(
            allowed, int(tokens), math.ceil(wait), math.ceil((burst - tokens) / rate), wait
        )


class EmptyBuckets:
    """The buckets that another process (``RateLimit``'s ``decide``) said were empty, and
    until when they must stay so: no token comes back before ``wait`` has passed, and
    other callers of the same bucket only take more. A request to one of them is refused
    here with the answer the holder would give, before it costs a round trip or its
    endpoint's work (an HTTP worker parses and checks a statement before it asks)."""

    def __init__(self, clock: Callable[[], float], max_buckets: int = MAX_BUCKETS) -> None:
        self.clock = clock
        self.max_buckets = max_buckets
        self._until: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: until, full

    def remember(self, key: str, asked_at: float, decision: Decision) -> None:
        """Remember a refusal (an allowance forgets one). ``asked_at``: this clock's time
        before the holder was asked (not after: the holder decided later, and the bucket
        refills no sooner)."""
        if decision.allowed:
            self._until.pop(key, None)
            return
        self._until[key] = (asked_at + decision.wait, asked_at + decision.full_in)
        self._until.move_to_end(key)
        if len(self._until) > self.max_buckets:
            self._until.popitem(last=False)

    def decision(self, key: str) -> Decision | None:
        """The refusal the holder would give now, if the bucket is known to be empty."""
        known = self._until.get(key)
        if known is None:
            return None
        now = self.clock()
        until, full = known
        if now >= until:
            del self._until[key]
            return None
        return Decision(False, 0, math.ceil(until - now), math.ceil(full - now), until - now)


class Limited(Exception):
    """An endpoint's ``Deferred`` decision refused its request: ``RateLimit`` answers 429."""

    def __init__(self, decision: Decision) -> None:
        super().__init__("rate limited")
        self.decision = decision


@dataclass
class Deferred:
    """A request's decision, left to its endpoint to take with its work (``RateLimit``'s
    ``defer``). Whatever the endpoint answers, it has taken the decision first: with its
    work (``decision`` set from the answer), or alone (``take``)."""

    key: str
    decide: Callable[[str], Awaitable[Decision]]
    decision: Decision | None = None

    async def take(self) -> Decision:
        """The decision, if not taken yet, on its own; ``Limited`` if it refuses."""
        if self.decision is None:
            self.decision = await self.decide(self.key)
        if not self.decision.allowed:
            raise Limited(self.decision)
        return self.decision


class RateLimit:
    """ASGI middleware over ``TokenBuckets``: this process's own, or, with ``decide``,
    the buckets of whoever holds them for several processes (an HTTP worker asks the
    sequencer process: ``cadreledger.handover``), so that a limit is one limit. With
    ``decide``, the endpoints at the ``(method, path)`` pairs of ``defer`` take their
    request's decision themselves (``Deferred``)."""

    def __init__(
        self,
        app: ASGIApp,
        policy: RatePolicy,
        clock: Callable[[], float] | None = None,
        decide: Callable[[str], Awaitable[Decision]] | None = None,
        defer: Collection[tuple[str, str]] = (),
    ):
        self.app = app
        self.buckets = TokenBuckets(policy, clock or time.monotonic)
        self.empty = EmptyBuckets(self.buckets.clock)
        self.decide = decide
        self.defer = frozenset(defer) if decide is not None else frozenset()
        self.policy_header = f'"default";q={policy.burst};w={policy.window}'.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED:
            await self.app(scope, receive, send)
            return
        key = caller(scope)
        if self.decide is not None:
            if (known := self.empty.decision(key)) is not None:
                await self._refuse(scope, receive, send, known)
                return
            if (scope["method"], scope["path"]) in self.defer:
                await self._deferred(scope, receive, send, Deferred(key, self.decide))
                return
        try:
            decision = self.buckets.take(key) if self.decide is None else await self._ask(key)
        except Rejected as unavailable:  # whoever holds the buckets does not answer
            await problem_response(Request(scope), unavailable)(scope, receive, send)
            return
        if not decision.allowed:
            await self._refuse(scope, receive, send, decision)
            return
        fields = self._fields(decision)

        async def with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *fields]
            await send(message)

        await self.app(scope, receive, with_fields)

    async def _ask(self, key: str) -> Decision:
        """The holder's decision (``decide``), remembered if it refuses."""
        assert self.decide is not None
        asked_at = self.buckets.clock()
        decision = await self.decide(key)
        self.empty.remember(key, asked_at, decision)
        return decision

    async def _deferred(self, scope: Scope, receive: Receive, send: Send, rate: Deferred) -> None:
        asked_at = self.buckets.clock()  # (before the endpoint asks, with its work)
        scope[DEFERRED] = rate

        async def with_fields(message: Message) -> None:
            if message["type"] == "http.response.start" and rate.decision is not None:
                message["headers"] = [*message.get("headers", []), *self._fields(rate.decision)]
            await send(message)

        try:
            await self.app(scope, receive, with_fields)
        except Limited as limited:  # raised before the endpoint answered
            await self._refuse(scope, receive, send, limited.decision)
        finally:
            if rate.decision is not None:
                self.empty.remember(rate.key, asked_at, rate.decision)

    def _fields(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-policy", self.policy_header),
            (b"ratelimit", f'"default";r={decision.remaining};t={decision.full_in}'.encode()),
        ]

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, decision: Decision) -> None:
        wait = decision.retry_after
        refused = Rejected(
            RATE_LIMITED,
            f"Quá nhiều yêu cầu; hãy thử lại sau {wait} giây.",
            f"Too many requests; retry in {wait} s.",
            retry_after=wait,
        )
        answer = problem_response(Request(scope), refused)
        answer.headers["Retry-After"] = str(wait)
        answer.raw_headers.extend(self._fields(decision))
        await answer(scope, receive, send)


def caller(scope: Scope) -> str:
    """Whose bucket: the signed-in person's, else the client address's."""
    identity = scope.get("state", {}).get("identity")
    person = getattr(identity, "person", None)
    if isinstance(person, str):
        return "person:" + person
    client = scope.get("client")
    return "address:" + (client[0] if client else "unknown")
