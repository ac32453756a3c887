"""A drill's evaluation world: people with keys, one QĐ 366 cycle, the statements that drive it.

Everything but the times is derived from a seed, so a drill that fails can be replayed
exactly. The statements are signed up front, in order, with a clock that follows the
real one (the ledger admits a statement only within its clock skew, 5 minutes, of the
log's time) and ticks a tenth of a second per statement when signing runs ahead of it.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.regimes import PROFILES, profile_hash
from ledger.keys import SignerKey
from ledger.statement import SignedStatement, sign_statement

YEAR = 2026
UNIT = "ban-to-chuc"
AUTHORITY, ADVISORY, CHAIR, INSPECTION = "tham-quyen", "tham-dinh", "chu-tri", "ubkt"
REGISTRAR = "to-chuc.dang-ky"  # the registrar: registers newcomers under load


class Scenario:
    """A unit with ``cadres`` cadres scored by a ``panel``, and a registrar for newcomers."""

    def __init__(
        self, *, cadres: int = 40, panel: int = 3, seed: int = 7, cycle: str = "2026-qd366-drill"
    ) -> None:
        self.rng = random.Random(seed)
        self.cycle = cycle
        self.clock = datetime.now(UTC)
        self.keys: dict[str, SignerKey] = {}
        self.cadres = [f"can-bo.{i:03d}" for i in range(cadres)]
        self.panel = [f"cham.{i}" for i in range(panel)]
        self.root = self.key("root")
        self._newcomers = 0

    # -- keys and statements ----------------------------------------------------------

    def key(self, person: str) -> SignerKey:
        if person not in self.keys:
            self.keys[person] = SignerKey.from_seed(person, self.rng.randbytes(32))
        return self.keys[person]

    def nonce(self) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(15)).decode()

    def sign(self, actor: str, type_: str, *, signer: SignerKey | None = None, **body: Any) -> Any:
        self.clock = max(self.clock + timedelta(milliseconds=100), datetime.now(UTC))
        statement = {
            "v": 1,
            "type": type_,
            "actor": actor,
            "issued_at": self.clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": self.nonce(),
            **body,
        }
        return sign_statement(statement, signer or self.key(actor))

    def on(self, actor: str, type_: str, **body: Any) -> SignedStatement:
        signed: SignedStatement = self.sign(actor, type_, cycle=self.cycle, **body)
        return signed

    def register(self, person: str, by: str = "root") -> SignedStatement:
        signed: SignedStatement = self.sign(
            by,
            "person.registered",
            person=person,
            name=f"Ông/Bà {person}",
            key=str(self.key(person).verifier),
        )
        return signed

    # -- the cycle, in the order the rules want it --------------------------------------

    def setup(self, submit: Callable[[SignedStatement], str]) -> None:
        """Everything before scoring, one statement at a time. ``submit`` stores a
        statement and answers its event hash (a comment cites its meeting's)."""
        for signed in self.opening():
            submit(signed)
        self.review(submit)

    def opening(
        self,
        standing: Sequence[tuple[str, str]] = (),
        year: int = YEAR,
        deadline: str | None = None,
    ) -> list[SignedStatement]:
        """People and roles, the cycle, its roster and every self-assessment, in the
        order the rules want them (they may be sealed in batches). ``standing``: more
        people, each with the standing role the root grants them."""
        officials = [AUTHORITY, ADVISORY, INSPECTION, CHAIR, REGISTRAR]
        others = [person for person, _ in standing]
        out = [self.register(p) for p in [*officials, *others, *self.panel, *self.cadres]]
        grants = [(AUTHORITY, "organiser"), (REGISTRAR, "registrar"), *standing]
        for person, role in grants:
            out.append(self.sign("root", "role.granted", person=person, role=role))
        # The version in force: the drills run at today's log time.
        pinned = {"id": "QD366", "version": 2, "hash": profile_hash(PROFILES[("QD366", 2)])}
        roles = {
            "authority": [AUTHORITY],
            "advisory": [ADVISORY],
            "chair": [CHAIR],
            "panel": self.panel,
            "inspection": [INSPECTION],
        }
        opened = {"regime": pinned, "year": year, "unit": UNIT, "roles": roles}
        if deadline is not None:
            opened["deadline"] = deadline
        out.append(self.on(AUTHORITY, "cycle.opened", **opened))
        subjects = [{"id": c, "name": f"Cán bộ {c}", "group": "staff"} for c in self.cadres]
        out.append(self.on(AUTHORITY, "cycle.roster", subjects=subjects))
        out += [
            self.on(cadre, "self_assessment.submitted", cadre=cadre, report="Tự đánh giá.")
            for cadre in self.cadres
        ]
        return out

    def review(self, submit: Callable[[SignedStatement], str]) -> None:
        """The review meeting, a comment made there, the minutes adopted: after these,
        the panel may score."""
        attendees = [CHAIR, *self.panel, *self.cadres]
        day = self.clock.date().isoformat()
        meeting = submit(self.on(CHAIR, "meeting.held", date=day, attendees=attendees))
        comment = submit(
            self.on(
                self.panel[0],
                "comment.made",
                cadre=self.cadres[0],
                meeting=meeting,
                text="Cần chủ động hơn.",
            )
        )
        submit(
            self.on(CHAIR, "minutes.adopted", meeting=meeting, comments=[comment], text="Biên bản.")
        )

    def scores(self, scorer: str, cadres: list[str] | None = None) -> list[SignedStatement]:
        """``scorer``'s ballot for each cadre: 80 points (HTT), split 24 + 56."""
        return [
            self.on(scorer, "score.submitted", cadre=c, general=24, tasks=56)
            for c in (self.cadres if cadres is None else cadres)
        ]

    def decide(self, cadre: str) -> list[SignedStatement]:
        """Tally, appraisal and decision for a cadre every panel member has scored."""
        return [
            self.on(CHAIR, "tally.recorded", cadre=cadre, ballots=len(self.panel), total="80"),
            self.on(ADVISORY, "appraisal.proposed", cadre=cadre, level="HTT"),
            self.on(AUTHORITY, "decision.issued", cadre=cadre, level="HTT"),
        ]

    def newcomers(self, count: int, by: str = REGISTRAR) -> list[SignedStatement]:
        """Registrations of people not seen before (the registry stream grows)."""
        out = []
        for _ in range(count):
            self._newcomers += 1
            out.append(self.register(f"moi.{self._newcomers:05d}", by=by))
        return out
