"""``cadreledger demo``: one realistic QĐ 366 evaluation cycle, every act signed by its actor.

A district Party committee's organisation board (Ban Tổ chức Huyện ủy) evaluates its
cadres for 2025: self-assessments, a review meeting with comments and adopted minutes,
a scoring panel's ballots and their tally, a few amendments (some late, some with
thin reasons), the advisory body's proposals, the authority's decisions within the
HTXS quota, publication, and a complaint that is upheld and re-decided.

The demo holds everyone's private keys only because it plays everyone; each
statement is still signed by its own actor's key, never by the server.
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from cadreledger.service import Ledger
from domain.acts import VIETNAM
from domain.fields import format_points
from domain.privacy import FREE_TEXT_FIELDS
from domain.regimes import Profile, latest, make_profile, profile_hash
from ledger.keys import SignerKey
from ledger.receipt import Receipt
from ledger.statement import sign_statement
from ledger.texts import Sealer

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Công", "Xuân"]
MIDDLE_F = ["Thị", "Thu", "Ngọc", "Thanh", "Minh", "Hồng", "Kim"]
GIVEN_M = [
    "An",
    "Bình",
    "Dũng",
    "Hải",
    "Hiếu",
    "Hòa",
    "Hùng",
    "Khánh",
    "Long",
    "Nam",
    "Phong",
    "Quân",
    "Sơn",
    "Thắng",
    "Trung",
    "Tú",
    "Tuấn",
    "Việt",
    "Cường",
    "Đạt",
]
GIVEN_F = [
    "Châu",
    "Giang",
    "Hà",
    "Hạnh",
    "Hương",
    "Lan",
    "Linh",
    "Mai",
    "Nga",
    "Ngân",
    "Phương",
    "Quỳnh",
    "Tâm",
    "Thảo",
    "Trang",
    "Vân",
    "Yến",
    "Huyền",
    "Loan",
    "Nhung",
]
POSITIONS = ["Chuyên viên", "Chuyên viên chính", "Cán sự", "Chuyên viên cao cấp"]
COMMENTS = [
    "Có tinh thần trách nhiệm, hoàn thành đúng hạn các nhiệm vụ được giao.",
    "Cần chủ động hơn trong tham mưu, đề xuất giải pháp.",
    "Tích cực đổi mới cách làm, ứng dụng chuyển đổi số trong công việc.",
    "Còn chậm trễ ở một số báo cáo định kỳ quý III.",
    "Giữ gìn đạo đức, lối sống; gương mẫu, đoàn kết trong cơ quan.",
    "Tự phê bình còn chung chung, chưa chỉ rõ hạn chế.",
]
UNIT = "bto-dongson"
UNIT_NAME = "Ban Tổ chức Huyện ủy Đông Sơn"


def slug(name: str) -> str:
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    ascii_only = "".join(c for c in plain if not unicodedata.combining(c))
    return ".".join(ascii_only.lower().split())


@dataclass
class Person:
    id: str
    name: str
    position: str
    key: SignerKey


class Demo:
    """Plays every part of one cycle. Each act goes through the ledger's rules."""

    def __init__(self, ledger: Ledger, root: SignerKey, seed: int = 2025, size: int = 42) -> None:
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.receipts: list[Receipt] = []
        self.today = datetime.now(VIETNAM).date()
        self.year = self.today.year
        self.cycle = self._free_cycle_id(f"{self.year}-qd366-{UNIT}")
        self.root = Person(root.name, "Gốc tin cậy / root of trust", "", root)
        self.cadres = [self._person(i) for i in range(size)]
        self.head, self.deputies = self.cadres[0], self.cadres[1:3]
        self.head.position, self.deputies[0].position = "Trưởng ban", "Phó Trưởng ban"
        self.deputies[1].position = "Phó Trưởng ban"
        self.leaders = [self.head, *self.deputies]
        self.panel = [self.head, *self.deputies, self.cadres[3], self.cadres[4]]
        self.authority = self._official("ban-thuong-vu.dongson", "Ban Thường vụ Huyện ủy")
        self.advisory = self._official("to-chuc.tinh-uy", "Ban Tổ chức Tỉnh ủy (thẩm định)")
        self.inspection = self._official("ubkt.dongson", "Ủy ban Kiểm tra Huyện ủy")

    def _free_cycle_id(self, base: str) -> str:
        cycle, n = base, 1
        while self.ledger.store.stream_heads([f"cycle/{cycle}"]):
            n += 1
            cycle = f"{base}-{n}"
        return cycle

    def _person(self, i: int) -> Person:
        female = self.rng.random() < 0.45
        name = " ".join(
            [
                self.rng.choice(FAMILY),
                self.rng.choice(MIDDLE_F if female else MIDDLE_M),
                self.rng.choice(GIVEN_F if female else GIVEN_M),
            ]
        )
        pid = f"{slug(name)}.{i:02d}"
        return Person(pid, name, self.rng.choice(POSITIONS), SignerKey.generate(pid))

    def _official(self, pid: str, name: str) -> Person:
        return Person(pid, name, name, SignerKey.generate(pid))

    # -- signing and submitting -------------------------------------------------------

    def act(self, who: Person, type_: str, **body: Any) -> Receipt:
        # Free texts about people (comments, reasons, reports, grounds, findings) are
        # sealed, as docs/SPEC.md asks: the log keeps commitments, the texts are kept
        # encrypted beside it, per data subject, and can be erased (cadreledger erase).
        sealer = Sealer()
        statement = {
            "v": 1,
            "type": type_,
            "actor": who.id,
            "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": secrets.token_urlsafe(16),
            **sealer.seal_fields(body, FREE_TEXT_FIELDS),
        }
        receipt = self.ledger.append(sign_statement(statement, who.key, sealer.texts))
        self.receipts.append(receipt)
        return receipt

    def on_cycle(self, who: Person, type_: str, **body: Any) -> Receipt:
        return self.act(who, type_, cycle=self.cycle, **body)

    def many(self, acts: Iterable[Callable[[], Receipt]]) -> list[Receipt]:
        """Independent acts of one step, submitted concurrently (as people would)."""
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(lambda f: f(), acts))

    # -- the cycle --------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.enrol()
        self.open_cycle()
        comments = self.review_meeting()
        totals = self.score(comments)
        levels = self.decide(totals)
        complainant = self.complaint(totals, levels)
        return {"levels": Counter(levels.values()), "complainant": complainant}

    def enrol(self) -> None:
        """The root of trust registers everyone (or, on a second run, their new keys);
        the authority may open cycles."""
        people = [*self.cadres, self.authority, self.advisory, self.inspection]
        known = self.ledger.rules.model.registry.people if self.ledger.rules else {}
        self.many(
            partial(
                self.act,
                self.root,
                "key.registered" if p.id in known else "person.registered",
                person=p.id,
                **({} if p.id in known else {"name": p.name}),
                key=str(p.key.verifier),
            )
            for p in people
        )
        if UNIT not in (self.ledger.rules.model.registry.units if self.ledger.rules else {}):
            self.act(self.root, "unit.registered", unit=UNIT, name=UNIT_NAME)
        # Standing roles: the authority organises cycles; the inspection committee
        # (ủy ban kiểm tra) oversees every one of them.
        for who, role in ((self.authority, "organiser"), (self.inspection, "inspector")):
            held = known.get(who.id)
            if held is None or role not in held.roles:
                self.act(self.root, "role.granted", person=who.id, role=role)

    def open_cycle(self) -> None:
        regime = latest("QD366")
        assert regime is not None
        self.on_cycle(
            self.authority,
            "cycle.opened",
            regime={"id": "QD366", "version": regime["version"], "hash": profile_hash(regime)},
            year=self.year,
            unit=UNIT,
            unit_name=UNIT_NAME,
            period="annual",
            roles={
                "authority": [self.authority.id],
                "advisory": [self.advisory.id],
                # A deputy chairs too: the head does not count the confidence vote about
                # themselves.
                "chair": [self.head.id, self.deputies[0].id],
                "panel": [p.id for p in self.panel],
                "inspection": [self.inspection.id],
            },
        )
        self.on_cycle(
            self.authority,
            "cycle.roster",
            subjects=[
                {"id": UNIT, "name": UNIT_NAME, "kind": "collective", "group": "tap-the"},
                *(
                    {
                        "id": p.id,
                        "name": p.name,
                        "group": "lanh-dao" if p in self.leaders else "chuyen-vien",
                        "leader": p in self.leaders,
                        **({"head_of": UNIT} if p is self.head else {}),
                    }
                    for p in self.cadres
                ),
            ],
        )

    def review_meeting(self) -> list[Receipt]:
        rng = self.rng
        self.merit = {p.id: rng.gauss(80, 8) for p in self.cadres}
        self.merit[UNIT] = 84
        self.merit[self.cadres[-1].id] = 46  # will be KHT, with discipline evidence
        self.merit[self.cadres[-2].id] = 60
        self.many(
            partial(
                self.on_cycle,
                p,
                "self_assessment.submitted",
                cadre=p.id,
                general=min(30, round(self.merit[p.id] * 0.3) + 1),
                tasks=min(70, round(self.merit[p.id] * 0.7) + 2),
                report="Báo cáo tự đánh giá, tự chấm điểm năm nay.",
            )
            for p in self.cadres
        )
        self.on_cycle(
            self.head,
            "self_assessment.submitted",
            cadre=UNIT,
            report="Báo cáo kiểm điểm tập thể Ban Tổ chức.",
        )
        attendees = self.cadres[:30]
        meeting = self.on_cycle(
            self.head,
            "meeting.held",
            date=self.today.isoformat(),
            attendees=[p.id for p in attendees],
        ).event_hash.hex()
        comments = self.many(
            partial(
                self.on_cycle,
                rng.choice([x for x in attendees if x is not p]),
                "comment.made",
                cadre=p.id,
                meeting=meeting,
                text=c,
            )
            for p, c in zip(rng.sample(self.cadres, 18), rng.choices(COMMENTS, k=18), strict=True)
        )
        self.on_cycle(
            self.head,
            "minutes.adopted",
            meeting=meeting,
            comments=[r.event_hash.hex() for r in comments],
            text="Biên bản hội nghị kiểm điểm, đánh giá, xếp loại năm nay.",
        )
        return comments

    def score(self, comments: list[Receipt]) -> dict[str, int]:
        """Ballots, a declared conflict, amendments with reasons, then each tally."""
        rng = self.rng
        subjects = [UNIT, *(p.id for p in self.cadres)]
        conflicted = (self.panel[3].id, self.cadres[7].id)  # scorer, cadre: relatives
        self.on_cycle(
            self.panel[3],
            "conflict.declared",
            cadre=conflicted[1],
            reason="Có quan hệ họ hàng với người được đánh giá.",
        )
        ballots: dict[tuple[str, str], Receipt] = {}
        scores: dict[str, dict[str, int]] = {}

        def ballot(scorer: Person, sid: str) -> Receipt:
            total = max(0.0, min(100.0, rng.gauss(self.merit[sid], 3)))
            general = min(30, round(total * 0.3))
            tasks = min(70, round(total) - general)
            scores.setdefault(sid, {})[scorer.id] = general + tasks
            r = self.on_cycle(scorer, "score.submitted", cadre=sid, general=general, tasks=tasks)
            ballots[(scorer.id, sid)] = r
            return r

        self.many(
            partial(ballot, s, sid)
            for sid in subjects
            for s in self.panel
            if s.id != sid and (s.id, sid) != conflicted and not (s is self.head and sid == UNIT)
        )
        amended = rng.sample(self.cadres[5:-2], 6)
        reasons = [
            "Chấm lại sau khi đối chiếu kết quả thực hiện nhiệm vụ quý IV.",
            "sửa lại",
            "Bổ sung minh chứng sản phẩm đề án chuyển đổi số.",
            "nhầm",
            "Điều chỉnh theo ý kiến góp ý tại hội nghị.",
            "theo chỉ đạo",
        ]

        def amend(p: Person, reason: str) -> None:
            scorer = rng.choice([s for s in self.panel if (s.id, p.id) in ballots])
            new_total = min(100, scores[p.id][scorer.id] + rng.choice([-6, -4, 3, 5]))
            general = min(30, round(new_total * 0.3))
            ballots[(scorer.id, p.id)] = self.on_cycle(
                scorer,
                "score.amended",
                cadre=p.id,
                amends=ballots[(scorer.id, p.id)].event_hash.hex(),
                general=general,
                tasks=new_total - general,
                reason=reason,
            )
            scores[p.id][scorer.id] = new_total

        def tally(sid: str) -> Receipt:
            return self.on_cycle(
                self.head,
                "tally.recorded",
                cadre=sid,
                ballots=len(scores[sid]),
                total=format_points(mean_hundredths(list(scores[sid].values()))),
            )

        for p, reason in zip(amended[:4], reasons[:4], strict=True):
            amend(p, reason)
        self.many(partial(tally, sid) for sid in subjects)
        # Two late changes: scoring reopened after the tally, a ballot changed on a thin
        # reason, the subject tallied again — all on the record for anyone to question.
        for p, reason in zip(amended[4:], reasons[4:], strict=True):
            self.on_cycle(
                self.head,
                "scoring.reopened",
                cadre=p.id,
                reason="Có ý kiến đề nghị xem xét lại sau kiểm phiếu.",
            )
            amend(p, reason)
            tally(p.id)
        return {sid: mean_hundredths(list(s.values())) for sid, s in scores.items()}

    def decide(self, totals: dict[str, int]) -> dict[str, str]:
        """Evidence and confidence votes, proposals within quota and cap, decisions."""
        profile = make_profile(latest("QD366") or {}, {})
        disciplined = self.cadres[-1]
        self.on_cycle(
            self.authority,
            "evidence.recorded",
            cadre=disciplined.id,
            kind="discipline",
            form="khien_trach",
            duty_related=True,
            decided=f"{self.year}-09-15",
            text="Quyết định kỷ luật khiển trách do vi phạm trong thực hiện nhiệm vụ.",
        )
        self.many(
            partial(
                self.on_cycle,
                self.deputies[0] if p is self.head else self.head,
                "confidence.tallied",
                cadre=p.id,
                votes=30,
                low=low,
            )
            for p, low in zip(self.leaders, (4, 2, 6), strict=True)
        )
        groups = {UNIT: "tap-the"} | {
            p.id: "lanh-dao" if p in self.leaders else "chuyen-vien" for p in self.cadres
        }
        levels, reasons = plan_levels(
            profile, totals, groups, forced_kht=disciplined.id, head=self.head.id, unit=UNIT
        )

        def proposal(sid: str) -> Receipt:
            return self.on_cycle(
                self.advisory,
                "appraisal.proposed",
                cadre=sid,
                level=levels[sid],
                **(
                    # The typed ground of a lowered level: the head's collective, or the
                    # group's full quota.
                    {"reason": reasons[sid], ("head_cap" if sid == self.head.id else "quota"): True}
                    if sid in reasons
                    else {}
                ),
            )

        def decision(sid: str) -> Receipt:
            return self.on_cycle(self.authority, "decision.issued", cadre=sid, level=levels[sid])

        self.many(partial(proposal, sid) for sid in totals)
        self.decisions = {UNIT: decision(UNIT)}  # the collective before its head
        others = [sid for sid in totals if sid != UNIT]
        self.decisions |= dict(
            zip(others, self.many(partial(decision, sid) for sid in others), strict=True)
        )
        self.many(partial(self.on_cycle, self.authority, "notice.sent", cadre=s) for s in totals)
        self.on_cycle(self.authority, "result.published")
        return levels

    def complaint(self, totals: dict[str, int], levels: dict[str, str]) -> Person:
        """An HT cadre complains that products were missed; upheld, re-classified HTT."""
        complainant = max(
            (p for p in self.cadres[5:] if levels[p.id] == "HT"), key=lambda p: totals[p.id]
        )
        filed = self.on_cycle(
            complainant,
            "complaint.filed",
            cadre=complainant.id,
            against=self.decisions[complainant.id].event_hash.hex(),
            grounds="Kết quả chấm điểm chưa tính đủ sản phẩm đề án được giao.",
        )
        self.on_cycle(
            self.inspection,
            "complaint.accepted",
            cadre=complainant.id,
            complaint=filed.event_hash.hex(),
        )
        resolved = self.on_cycle(
            self.inspection,
            "complaint.resolved",
            cadre=complainant.id,
            complaint=filed.event_hash.hex(),
            upheld=True,
            finding="Bỏ sót 02 sản phẩm quy đổi; đề nghị xếp loại lại.",
        )
        corrected = max(totals[complainant.id] + 400, 7000)
        self.on_cycle(
            self.authority,
            "decision.revised",
            cadre=complainant.id,
            level="HTT",
            total=format_points(corrected),
            supersedes=self.decisions[complainant.id].event_hash.hex(),
            cause=resolved.event_hash.hex(),
            reason="Thực hiện kết luận giải quyết khiếu nại: cộng điểm 02 sản phẩm bị bỏ sót.",
        )
        levels[complainant.id] = "HTT"
        return complainant


LEVEL_RANK = {"HTXS": 4, "HTT": 3, "HT": 2, "KHT": 1}


def plan_levels(
    profile: Profile,
    totals: dict[str, int],
    groups: dict[str, str],
    *,
    forced_kht: str,
    head: str,
    unit: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """The levels the advisory body proposes, and the reason for each one lowered: the
    score's level, KHT where discipline forces it, the lowest HTXS of a group dropped to
    HTT while over the quota, and the head not above their collective."""
    levels = {sid: profile.threshold_level(t)[0].value for sid, t in totals.items()}
    reasons: dict[str, str] = {}
    levels[forced_kht] = "KHT"
    for group in sorted(set(groups.values())):
        members = [sid for sid, g in groups.items() if g == group]
        while True:
            htxs = [sid for sid in members if levels[sid] == "HTXS"]
            base = sum(levels[sid] == "HTT" for sid in members)
            if len(htxs) <= (profile.quota_cap(base, False) or 0):
                break
            lowest = min(htxs, key=totals.__getitem__)
            levels[lowest] = "HTT"
            reasons[lowest] = "Vượt tỷ lệ 20% Hoàn thành xuất sắc của nhóm; xếp HTT."
    if LEVEL_RANK[levels[head]] > LEVEL_RANK[levels[unit]]:
        levels[head] = levels[unit]
        reasons[head] = "Không cao hơn mức xếp loại của tập thể do mình đứng đầu."
    return levels, reasons


def mean_hundredths(points: list[int]) -> int:
    """The tally's rule, computed independently: mean of whole-point ballots in
    hundredths, rounded half up."""
    exact = Decimal(sum(points) * 100) / Decimal(len(points))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
