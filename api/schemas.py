"""The shapes of the service's answers, for the OpenAPI document (lược đồ trả lời).

These models document; they do not filter. Endpoints keep returning their plain
documents (the read model's JSON, receipts, CloudEvents) and the models describe each
answer's top level — every member a client may rely on — while leaving room
(``extra="allow"``) for members added later. ``tests/service/test_schemathesis.py`` holds
every answer to these shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


Doc = dict[str, Any]
SUBMISSION_SCHEMA: Doc = {
    "type": "object",
    "required": ["statement", "signer", "signature"],
    "additionalProperties": False,
    "properties": {
        "statement": {
            "type": "object",
            "required": ["v", "type", "actor", "issued_at", "nonce"],
            "properties": {
                "v": {"type": "integer", "enum": [1]},
                "type": {"type": "string", "example": "score.submitted"},
                "actor": {"type": "string", "example": "nguyen.van.an"},
                "issued_at": {"type": "string", "example": "2025-12-01T08:00:00Z"},
                "nonce": {"type": "string", "minLength": 16, "maxLength": 64},
            },
            "additionalProperties": True,
        },
        "signer": {
            "type": "string",
            # name (no "+" or space), key ID (8 hex digits), base64 of 0x01 ‖ the 32 key bytes
            "pattern": "^[^+\\s]+\\+[0-9a-fA-F]{8}\\+[A-Za-z0-9+/]{44}$",
            "description": "C2SP verifier key name+keyid+base64",
        },
        "signature": {
            "type": "string",
            "pattern": "^[A-Za-z0-9+/]{86}==$",  # 64 bytes of base64
            "description": "base64 Ed25519 signature over the statement's RFC 8785 bytes",
        },
        "texts": {
            "type": "object",
            "description": "the texts the statement seals (docs/SPEC.md, sealed texts): for "
            'each {"sealed": commitment} in it, the salt and the NFC text whose HMAC-SHA256 '
            "it is; unsigned, kept encrypted beside the log, erasable",
            "additionalProperties": {
                "type": "object",
                "required": ["salt", "text"],
                "additionalProperties": False,
                "properties": {
                    "salt": {"type": "string", "description": "base64 of 32 random bytes"},
                    "text": {"type": "string", "maxLength": 20000},
                },
            },
        },
    },
}

Next = Field(description="the cursor for the next page (pass it as `after`); null at the end")


class Problem(Open):
    """RFC 9457 problem details; ``title`` and ``detail`` in the caller's language."""

    type: str = Field(description="a stable URI reference, `/problems/<slug>`")
    title: str
    status: int
    detail: str | None = None
    detail_vi: str | None = None
    detail_en: str | None = None
    instance: str | None = None


class ProblemType(Open):
    type: str
    status: int
    title_vi: str
    title_en: str
    explanation_vi: str | None = None
    explanation_en: str | None = None


class LeafProof(Open):
    index: int
    proof: list[str] = Field(description="RFC 9162 audit path, standard base64")


class InclusionProof(Open):
    index: int | None = Field(None, description="the leaf (with ?index=)")
    tree_size: int
    proof: list[str] | None = Field(None, description="RFC 9162 audit path, standard base64")
    proofs: list[LeafProof] | None = Field(None, description="with ?indexes=: one per leaf")


class ConsistencyProof(Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    first: int = Field(alias="from")
    to: int
    proof: list[str] = Field(description="RFC 9162 consistency proof, standard base64")


class LogEntry(Open):
    index: int
    stream: str
    version: int
    event_hash: str
    envelope: str = Field(description="the stored canonical envelope, verbatim")


class LogEntries(Open):
    entries: list[LogEntry]
    next: int | None = Field(
        description="the next `start` (or, paging with `after`, the next `after`); null at the end"
    )


class Receipt(Open):
    stream: str
    version: int
    event_hash: str
    index: int
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str
    tlog_proof: str
    duplicate: bool


class CloudEvent(Open):
    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: str | None
    sequence: str
    datacontenttype: str
    data: Doc


class EventPage(Open):
    events: list[CloudEvent]
    next: int = Field(description="pass as `after`: it moves past events the filters skipped")
    caught_up: bool
    tree_size: int


class Regime(Open):
    id: str
    version: int
    hash: str
    profile: Doc
    # Set once a newer version replaced it: {version, since} (a new cycle opened at or
    # after ``since``, the log's time, must pin that version: profile-superseded).
    superseded_by: Doc | None = None


class Regimes(Open):
    regimes: list[Regime]


class CycleSummary(Open):
    cycle: str
    unit: str
    year: int
    regime: Doc
    phase: str
    deadline: str
    published: Doc | None


class Cycles(Open):
    position: int
    cycles: list[CycleSummary]
    next: str | None = Next


class CycleDocument(Open):
    cycle: str
    position: int
    unit: str
    year: int
    regime: Doc
    phase: str
    subjects: dict[str, Doc]
    groups: Doc


class Ratings(Open):
    cycle: str
    position: int
    regime: Doc
    phase: str
    subjects: dict[str, Doc]
    groups: Doc


class Step(Open):
    position: int
    event: str
    stream: str
    type: str
    actor: str
    signer: str
    issued_at: str
    logged_at: str | None = Field(
        description="the log's time (envelope `logged_at`); null in a version 1 envelope"
    )
    cadre: str | None
    fields: Doc
    refused: Any = Field(description="null when the rules admit the act, else why not")


class Timeline(Open):
    cycle: str
    position: int
    timeline: list[Step]
    next: int | None = Next


class CadreTimeline(Timeline):
    cadre: str


class CadrePage(Open):
    cycle: str
    cadre: str
    position: int
    rating: Doc
    timeline: list[Step]


class Complaint(Open):
    cadre: str
    event: str
    status: str
    filed: str


class Complaints(Open):
    cycle: str
    position: int
    complaints: list[Complaint]
    next: str | None = Next


class ComplaintCase(Complaint):
    cycle: str
    acts: list[Step]


class CycleEntries(Open):
    cycle: str
    entries: list[LogEntry]
    next: int | None = Next
    root_keys: list[str] | None = Field(
        None, description="with registry=true: the log's root keys (name+keyid+base64)"
    )


class FairnessFinding(Open):
    """A sign to examine (docs/verifier.md §5), never a verdict."""

    id: str = Field(description="the same finding has the same id on every run")
    kind: str = Field(description="a stable kind id: ballot-deviation, retaliation, …")
    severity: str = Field(description="low | medium | high")
    cycle: str
    cadre: str = Field(description='a subject, or "*" for the whole cycle')
    scorer: str | None = Field(description="the person whose behaviour it is about, if one")
    events: list[str] = Field(description="the events behind it, in log order")
    positions: list[int] = Field(description="their log positions (the replay's steps)")
    statistic: Doc | None = Field(description="name, value and threshold")
    detail: Doc
    title_vi: str
    title_en: str
    summary_vi: str
    summary_en: str


class ScorerProfile(Open):
    """One scorer's ballots against the rest of the panel in a cycle."""

    ballots: int
    mean_deviation: str = Field(description="points, signed: +1.20")
    favours: dict[str, int] = Field(description="cadre → ballots marked up beyond the threshold")
    marks_down: dict[str, int] = Field(description="cadre → ballots marked down likewise")


class FairnessReport(Open):
    cycle: str
    position: int
    settings: Doc
    kinds: Doc = Field(description="each kind's title and explanation, vi and en")
    counts: dict[str, int]
    severities: dict[str, int]
    findings: list[FairnessFinding]
    scorers: dict[str, ScorerProfile] | None = Field(
        None,
        description="per scorer in this cycle (the whole cycle's report only, not "
        "?cadre=): ballots, mean deviation from the rest of the panel, the cadres marked "
        "up or down beyond the per-cycle threshold (times)",
    )


class UnitPage(Open):
    unit: str
    name: str | None
    parent: str | None
    position: int
    cycles: list[Doc]


class PersonPage(Open):
    person: str
    position: int


class Webhook(Open):
    id: str
    registered_at: int
    actor: str
    url: str
    filter: Doc
    state: str
    reason: str | None
    deliveries: dict[str, int]


class Delivery(Open):
    index: int
    event_hash: str
    state: str
    attempts: int


class Deliveries(Open):
    deliveries: list[Delivery]
    next: int | None = Next


class WebhookSecret(Open):
    webhook: str
    secret: str


class Token(Open):
    token: str = Field(description="clt_…: send as Authorization: Bearer")
    person: str
    expires_at: float = Field(description="Unix time")


class Session(Open):
    person: str
    roles: list[str]


class WhoAmI(Open):
    person: str
    name: str | None
    roles: list[str]
    cycles: dict[str, list[str]] = Field(description="cycle → the caller's roles in it")
    grants: list[str]


SESSION_SCHEMA: Doc = {
    "type": "object",
    "required": ["token"],
    "additionalProperties": False,
    "properties": {"token": {"type": "string", "pattern": "^clt_", "maxLength": 100}},
}


class Health(Open):
    status: str


class Ready(Open):
    status: str
    log_size: int


# A 200 answered in plain text (a signed note, a key, a secret, the metrics).
TEXT: dict[str, Any] = {"content": {"text/plain": {"schema": {"type": "string"}}}}


def ok(model: type[BaseModel], description: str = "OK", **extra: Any) -> dict[int | str, Any]:
    """``responses=`` for a 200 answered with ``model`` (documentation only)."""
    return {200: {"model": model, "description": description, **extra}}
