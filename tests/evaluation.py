"""A small evaluation world for tests: people with keys, a QĐ 366 cycle, helpers to act.

``World`` drives the pure model directly (no database, no signatures: the ledger
checks those), or, given ``submit``, a real ledger, each act signed by its actor.
With ``seal=True`` every free text (comments, reasons, reports, grounds, findings) is
sealed: the statement holds its commitment, the submission discloses the text.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.acts import Act
from domain.model import Model
from domain.privacy import FREE_TEXT_FIELDS
from domain.regimes import PROFILES, profile_hash
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.statement import sign_statement
from ledger.texts import Disclosure, Sealer

CYCLE = "2026-qd366-test"
UNIT = "ban-to-chuc"
START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

AUTHORITY, ADVISORY, CHAIR, INSPECTION = "tham-quyen", "tham-dinh", "chu-tri", "ubkt"
PANEL = ["cham.1", "cham.2", "cham.3"]
CADRES = ["can-bo.1", "can-bo.2", "can-bo.3", "can-bo.4", "can-bo.5"]
OFFICIALS = [AUTHORITY, ADVISORY, INSPECTION]


def pin(regime: str = "QD366", version: int | None = None) -> dict[str, Any]:
    """A regime's (id, version, hash); its latest version unless one is named."""
    if version is None:
        version = max(v for r, v in PROFILES if r == regime)
    return {"id": regime, "version": version, "hash": profile_hash(PROFILES[(regime, version)])}


class WorldClock:
    """A world's time, shareable with a real ledger as its clock (``Ledger(clock=…)``):
    the log then admits each act at the time its actor signed it, so the ledger's
    clock-skew check and its deadlines follow the world's calendar."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class World:
    def __init__(
        self,
        submit: Callable[[Any], Any] | None = None,
        root: SignerKey | None = None,
        *,
        seal: bool = False,
        clock: WorldClock | None = None,
    ) -> None:
        self.keys: dict[str, SignerKey] = {"root": root or SignerKey.generate("root")}
        self.model = Model([str(self.keys["root"].verifier)])
        self.time = clock if clock is not None else WorldClock()
        self.step = timedelta(minutes=1)  # between two statements
        self.counter = itertools.count()
        self._submit = submit  # a real ledger's, or None for the pure model
        self.listed: list[str] = []
        self.seal = seal
        self.sealed: dict[str, Disclosure] = {}  # commitment → salt and text, all sealed

    # -- acting -----------------------------------------------------------------------

    @property
    def clock(self) -> datetime:
        """The world's time (of the last statement signed; ``WorldClock``)."""
        return self.time.at

    @clock.setter
    def clock(self, at: datetime) -> None:
        self.time.at = at

    def key(self, person: str) -> SignerKey:
        if person not in self.keys:
            self.keys[person] = SignerKey.generate(person)
        return self.keys[person]

    def statement(self, actor: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        self.clock += self.step
        return {
            "v": 1,
            "type": type_,
            "actor": actor,
            "issued_at": self.clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": secrets.token_urlsafe(16),
            **body,
        }

    def act(self, actor: str, type_: str, *, signer: SignerKey | None = None, **body: Any) -> str:
        """Do an act; its event hash (hex). Raises ``Rejected`` if the rules refuse it."""
        key = signer or self.key(actor)
        sealer = Sealer()
        if self.seal:
            body = sealer.seal_fields(body, FREE_TEXT_FIELDS)
            self.sealed.update(sealer.texts)
        statement = self.statement(actor, type_, body)
        if self._submit is not None:
            return str(self._submit(sign_statement(statement, key, sealer.texts)))
        n = next(self.counter)
        event = hashlib.sha256(f"event {n}".encode()).hexdigest()
        self.model.handle(Act(statement, str(key.verifier), event, n, self.clock))
        return event

    def on(self, actor: str, type_: str, **body: Any) -> str:
        return self.act(actor, type_, cycle=CYCLE, **body)

    def refused(self, slug: str, actor: str, type_: str, **body: Any) -> Rejected:
        with pytest.raises(Rejected) as caught:
            self.act(actor, type_, **body)
        assert caught.value.problem.slug == slug, caught.value.detail_en
        assert caught.value.detail_vi and caught.value.detail_en
        return caught.value

    def refused_on(self, slug: str, actor: str, type_: str, **body: Any) -> Rejected:
        return self.refused(slug, actor, type_, cycle=CYCLE, **body)

    # -- the usual set-up -------------------------------------------------------------

    def enrol(self, *people: str) -> None:
        for person in people:
            self.act(
                "root",
                "person.registered",
                person=person,
                name=f"Ông/Bà {person}",
                key=str(self.key(person).verifier),
            )

    def open(self, regime: dict[str, Any] | None = None, **extra: Any) -> None:
        self.enrol(*OFFICIALS, CHAIR, *PANEL, *CADRES)
        self.act("root", "role.granted", person=AUTHORITY, role="organiser")
        self.on(
            AUTHORITY,
            "cycle.opened",
            regime=regime or pin(),
            year=2026,
            unit=UNIT,
            roles={
                "authority": [AUTHORITY],
                "advisory": [ADVISORY],
                "chair": [CHAIR],
                "panel": PANEL,
                "inspection": [INSPECTION],
            },
            **extra,
        )

    def roster(self, *, collective: bool = True) -> None:
        """The cadres (staff group), the chair as head of the unit, and the unit itself."""
        subjects: list[dict[str, Any]] = [
            {"id": c, "name": f"Cán bộ {c}", "group": "staff"} for c in CADRES
        ]
        if collective:
            subjects += [
                {"id": UNIT, "name": "Ban Tổ chức", "kind": "collective", "group": "units"},
                {
                    "id": CHAIR,
                    "name": "Trưởng ban",
                    "group": "heads",
                    "leader": True,
                    "head_of": UNIT,
                },
            ]
        self.on(AUTHORITY, "cycle.roster", subjects=subjects)
        self.listed = [s["id"] for s in subjects]

    def subjects(self) -> list[str]:
        cycle = self.model.cycles.get(CYCLE)
        return list(cycle.evaluations) if cycle and not self._submit else self.listed

    def review(self) -> str:
        """Everyone self-assesses, one meeting with a comment, minutes adopted."""
        for sid in self.subjects():
            owner = CHAIR if sid == UNIT else sid
            self.on(owner, "self_assessment.submitted", cadre=sid, report="Tự đánh giá.")
        meeting = self.on(
            CHAIR, "meeting.held", date="2026-11-02", attendees=[CHAIR, *PANEL, *CADRES]
        )
        comment = self.on(
            PANEL[0], "comment.made", cadre=CADRES[0], meeting=meeting, text="Cần chủ động hơn."
        )
        self.on(CHAIR, "minutes.adopted", meeting=meeting, comments=[comment], text="Biên bản.")
        return meeting

    def score_all(self, totals: dict[str, int]) -> dict[str, str]:
        """Every panel member gives each subject ``total`` points; tallies recorded."""
        ballots = {}
        for sid, total in totals.items():
            general = min(30, total * 3 // 10)
            for scorer in PANEL:
                ballots[(scorer, sid)] = self.on(
                    scorer, "score.submitted", cadre=sid, general=general, tasks=total - general
                )
            self.on(CHAIR, "tally.recorded", cadre=sid, ballots=len(PANEL), total=str(total))
        return {f"{s}|{c}": e for (s, c), e in ballots.items()}

    def ground(self, sid: str, kind: str = "tasks_failed", percent: int = 30) -> str:
        """Typed evidence (here: the share of tasks failed) a lowered level can cite."""
        return self.on(
            INSPECTION,
            "evidence.recorded",
            cadre=sid,
            kind=kind,
            percent=percent,
            text="Kết quả kiểm tra nhiệm vụ.",
        )

    def propose_and_decide(self, sid: str, level: str, **extra: Any) -> str:
        self.on(ADVISORY, "appraisal.proposed", cadre=sid, level=level, **extra)
        return self.on(AUTHORITY, "decision.issued", cadre=sid, level=level)
