"""The kinds of fairness finding (dấu hiệu cần xem xét): stable ids, titles, explanations.

A finding is a sign for the inspection committee (ủy ban kiểm tra) to examine, never a
verdict. Each has a kind (an id that does not change between versions), a severity
(``low``, ``medium``, ``high``), the person whose behaviour it is about where there is
one (``scorer``), the events behind it by hash and by log position, and the statistic
it rests on with its threshold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("low", "medium", "high")
Finding = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    id: str
    title_vi: str
    title_en: str
    explanation_vi: str
    explanation_en: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


_KINDS = (
    Kind(
        "ballot-deviation",
        "Phiếu chấm lệch khỏi hội đồng",
        "A ballot apart from the rest of the panel",
        "Phiếu của một người chấm cách trung vị của những người chấm còn lại (không tính "
        "chính phiếu đó) nhiều hơn mức tối thiểu, và nhiều lần độ phân tán thông thường của "
        "hội đồng, sau khi trừ thói quen chấm cao/thấp của chính người đó với những người khác.",
        "One scorer's ballot stands further from the median of the rest of the panel (its own "
        "ballot left out) than the minimum effect and than several times the panel's usual "
        "spread, after removing that scorer's own habit of marking everyone high or low.",
    ),
    Kind(
        "scorer-bias",
        "Người chấm thiên lệch có hệ thống",
        "A scorer's systematic bias",
        "Cùng một người chấm lệch cùng một chiều cho cùng một cán bộ ở nhiều kỳ đánh giá.",
        "The same scorer deviates the same way for the same cadre in several cycles.",
    ),
    Kind(
        "amendments",
        "Sửa phiếu chấm",
        "Ballot amendments",
        "Việc sửa phiếu đã đổi mức xếp loại theo điểm, hoặc lý do sửa quá sơ sài hay là "
        "'theo chỉ đạo'; lý do niêm phong mà người chạy kiểm tra không đọc được thì ghi "
        "'chưa đánh giá: văn bản niêm phong'.",
        "The amendments changed the level the score gives, or a reason is thin or says it "
        "was done 'as directed'; a sealed reason the verifier cannot read is marked 'not "
        "judged: text sealed'.",
    ),
    Kind(
        "late-change",
        "Thay đổi muộn",
        "Late change",
        "Một hành vi thay đổi hồ sơ sau khi đã kiểm phiếu, công khai hoặc có khiếu nại; với "
        "quyết định xếp loại lại, ghi chiều (lên/xuống) và mức cũ, mức mới.",
        "An act changed the record after the tally, the publication or a complaint; a "
        "re-classification says its direction (up/down) and the old and new level.",
    ),
    Kind(
        "retaliation",
        "Dấu hiệu trù dập người khiếu nại",
        "Signs of retaliation against a complainant",
        "Sau khi một người khiếu nại: chứng cứ bất lợi mới, điểm bị hạ, quyết định thấp hơn "
        "hoặc không được sửa dù khiếu nại được chấp nhận — trong cùng kỳ hay kỳ sau (so với "
        "thay đổi của những người khác giữa hai kỳ).",
        "After a person complained: new adverse evidence, a lowered score, a lower decision, "
        "or no remedy after an upheld complaint — in the same cycle or the next (against how "
        "everyone else's result changed between the two cycles).",
    ),
    Kind(
        "decision-departure",
        "Quyết định khác đề xuất hoặc khác kết quả chấm",
        "A decision apart from the proposal or the score",
        "Mức quyết định khác mức cơ quan tham mưu đề xuất, hoặc thấp hơn mức điểm cho phép mà "
        "không có chứng cứ buộc phải hạ, không do tỷ lệ HTXS hay mức của tập thể; kèm căn cứ "
        "đã nêu. Chứng cứ được viện dẫn nhưng không buộc phải hạ (ví dụ 5 % nhiệm vụ chưa "
        "hoàn thành) không phải là lời giải thích.",
        "The decided level differs from the advisory body's proposal, or is below what the "
        "score gives without evidence that forces it, the HTXS quota or the collective's "
        "level; with the grounds stated. Evidence cited that forces nothing (5 % of tasks "
        "failed, say) is no explanation.",
    ),
    Kind(
        "panel-change",
        "Thay đổi hội đồng chấm",
        "Panel manipulation",
        "Thêm người chấm sau hội nghị rồi người đó chấm; người chấm một lần rồi bị rút; người "
        "chấm rồi mới khai xung đột lợi ích; kiểm phiếu khi người dự họp trong hội đồng chưa "
        "chấm; hội đồng chấm không đủ.",
        "A scorer added after the meeting who then scores; a member who scores and is then "
        "withdrawn; a member who scores and then declares a conflict; a tally closed before "
        "every panel member at the meeting scored; a partial panel.",
    ),
    Kind(
        "formalism",
        "Dấu hiệu hình thức, nể nang",
        "Signs of formalism (hình thức, nể nang)",
        "Cả kỳ: phiếu của mọi người giống hệt nhau, hội nghị không có ý kiến nào (biên bản "
        "không ghi gì), mọi cán bộ cùng một mức.",
        "The whole cycle: everyone's ballots identical, meetings with no comment (minutes "
        "that record nothing), every cadre at the same level.",
    ),
    Kind(
        "deadline",
        "Sát hạn hoặc quá hạn",
        "Close to or past the deadline",
        "Các hành vi làm sau hạn của kỳ (nhờ ngoại lệ) hoặc trong mấy ngày cuối trước hạn.",
        "Acts done after the cycle's deadline (under an exception) or in its last days.",
    ),
    Kind(
        "complaint-unanswered",
        "Khiếu nại quá hạn chưa được trả lời",
        "A complaint past its time limit, unanswered",
        "Khiếu nại chưa được thụ lý hoặc giải quyết khi thời hạn luật định đã qua (theo các "
        "sự kiện sau đó trong sổ).",
        "A complaint not accepted or not resolved once its legal time limit had passed (as "
        "later events in the log show).",
    ),
    Kind(
        "late-publication",
        "Công khai chậm",
        "Late publication",
        "Kết quả được công khai lâu sau quyết định cuối cùng.",
        "The results were published long after the last decision.",
    ),
    Kind(
        "not-notified",
        "Chưa thông báo",
        "Not notified",
        "Có quyết định nhưng chưa thông báo cho người được đánh giá.",
        "Decided, but the person has not been notified.",
    ),
    Kind(
        "not-published",
        "Chưa công khai",
        "Not published",
        "Mọi người đã có quyết định nhưng kết quả chưa được công khai.",
        "Everyone is decided but the results are not published.",
    ),
    Kind(
        "quota-breach",
        "Vượt tỷ lệ HTXS",
        "HTXS quota exceeded",
        "Số HTXS đã quyết định trong một nhóm vượt mức trần (cũng là lỗi V8).",
        "The decided HTXS in a group exceed the cap (also a V8 failure).",
    ),
    Kind(
        "head-above-collective",
        "Người đứng đầu cao hơn tập thể",
        "Head rated above the collective",
        "Người đứng đầu được xếp cao hơn tập thể mình phụ trách (cũng là lỗi V8).",
        "The head is rated above the collective they lead (also a V8 failure).",
    ),
    Kind(
        "undeclared-conflict",
        "Xung đột lợi ích không khai báo",
        "An undeclared conflict of interest",
        "Cùng một người ở cả hai phía: người ra quyết định bị khiếu nại, hoặc đã chấm điểm "
        "người khiếu nại, lại thụ lý hay giải quyết khiếu nại đó; hoặc người chấm điểm (cấp "
        "trên, cấp dưới trực tiếp, vợ/chồng, người thân), người đề xuất, quyết định (vợ/chồng,"
        " người thân) có quan hệ được sổ đăng ký ghi nhận với người được đánh giá mà không "
        "khai báo xung đột lợi ích.",
        "The same person on both sides: the one whose decision is complained against, or who "
        "scored the complainant, accepts or resolves that complaint; or, by the registry, a "
        "scorer who is the subject's direct manager, subordinate, spouse or relative, or a "
        "proposer or decider who is their spouse or relative, who declared no conflict.",
    ),
)
KINDS: dict[str, Kind] = {k.id: k for k in _KINDS}


def finding(
    kind: str,
    severity: str,
    cycle: str,
    cadre: str,
    events: list[tuple[str, int]],
    summary: tuple[str, str],
    *,
    scorer: str | None = None,
    statistic: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> Finding:
    """A finding: ``events`` as (hash, position), in log order; ``summary`` (vi, en)."""
    assert kind in KINDS and severity in SEVERITIES, (kind, severity)
    events = sorted(set(events), key=lambda e: e[1])
    named = KINDS[kind]
    ident = hashlib.sha256(
        "|".join([kind, cycle, cadre, scorer or "", *(e for e, _ in events)]).encode()
    ).hexdigest()[:16]
    return {
        "id": ident,
        "kind": kind,
        "severity": severity,
        "title_vi": named.title_vi,
        "title_en": named.title_en,
        "cycle": cycle,
        "cadre": cadre,
        "scorer": scorer,
        "events": [e for e, _ in events],
        "positions": [p for _, p in events],
        "statistic": statistic,
        "detail": detail or {},
        "summary_vi": summary[0],
        "summary_en": summary[1],
    }


def signed(hundredths: int) -> str:
    """Points with their sign (``format_points`` is for amounts ≥ 0)."""
    sign = "-" if hundredths < 0 else "+"
    return f"{sign}{abs(hundredths) // 100}.{abs(hundredths) % 100:02d}"


def order(f: Finding) -> tuple[int, str, str, str]:
    """Findings in the order of their first event in the log."""
    first = f["positions"][0] if f["positions"] else -1
    return first, f["kind"], f["cadre"], f["scorer"] or ""
