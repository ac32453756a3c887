"""Dấu hiệu cần xem xét (fairness findings) bằng tiếng Việt: tên, giải thích và lời tóm
tắt của từng loại dấu hiệu. Giá trị do ``domain.messages`` định dạng: điểm 1,20, ngày
01/12/2026, tên đầy đủ của mức xếp loại, thuật ngữ thay cho mã."""

from __future__ import annotations

# Loại dấu hiệu → (tên, giải thích).
KINDS: dict[str, tuple[str, str]] = {
    "ballot-deviation": (
        "Phiếu chấm lệch khỏi hội đồng",
        "Phiếu của một người chấm cách trung vị của những người chấm còn lại (không tính "
        "chính phiếu đó) nhiều hơn mức tối thiểu, và nhiều lần độ phân tán thông thường của "
        "hội đồng, sau khi trừ thói quen chấm cao hay chấm thấp của chính người đó với những "
        "người khác.",
    ),
    "scorer-bias": (
        "Người chấm thiên lệch có hệ thống",
        "Cùng một người chấm lệch cùng một chiều cho cùng một cán bộ ở nhiều kỳ đánh giá, "
        "thường hơn mức ngẫu nhiên cho phép.",
    ),
    "amendments": (
        "Sửa phiếu chấm",
        "Việc sửa phiếu đã đổi mức xếp loại theo điểm, hoặc lý do sửa quá sơ sài hay nói là "
        "“theo chỉ đạo”; lý do niêm phong mà người chạy kiểm tra không đọc được thì ghi "
        "“chưa đánh giá: văn bản niêm phong”.",
    ),
    "late-change": (
        "Thay đổi muộn",
        "Một hành vi thay đổi hồ sơ sau khi đã kiểm phiếu, công khai hoặc có khiếu nại; với "
        "quyết định xếp loại lại, ghi chiều (lên hay xuống) cùng mức cũ và mức mới.",
    ),
    "retaliation": (
        "Dấu hiệu trù dập người khiếu nại",
        "Sau khi một người khiếu nại: chứng cứ bất lợi mới, điểm bị hạ, quyết định thấp hơn "
        "hoặc không được sửa dù khiếu nại được chấp nhận — trong cùng kỳ hay kỳ sau (so với "
        "thay đổi của những người khác giữa hai kỳ).",
    ),
    "decision-departure": (
        "Quyết định khác đề xuất hoặc khác kết quả chấm",
        "Mức quyết định khác mức cơ quan tham mưu đề xuất, hoặc thấp hơn mức điểm cho phép mà "
        "không có chứng cứ buộc phải hạ, không do tỷ lệ hoàn thành xuất sắc nhiệm vụ hay do "
        "mức của tập thể; kèm căn cứ đã nêu. Chứng cứ được viện dẫn nhưng không buộc phải hạ "
        "(ví dụ 5 % nhiệm vụ chưa hoàn thành) không phải là lời giải thích.",
    ),
    "panel-change": (
        "Thay đổi hội đồng chấm",
        "Thêm người chấm sau hội nghị rồi người đó chấm; người chấm một lần rồi bị rút; người "
        "chấm rồi mới khai xung đột lợi ích; kiểm phiếu khi người dự họp trong hội đồng chưa "
        "chấm; hội đồng chấm không đủ.",
    ),
    "formalism": (
        "Dấu hiệu hình thức, nể nang",
        "Cả kỳ: phiếu của mọi người giống hệt nhau, hội nghị không có ý kiến nào (biên bản "
        "không ghi gì), mọi cán bộ cùng một mức.",
    ),
    "deadline": (
        "Sát hạn hoặc quá hạn",
        "Các hành vi làm sau hạn của kỳ (nhờ ngoại lệ) hoặc trong mấy ngày cuối trước hạn.",
    ),
    "complaint-unanswered": (
        "Khiếu nại quá hạn chưa được trả lời",
        "Khiếu nại chưa được thụ lý hoặc giải quyết khi thời hạn luật định đã qua (theo các "
        "sự kiện sau đó trong sổ).",
    ),
    "late-publication": (
        "Công khai chậm",
        "Kết quả được công khai lâu sau quyết định cuối cùng.",
    ),
    "not-notified": (
        "Chưa thông báo",
        "Có quyết định nhưng chưa thông báo cho người được đánh giá.",
    ),
    "not-published": (
        "Chưa công khai",
        "Mọi người đã có quyết định nhưng kết quả chưa được công khai.",
    ),
    "quota-breach": (
        "Vượt tỷ lệ hoàn thành xuất sắc nhiệm vụ",
        "Số người được quyết định “Hoàn thành xuất sắc nhiệm vụ” trong một nhóm vượt mức trần "
        "(cũng là lỗi kiểm tra quy tắc V8).",
    ),
    "head-above-collective": (
        "Người đứng đầu cao hơn tập thể",
        "Người đứng đầu được xếp cao hơn tập thể mình phụ trách (cũng là lỗi kiểm tra quy tắc V8).",
    ),
    "undeclared-conflict": (
        "Xung đột lợi ích không khai báo",
        "Cùng một người ở cả hai phía: người ra quyết định bị khiếu nại, hoặc đã chấm điểm "
        "người khiếu nại, lại thụ lý hay giải quyết khiếu nại đó; hoặc người chấm điểm (cấp "
        "trên, cấp dưới trực tiếp, vợ/chồng, người thân), người đề xuất, người quyết định "
        "(vợ/chồng, người thân) có quan hệ được sổ đăng ký ghi nhận với người được đánh giá "
        "mà không khai báo xung đột lợi ích.",
    ),
}

TERMS: dict[str, dict[str, str]] = {
    "marked": {"up": "cao", "down": "thấp"},  # chấm cao/thấp hơn
    "moved": {"up": "lên", "down": "xuống", "same": "giữ nguyên mức"},  # xếp loại lại
    "milestone": {"tally": "kiểm phiếu", "publication": "công khai", "complaint": "khiếu nại"},
    "step": {
        "accept": "thụ lý",
        "resolve": "giải quyết",
        "accepted": "thụ lý",
        "resolved": "giải quyết",
    },
    "sign": {
        "identical-ballots": "phiếu giống hệt nhau",
        "silent-meetings": "hội nghị không có ý kiến",
        "uniform-levels": "mọi người cùng một mức",
    },
    # How a relation reads from the subject's side: "manager" — the other is their manager.
    "relation": {
        "manager": "cấp trên trực tiếp",
        "subordinate": "cấp dưới trực tiếp",
        "spouse": "vợ/chồng",
        "relative": "người thân",
    },
    "side": {"scorer": "chấm điểm", "proposer": "đề xuất mức", "decider": "quyết định"},
}

MESSAGES: dict[str, str] = {
    # ballot-deviation
    "ballot.deviation": "{scorer} chấm {cadre} {way} hơn phần còn lại của hội đồng {points} điểm",
    "ballot.pivotal": " — đổi mức xếp loại",
    # scorer-bias
    "bias": "{scorer} chấm {way} hơn hội đồng cho {cadre} ở {cycles}/{met} kỳ (trung bình "
    "{points} điểm)",
    # amendments
    "amend": "{n} lần sửa điểm, tổng ảnh hưởng {points} điểm",
    "amend.level": " — đổi mức {before} → {after}",
    "amend.directed": "; {n} lý do nói là “theo chỉ đạo”",
    "amend.thin": "; {n} lý do sơ sài",
    "amend.sealed": "; {n} lý do chưa đánh giá: văn bản niêm phong",
    # late-change
    "late": "{act} ({actor}) sau khi {after}",
    "late.revised": "xếp loại lại {way}: {old} → {new} ({actor}) sau khi {after}",
    # retaliation, in the same cycle
    "retaliation.figures": "số liệu kết quả thực hiện nhiệm vụ ghi sau khi khiếu nại hạ mức "
    "đạt được: {old} → {new}",
    "retaliation.evidence": "chứng cứ bất lợi ({evidence}) ghi sau khi khiếu nại",
    "retaliation.lowered": "điểm bị hạ sau khi khiếu nại",
    "retaliation.revised": "xếp loại lại thấp hơn ({old} → {new}) sau khi khiếu nại",
    "retaliation.kept": "khiếu nại được chấp nhận nhưng vẫn giữ mức {level}",
    # retaliation, the next cycle
    "retaliation.next": "sau khiếu nại ở kỳ {before}, kết quả kỳ {after} giảm",
    "retaliation.next.points": "sau khiếu nại ở kỳ {before}, kết quả kỳ {after} giảm "
    "{points} điểm so với người khác",
    "retaliation.next.level": "sau khiếu nại ở kỳ {before}, mức ở kỳ {after} giảm {old} → "
    "{new} với chứng cứ bất lợi mới (điểm không giảm so với người khác)",
    # panel-change
    "panel.conflict": "{scorer} chấm {cadre} rồi mới khai xung đột lợi ích: phiếu bị loại",
    "panel.tally": "kiểm phiếu với {n} phiếu; người dự họp chưa chấm: {who}",
    "panel.added": "{scorer} được thêm vào hội đồng sau hội nghị rồi chấm {n} người",
    "panel.withdrawn": "{scorer} chấm {n} người rồi bị rút khỏi hội đồng",
    "panel.partial": "{n} lần kiểm phiếu thiếu phiếu của {who} (không dự họp): hội đồng không đủ",
    # decision-departure
    "decision.below_proposal": "quyết định mức {level}, thấp hơn mức đề xuất {proposal}",
    "decision.above_proposal": "quyết định mức {level}, cao hơn mức đề xuất {proposal}",
    "decision.below_score": "xếp mức {level}, thấp hơn mức {highest} theo điểm, không có "
    "chứng cứ buộc phải hạ",
    # group rules
    "quota": "nhóm {group}: {n} người hoàn thành xuất sắc nhiệm vụ, vượt mức trần {cap} (khi "
    "có {base} người hoàn thành tốt nhiệm vụ)",
    "head": "người đứng đầu được xếp {level}, cao hơn tập thể ({collective})",
    # formalism
    "formalism": "dấu hiệu hình thức: {signs}",
    # time
    "complaint.late": "khiếu nại chưa được {step} sau {days} ngày (hạn {limit} ngày)",
    "publication.late": "công khai {days} ngày sau quyết định cuối cùng",
    "deadline": "{past} hành vi sau hạn {deadline} (có ngoại lệ), {close} hành vi chốt kết "
    "quả trong {days} ngày cuối",
    "not_notified": "có quyết định nhưng chưa thông báo cho người được đánh giá",
    "not_published": "mọi người đã có quyết định nhưng kết quả chưa được công khai",
    # undeclared-conflict
    "conflict.decider": "{who} ra quyết định bị khiếu nại và tự {step} khiếu nại đó",
    "conflict.scorer": "{who} đã chấm điểm người khiếu nại và {step} khiếu nại đó",
    "conflict.related": "{who} ({relation} của {owner}) là người {side} mà không khai báo "
    "xung đột lợi ích",
}

# A finding's statistic, by the name the report gives it (English, stable), for people.
STATISTICS: dict[str, str] = {
    "adverse act after a complaint": "hành vi bất lợi sau khiếu nại",
    "ballots taken out": "số phiếu bị loại",
    "panel members not scored": "số thành viên hội đồng chưa chấm",
    "pairs expected to show this by chance": "số cặp người chấm – cán bộ dự kiến có dấu hiệu "
    "này do ngẫu nhiên",
    "robust z: deviation from the rest of the panel ÷ spread": "độ lệch so với phần còn lại "
    "của hội đồng, chia cho độ phân tán (z bền vững)",
    "level the score gives, before and after": "mức theo điểm, trước và sau khi sửa",
    "levels between the decision and the proposal / the score": "số mức chênh giữa quyết "
    "định và đề xuất hoặc mức theo điểm",
    "HTXS decided": "số người được quyết định hoàn thành xuất sắc nhiệm vụ",
    "levels above the collective": "số mức cao hơn tập thể",
    "signs (identical ballots count twice)": "số dấu hiệu (phiếu giống hệt nhau tính hai lần)",
    "days without an answer (accept)": "số ngày chưa được thụ lý",
    "days without an answer (resolve)": "số ngày chưa được giải quyết",
    "days from the last decision to publication": "số ngày từ quyết định cuối cùng đến khi "
    "công khai",
    "acts past or close to the deadline": "số hành vi quá hạn hoặc sát hạn",
    "ballots by the member": "số phiếu của thành viên đó",
    "tallies on a partial panel": "số lần kiểm phiếu khi hội đồng không đủ",
    "same person on both sides": "cùng một người ở cả hai phía",
    "related and undeclared": "có quan hệ mà không khai báo",
    "change of the total beyond the others' median change (points)": "thay đổi tổng điểm "
    "so với thay đổi trung vị của những người khác (điểm)",
}
