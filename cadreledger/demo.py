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
from functools import partial
from typing import Any

from cadreledger.service import Ledger
from ledger.keys import SignerKey
from ledger.receipt import Receipt
from ledger.statement import sign_statement

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


def level_of(total_x100: int) -> str:
    """QĐ 366 thresholds on the 100-point scale (total in hundredths)."""
    if total_x100 >= 9000:
        return "HTXS"
    if total_x100 >= 7000:
        return "HTT"
    if total_x100 >= 5000:
        return "HT"
    return "KHT"


class Demo:
    def __init__(self, ledger: Ledger, seed: int = 2025, size: int = 42) -> None:
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.receipts: list[Receipt] = []
        self.cycle = self._free_cycle_id(f"2025-qd366-{UNIT}")
        self.cadres = [self._person(i) for i in range(size)]
        self.head, self.deputies = self.cadres[0], self.cadres[1:3]
        self.head.position, self.deputies[0].position = "Trưởng ban", "Phó Trưởng ban"
        self.deputies[1].position = "Phó Trưởng ban"
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
        statement = {
            "v": 1,
            "type": type_,
            "actor": who.id,
            "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": secrets.token_urlsafe(16),
            "cycle": self.cycle,
            **body,
        }
        receipt = self.ledger.append(sign_statement(statement, who.key))
        self.receipts.append(receipt)
        return receipt

    def many(self, acts: Iterable[Callable[[], Receipt]]) -> list[Receipt]:
        """Independent acts of one step, submitted concurrently (as people would)."""
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(lambda f: f(), acts))

    # -- the cycle --------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        rng = self.rng
        self.act(
            self.authority,
            "cycle.opened",
            regime="QD366",
            year=2025,
            unit=UNIT,
            unit_name=UNIT_NAME,
            period="annual",
            deadline="2025-12-31",
        )
        self.act(
            self.authority,
            "cycle.roster",
            unit=UNIT,
            head=self.head.id,
            cadres=[{"id": p.id, "name": p.name, "position": p.position} for p in self.cadres],
        )
        merit = {p.id: rng.gauss(80, 8) for p in self.cadres}
        merit[self.cadres[-1].id] = 46  # will be KHT, with discipline evidence
        merit[self.cadres[-2].id] = 60

        self.many(
            partial(
                self.act,
                p,
                "self_assessment.submitted",
                cadre=p.id,
                general=min(30, round(merit[p.id] * 0.3) + 1),
                tasks=min(70, round(merit[p.id] * 0.7) + 2),
                report="Báo cáo tự đánh giá, tự chấm điểm năm 2025.",
            )
            for p in self.cadres
        )
        self.act(
            self.head,
            "meeting.held",
            date="2025-12-10",
            unit=UNIT,
            attendees=[p.id for p in self.cadres[:30]],
        )
        comments = self.many(
            partial(
                self.act,
                rng.choice([x for x in self.panel if x is not p]),
                "comment.made",
                cadre=p.id,
                text=c,
            )
            for p, c in zip(rng.sample(self.cadres, 18), rng.choices(COMMENTS, k=18), strict=True)
        )
        self.act(
            self.head,
            "minutes.adopted",
            date="2025-12-10",
            comments=[r.event_hash.hex() for r in comments],
            text="Biên bản hội nghị kiểm điểm, đánh giá, xếp loại năm 2025.",
        )

        ballots: dict[tuple[str, str], Receipt] = {}
        scores: dict[str, dict[str, int]] = {}

        def ballot(scorer: Person, p: Person) -> Receipt:
            total = max(0.0, min(100.0, rng.gauss(merit[p.id], 3)))
            general = min(30, round(total * 0.3))
            tasks = min(70, round(total) - general)
            scores.setdefault(p.id, {})[scorer.id] = general + tasks
            r = self.act(scorer, "score.submitted", cadre=p.id, general=general, tasks=tasks)
            ballots[(scorer.id, p.id)] = r
            return r

        self.many(partial(ballot, s, p) for p in self.cadres for s in self.panel if s is not p)

        amended = rng.sample(self.cadres[5:-2], 6)
        reasons = [
            "Chấm lại sau khi đối chiếu kết quả thực hiện nhiệm vụ quý IV.",
            "sửa lại",
            "Bổ sung minh chứng sản phẩm đề án chuyển đổi số.",
            "nhầm",
            "Điều chỉnh theo ý kiến góp ý tại hội nghị.",
            "theo chỉ đạo",
        ]
        for p, reason in zip(amended, reasons, strict=True):
            scorer = rng.choice([s for s in self.panel if s is not p])
            old = scores[p.id][scorer.id]
            new_total = min(100, old + rng.choice([-6, -4, 3, 5]))
            general = min(30, round(new_total * 0.3))
            self.act(
                scorer,
                "score.amended",
                cadre=p.id,
                amends=ballots[(scorer.id, p.id)].event_hash.hex(),
                general=general,
                tasks=new_total - general,
                reason=reason,
                late=reason in ("theo chỉ đạo", "nhầm"),
            )
            scores[p.id][scorer.id] = new_total

        totals = {pid: round(100 * sum(s.values()) / len(s)) for pid, s in scores.items()}
        self.act(
            self.authority,
            "discipline.recorded",
            cadre=self.cadres[-1].id,
            form="khiển trách",
            duty_related=True,
            decided="2025-09-15",
        )
        levels = self._levels(totals)
        self.many(
            partial(
                self.act,
                self.head,
                "tally.recorded",
                cadre=p.id,
                ballots=len(scores[p.id]),
                total=f"{totals[p.id] / 100:.2f}",
            )
            for p in self.cadres
        )
        self.many(
            partial(self.act, self.advisory, "appraisal.proposed", cadre=p.id, level=levels[p.id])
            for p in self.cadres
        )
        decisions = dict(
            zip(
                [p.id for p in self.cadres],
                self.many(
                    partial(
                        self.act,
                        self.authority,
                        "decision.issued",
                        cadre=p.id,
                        level=levels[p.id],
                        total=f"{totals[p.id] / 100:.2f}",
                    )
                    for p in self.cadres
                ),
                strict=True,
            )
        )
        self.act(self.authority, "result.published", date="2025-12-26", unit=UNIT)

        complainant = next(p for p in self.cadres[5:] if levels[p.id] == "HT")
        filed = self.act(
            complainant,
            "complaint.filed",
            cadre=complainant.id,
            against=decisions[complainant.id].event_hash.hex(),
            grounds="Kết quả chấm điểm chưa tính đủ sản phẩm đề án được giao.",
        )
        self.act(
            self.inspection,
            "complaint.accepted",
            cadre=complainant.id,
            complaint=filed.event_hash.hex(),
            date="2026-01-05",
        )
        resolved = self.act(
            self.inspection,
            "complaint.resolved",
            cadre=complainant.id,
            complaint=filed.event_hash.hex(),
            upheld=True,
            finding="Bỏ sót 02 sản phẩm quy đổi; đề nghị xếp loại lại.",
        )
        self.act(
            self.authority,
            "decision.revised",
            cadre=complainant.id,
            level="HTT",
            supersedes=decisions[complainant.id].event_hash.hex(),
            cause=resolved.event_hash.hex(),
            reason="Thực hiện kết luận giải quyết khiếu nại.",
        )
        levels[complainant.id] = "HTT"
        return {"levels": Counter(levels.values()), "complainant": complainant}

    def _levels(self, totals: dict[str, int]) -> dict[str, str]:
        levels = {pid: level_of(t) for pid, t in totals.items()}
        levels[self.cadres[-1].id] = "KHT"  # discipline ≥ khiển trách forces KHT
        # QĐ 366 quota: HTXS at most 20% of HTT; the lowest HTXS drop to HTT.
        while sum(v == "HTXS" for v in levels.values()) > 0.2 * sum(
            v == "HTT" for v in levels.values()
        ):
            lowest = min((pid for pid, v in levels.items() if v == "HTXS"), key=totals.__getitem__)
            levels[lowest] = "HTT"
        return levels
