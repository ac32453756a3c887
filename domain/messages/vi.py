"""Thông điệp của các quy tắc, bằng tiếng Việt: thuật ngữ tiếng Việt, điểm dạng 70,00,
ngày dạng 01/12/2026, tên đầy đủ của mức xếp loại (domain.messages định dạng giá trị)."""

from __future__ import annotations

TERMS: dict[str, dict[str, str]] = {
    "role": {
        "authority": "cấp có thẩm quyền",
        "advisory": "cơ quan tham mưu, thẩm định",
        "chair": "người chủ trì hội nghị",
        "panel": "thành viên chấm điểm",
        "inspection": "ủy ban kiểm tra",
        "subject": "chính người được đánh giá (hoặc người đứng đầu tập thể)",
        "complainant": "chính người được đánh giá",
        "attendee": "người dự hội nghị",
        "registrar": "người đăng ký",
        "organiser": "người tổ chức kỳ đánh giá",
        "inspector": "ủy ban kiểm tra",
        "auditor": "kiểm toán viên",
        "integrator": "hệ thống tích hợp",
        "admin": "quản trị viên",
        "root": "gốc tin cậy",
    },
    "act": {
        "person.registered": "đăng ký người",
        "key.registered": "đăng ký khóa",
        "key.revoked": "thu hồi khóa",
        "role.granted": "cấp vai trò",
        "role.revoked": "thu hồi vai trò",
        "unit.registered": "đăng ký đơn vị",
        "relation.recorded": "ghi nhận quan hệ",
        "cycle.opened": "mở kỳ đánh giá",
        "cycle.roster": "lập danh sách đánh giá",
        "cycle.role_assigned": "giao vai trò trong kỳ",
        "cycle.role_withdrawn": "rút vai trò trong kỳ",
        "exception.recorded": "ghi nhận ngoại lệ về thời hạn",
        "quota.exception": "ghi nhận ngoại lệ về tỷ lệ",
        "self_assessment.submitted": "tự đánh giá",
        "meeting.held": "tổ chức hội nghị kiểm điểm",
        "comment.made": "góp ý",
        "minutes.adopted": "thông qua biên bản",
        "minutes.superseded": "thay biên bản",
        "conflict.declared": "khai báo xung đột lợi ích",
        "score.submitted": "chấm điểm",
        "score.amended": "sửa phiếu chấm",
        "confidence.tallied": "ghi kết quả lấy phiếu tín nhiệm",
        "tally.recorded": "ghi kết quả kiểm phiếu",
        "scoring.reopened": "mở lại việc chấm điểm",
        "evidence.recorded": "ghi nhận chứng cứ",
        "finding.recorded": "ghi kết luận kiểm tra",
        "appraisal.proposed": "đề xuất mức xếp loại",
        "decision.issued": "quyết định xếp loại",
        "decision.revised": "xếp loại lại",
        "notice.sent": "thông báo kết quả",
        "result.published": "công khai kết quả",
        "complaint.filed": "khiếu nại",
        "complaint.accepted": "thụ lý khiếu nại",
        "complaint.resolved": "giải quyết khiếu nại",
        "webhook.registered": "đăng ký webhook",
        "webhook.removed": "gỡ webhook",
        "audit.reported": "báo cáo kiểm toán",
    },
    "field": {
        "general": "điểm tiêu chí chung",
        "tasks": "điểm kết quả thực hiện nhiệm vụ",
        "total": "tổng điểm",
        "ballots": "số phiếu",
        "reason": "lý do",
        "text": "nội dung",
        "finding": "kết luận",
        "grounds": "căn cứ khiếu nại",
        "report": "báo cáo tự đánh giá",
        "date": "ngày",
        "deadline": "thời hạn",
        "until": "ngày hết ngoại lệ",
        "cadre": "người được đánh giá",
        "cycle": "kỳ đánh giá",
        "unit": "đơn vị",
        "year": "năm đánh giá",
        "regime": "chế độ đánh giá",
        "regime.hash": "mã băm của chế độ đánh giá",
        "settings": "tham số",
        "subjects": "danh sách đối tượng",
        "roles": "vai trò",
        "role": "vai trò",
        "person": "người",
        "attendees": "người dự hội nghị",
        "acts": "loại tuyên bố",
        "group": "nhóm",
        "evidence": "chứng cứ",
        "supersedes": "văn bản được thay thế",
        "cause": "căn cứ xếp loại lại",
        "amends": "phiếu được sửa",
        "meeting": "hội nghị",
        "comments": "danh sách góp ý",
        "complaint": "khiếu nại",
        "against": "quyết định bị khiếu nại",
        "appeal_of": "khiếu nại lần đầu",
        "level": "mức xếp loại",
        "kind": "loại",
        "form": "hình thức kỷ luật",
        "decided": "ngày quyết định",
        "percent": "tỷ lệ phần trăm",
        "votes": "số phiếu tín nhiệm",
        "low": "số phiếu tín nhiệm thấp",
        "key": "khóa",
        "name": "họ tên",
        "valid_from": "thời điểm có hiệu lực",
        "effective": "thời điểm mất khóa",
        "months_worked": "số tháng công tác",
        "leave_months": "số tháng nghỉ",
        "done": "tỷ lệ nhiệm vụ hoàn thành",
        "on_time": "tỷ lệ nhiệm vụ đúng hạn",
        "exceeded": "tỷ lệ nhiệm vụ vượt yêu cầu",
        "late": "tỷ lệ nhiệm vụ chậm",
        "upheld": "kết quả chấp nhận khiếu nại",
        "complex": "tính phức tạp",
    },
    "evidence": {
        "discipline": "kỷ luật",
        "degradation": "kết luận suy thoái, “tự diễn biến”, “tự chuyển hoá”",
        "tasks_failed": "tỷ lệ nhiệm vụ không hoàn thành",
        "unit_completion": "tỷ lệ hoàn thành nhiệm vụ của lĩnh vực phụ trách",
        "subordinate_kht": "tỷ lệ đơn vị cấp dưới không hoàn thành nhiệm vụ",
        "corruption": "tham nhũng, lãng phí",
        "criteria_failed": "tỷ lệ tiêu chí không đạt",
        "mitigation": "tình tiết giảm nhẹ",
        "task_figures": "số liệu kết quả thực hiện nhiệm vụ",
        "low_confidence": "phiếu tín nhiệm thấp",
    },
    "rule": {
        "thresholds": "ngưỡng điểm",
        "worked_under_6_months": "thời gian công tác dưới 6 tháng",
        "leave_3_to_6_months": "nghỉ từ 3 đến dưới 6 tháng",
        "forced_kht:discipline": "bị kỷ luật",
        "forced_kht:degradation": "có kết luận suy thoái",
        "forced_kht:tasks_failed": "quá nửa nhiệm vụ không hoàn thành",
        "forced_kht:unit_completion": "lĩnh vực phụ trách hoàn thành dưới mức",
        "forced_kht:subordinate_kht": "quá nửa đơn vị cấp dưới không hoàn thành nhiệm vụ",
        "forced_kht:corruption": "tham nhũng, lãng phí trong phạm vi phụ trách",
        "forced_kht:criteria_failed": "quá nửa tiêu chí không đạt",
        "forced_kht:low_confidence": "quá nửa phiếu tín nhiệm thấp",
        "task_conditions_unmet": "chưa đạt điều kiện về kết quả thực hiện nhiệm vụ",
        "task_conditions_not_on_record": "chưa có số liệu kết quả thực hiện nhiệm vụ",
    },
    "stage": {
        "filing": "nộp khiếu nại",
        "accept": "thụ lý khiếu nại",
        "resolve": "giải quyết khiếu nại",
        "appeal": "khiếu nại lần hai",
    },
}

MESSAGES: dict[str, str] = {
    # fields
    "field": "Trường {field} {problem}.",
    "field.missing": "bị thiếu",
    "field.code": "phải là mã chữ thường (a-z, 0-9, . _ - @)",
    "field.codes": "phải là danh sách mã",
    "field.bad_code": "chứa mã không hợp lệ {code}",
    "field.repeated_code": "có mã bị lặp",
    "field.event": "phải là mã băm sự kiện (64 ký tự hex)",
    "field.events": "phải là danh sách mã băm sự kiện",
    "field.bad_event": "chứa mã băm không hợp lệ",
    "field.repeated_event": "có mã băm bị lặp",
    "field.day": "phải là ngày dạng YYYY-MM-DD",
    "field.level": "phải là một trong các mức: {levels}",
    "field.choice": "phải là một trong: {options}",
    "field.object": "phải là một đối tượng",
    "field.points": "phải là số nguyên hoặc số thập phân tối đa 2 chữ số lẻ, viết “27.5”",
    "field.text": 'phải là văn bản hoặc {{"sealed": …}}',
    "field.text_length": "phải là văn bản tối đa {maximum} ký tự",
    "field.integer": "phải là số nguyên từ {low} đến {high}",
    "field.flag": "phải là true (có) hoặc false (không)",
    "field.time": "phải là thời điểm UTC dạng RFC 3339",
    "unknown_type": "Loại tuyên bố {type} không có trong danh mục.",
    "cycle.unknown": "Không có kỳ đánh giá {cycle}.",
    "cycle.exists": "kỳ đánh giá {cycle}",
    "regime.unknown": "không có trong danh mục hồ sơ (có: {known})",
    "regime.hash": "không khớp hồ sơ {regime} phiên bản {version} ({hash})",
    "regime.superseded": "Hồ sơ {regime} phiên bản {version} đã được thay bằng phiên bản "
    "{current} từ ngày {since}: kỳ đánh giá mới phải áp dụng phiên bản đang có hiệu lực.",
    "setting.unknown": "có tham số không hợp lệ: {setting}",
    "webhook.url": "phải là địa chỉ http(s)://máy-chủ/… tối đa {maximum} ký tự",
    "webhook.filter": "phải là đối tượng gồm types (danh sách loại tuyên bố), cycle, unit",
    "setting.type": "có tham số sai kiểu: {setting}",
    "setting.rounding": "có cách làm tròn tỷ lệ phải là floor (làm tròn xuống), round "
    "(làm tròn) hoặc ceil (làm tròn lên)",
    "person.unknown": "Không có người mang mã {person} trong sổ đăng ký.",
    "person.exists": "người {person}",
    "relation.self": "phải là một người khác",
    "relation.exists": "quan hệ giữa {person} và {related}",
    "key.name": "phải mang tên {person}",
    "key.exists": "khóa này",
    "key.unknown": "{person} không có khóa này.",
    "key.revoked_exists": "việc thu hồi khóa này",
    "stream.no_cycle": "Tuyên bố về một người được đánh giá phải nêu kỳ đánh giá.",
    "stream.identifier": "Trường {field} phải là mã chữ thường (a-z, 0-9, . _ -), tối đa 64 ký tự.",
    "key.not_registered": "Khóa {signer} chưa được đăng ký cho {actor}.",
    "key.revoked": "Khóa của {actor} đã bị thu hồi (sự kiện {event}).",
    "key.not_yet_valid": "Khóa chỉ có hiệu lực từ {since}.",
    "key.disowns": "phải là danh sách 1–{most} băm sự kiện (64 chữ số hex) khác nhau",
    "key.effective_late": "không được sau thời điểm của chính việc thu hồi",
    "key.revocation_backdated": (
        "Khóa đã ký hành vi (sự kiện {event}) ghi sổ lúc {used}, từ thời điểm hiệu lực "
        "{effective} trở đi: nêu các hành vi đó trong 'disowns' (băm sự kiện), "
        "hoặc lấy thời điểm hiệu lực muộn hơn."
    ),
    "key.format": "phải là khóa Ed25519 dạng tên+mã khóa+base64 (C2SP)",
    "key.weak.small-order": (
        "Khóa trong '{field}' là điểm bậc nhỏ: ai cũng ký được thay. Hãy tạo khóa mới."
    ),
    "key.weak.mixed-order": (
        "Khóa trong '{field}' không thuộc nhóm bậc nguyên tố (có thành phần bậc nhỏ), "
        "nên các bộ kiểm tra có thể đánh giá chữ ký khác nhau. Hãy tạo khóa mới."
    ),
    "key.weak.non-canonical": (
        "Khóa trong '{field}' không được mã hóa chuẩn (y ≥ 2²⁵⁵−19). Hãy tạo khóa mới."
    ),
    "key.weak.not-on-curve": "Khóa trong '{field}' không phải là điểm trên đường cong Ed25519.",
    "standing_role.exists": "vai trò {role}",
    "standing_role.not_held": "{person} không giữ vai trò {role}.",
    "unit.exists": "đơn vị {unit}",
    "unit.no_parent": "Không có đơn vị cấp trên {unit}.",
    "score_out_of_range": "{field} = {score} nằm ngoài khung 0–{maximum} điểm.",
    # roles, phases, references
    "registry.not_authorised": "{actor} không có vai trò cần thiết ({needed}) để {act}.",
    "not_authorised": "{actor} không có vai trò để {act} (cần: {needed}).",
    "self_evaluation": "{actor} không được {act} cho chính mình.",
    "conflict_of_interest": "{actor} đã khai báo xung đột lợi ích với {subject}.",
    "roles_apart": "{people}: cấp có thẩm quyền không được đồng thời là cơ quan tham mưu, "
    "thẩm định.",
    "roles.unknown": "có vai trò lạ: {roles}",
    "roles.missing": "phải có {role}",
    "role.not_held": "{person} không giữ vai trò {role}.",
    "role.held": "vai trò {role} của {person}",
    "role.last": "Kỳ đánh giá không thể thiếu {role}.",
    "no_roster": "Kỳ đánh giá chưa có danh sách.",
    "roster.exists": "danh sách đánh giá của kỳ này",
    "roster.empty": "phải là danh sách không rỗng",
    "roster.not_object": "chứa mục không phải đối tượng",
    "roster.repeated": "lặp {subject}",
    "roster.head_of": "{subject} đứng đầu một đối tượng không phải tập thể",
    "not_on_roster": "{subject} không có trong danh sách kỳ {cycle}.",
    "not_on_roster_many": "Không có trong danh sách: {subjects}.",
    "exception.no_deadline": "không có thời hạn: {acts}",
    "quota_exception.exists": "ngoại lệ tỷ lệ cho nhóm {group}",
    # self-assessment, meetings, minutes
    "self_assessment.after_meeting": "Tự đánh giá phải trước hội nghị kiểm điểm.",
    "meeting.unassessed": "Chưa tự đánh giá trước hội nghị: {subjects}.",
    "meeting.not_reviewing": "Hội nghị này không kiểm điểm {subject}.",
    "meeting.unknown": "Không có hội nghị này.",
    "minutes.adopted": "Biên bản hội nghị đã được thông qua; không thể thêm hay sửa.",
    "minutes.not_current": "Biên bản được thay phải là biên bản hiện hành của hội nghị này.",
    "minutes.comments": "Biên bản phải ghi đủ và đúng các góp ý tại hội nghị (thiếu {missing}, "
    "thừa {foreign}).",
    # ballots, tallies
    "conflict.exists": "khai báo xung đột lợi ích này",
    "ballot.exists": "phiếu chấm của người này (hãy sửa phiếu thay vì chấm lại)",
    "ballot.not_latest": "Phiếu được sửa phải là phiếu (hoặc lần sửa) mới nhất của chính "
    "người chấm.",
    "confidence.exists": "kết quả lấy phiếu tín nhiệm",
    "tally.exists": "kết quả kiểm phiếu",
    "tally.mismatch": "Kiểm phiếu ghi {stated_count} phiếu, tổng {stated_total} điểm; tính lại "
    "từ phiếu: {count} phiếu, {total} điểm.",
    "ballots_missing": "Cần {needed} phiếu chấm, mới có {count}.",
    "ballots_missing_from": "Cần {needed} phiếu chấm, mới có {count}; chưa chấm: {missing}.",
    "reopen.no_tally": "Chưa kiểm phiếu thì không cần mở lại.",
    "reopen.rated": "Đã có đề xuất hoặc quyết định: không mở lại việc chấm điểm.",
    "scoring.before_minutes": "Chỉ chấm điểm sau khi biên bản hội nghị kiểm điểm đã được "
    "thông qua.",
    "scoring.after_tally": "Đã kiểm phiếu: không thể chấm hay sửa điểm nữa.",
    "not_points": "Chế độ {regime} đánh giá theo tiêu chí, không chấm điểm.",
    # evidence
    "no_mitigation": "Chế độ này không cho áp dụng tình tiết giảm nhẹ.",
    "evidence.unknown": "Không có chứng cứ được dẫn.",
    "not_mitigable": "Chứng cứ về {kind} không được giảm nhẹ.",
    # appraisal, decisions
    "appraisal.decided": "Đã có quyết định; thay đổi phải qua xếp loại lại.",
    "appraisal.no_tally": "Chưa có kết quả kiểm phiếu.",
    "appraisal.no_minutes": "Chưa có biên bản hội nghị kiểm điểm.",
    "decision.exists": "quyết định cho người này (thay đổi bằng xếp loại lại)",
    "decision.no_proposal": "Chưa có đề xuất của cơ quan tham mưu, thẩm định.",
    "decision.differs": "Quyết định khác đề xuất thẩm định thì phải nêu lý do.",
    "revision.not_current": "Quyết định được thay phải là quyết định hiện hành của người này.",
    "revision.no_cause": "Căn cứ xếp loại lại phải là một khiếu nại được chấp nhận hoặc kết "
    "luận kiểm tra xác định kết quả sai, về chính người này.",
    "against_complainant": "Khiếu nại được chấp nhận không thể dẫn tới mức thấp hơn: "
    "“{level}” thấp hơn “{current}”.",
    "notice.undecided": "Chưa có quyết định để thông báo.",
    "publication.date": "Ngày công khai là ngày sổ cái ghi nhận; không ghi trường ngày.",
    "publication.undecided": "Còn {count} người chưa có quyết định: {subjects}…",
    "publication.exists": "việc công khai kết quả",
    "decision.outdated": "Quyết định xếp loại “{level}” của {subject} không còn phù hợp với hồ "
    "sơ hiện tại — {cause} Cần xếp loại lại (có căn cứ) trước khi công khai.",
    "grounds.mitigated": "Mức bị hạ dựa trên chứng cứ về {kind} mà nay đã có tình tiết giảm nhẹ.",
    # the level rule
    "level.forced": "Phải xếp loại “{level}” theo quy định: {why}.",
    "level.above": "“{level}” cao hơn mức tối đa kết quả cho phép: “{highest}”.",
    "level.none": "Chỉ “{level}” khi có căn cứ pháp lý (làm việc dưới 6 tháng…); {subject} "
    "không có căn cứ đó.",
    "level.lowered_reason": "Xếp “{level}” thấp hơn mức “{highest}” theo điểm thì phải nêu lý do.",
    "task_conditions_unmet": "Kết quả thực hiện nhiệm vụ được ghi nhận không đạt điều kiện "
    "của mức “{level}”; cao nhất là “{highest}”.",
    "grounds.unknown": "Chứng cứ được dẫn phải là chứng cứ đã ghi nhận về chính người này.",
    "grounds.kind": "Chứng cứ về {kind} không phải căn cứ hạ mức theo chế độ {regime}.",
    "grounds.quota_level": "Vì tỷ lệ chỉ được hạ từ “{high}” xuống “{low}”.",
    "grounds.not_head": "{subject} không đứng đầu tập thể nào.",
    "grounds.none": "Xếp “{level}” (dưới mức “{highest}”) phải dẫn chứng cứ đã ghi nhận hoặc "
    "tỷ lệ đã đủ; lý do tự do không phải căn cứ.",
    "grounds.quota_not_full": "{subject}: hạ xuống “{level}” vì tỷ lệ nhưng tỷ lệ Hoàn thành "
    "xuất sắc nhiệm vụ của nhóm {group} chưa đủ.",
    "grounds.collective": "{subject}: hạ theo mức của tập thể nhưng tập thể được xếp “{cap}”.",
    "grounds.collective_unrated": "{subject}: hạ theo mức của tập thể nhưng tập thể chưa được "
    "xếp loại.",
    "quota_exceeded": "Nhóm {group}: {htxs} người Hoàn thành xuất sắc nhiệm vụ, vượt mức tối "
    "đa {cap} ({base} người Hoàn thành tốt nhiệm vụ; {exception} ngoại lệ).",
    "head_first": "Phải xếp loại tập thể trước người đứng đầu.",
    "head_above_collective": "Người đứng đầu {head} không được xếp “{level}”, cao hơn tập thể "
    "“{cap}”.",
    # deadlines and complaints
    "deadline_passed": "Quá hạn {deadline} và không có ngoại lệ được ghi nhận.",
    "window_passed": "Quá thời hạn {days} ngày kể từ {since} ({stage}).",
    "complaint.against": "Quyết định bị khiếu nại phải là một quyết định về chính người khiếu nại.",
    "complaint.first_unknown": "Không có khiếu nại lần đầu này.",
    "appeal_not_open": "Khiếu nại lần đầu chưa được giải quyết và chưa hết thời hạn giải "
    "quyết ({limit}).",
    "complaint.unpublished": "Kết quả chưa được công khai.",
    "complaint.accepted_exists": "việc thụ lý khiếu nại này",
    "complaint.not_accepted": "Khiếu nại chưa được thụ lý.",
    "complaint.resolved_exists": "kết quả giải quyết khiếu nại này",
    "complaint.unknown": "Không có khiếu nại này.",
    "reason_required": "Phải nêu {field}.",
    "exists": "Đã có {what}.",
}


# What each problem type means, served by GET /problems/{slug}.
EXPLANATIONS: dict[str, str] = {
    "decision-outdated": (
        "Khi công khai, mọi quyết định được xét lại theo hồ sơ cuối cùng: kết quả kiểm "
        "phiếu (sau khi phiếu của người khai báo xung đột lợi ích bị loại), chứng cứ, "
        "xung đột lợi ích của người đề xuất, người quyết định. Quyết định không còn phù "
        "hợp phải được xếp loại lại trước khi công khai."
    ),
    "profile-superseded": (
        "Kỳ đánh giá mới chỉ được áp dụng phiên bản hồ sơ chế độ đánh giá đang có hiệu lực"
        " tại thời điểm sổ cái ghi nhận việc mở kỳ. Phiên bản cũ chỉ còn để xem lại các kỳ"
        " đã mở trước khi nó bị thay thế."
    ),
    "weak-key": (
        "Sổ đăng ký chỉ nhận khóa Ed25519 mà mọi bộ kiểm tra đánh giá như nhau: mã hóa "
        "chuẩn của một điểm thuộc nhóm bậc nguyên tố, như mọi bộ tạo khóa trung thực tạo "
        "ra. Khóa bậc nhỏ cho phép bất kỳ ai ký thay người giữ khóa; khóa bậc hỗn hợp hoặc "
        "mã hóa không chuẩn khiến các bộ kiểm tra có thể kết luận khác nhau (docs/SPEC.md §2)."
    ),
    "date-from-log": (
        "Thời điểm của mọi quy tắc là thời điểm sổ cái ghi nhận tuyên bố, không phải ngày"
        " người ký tự ghi. Việc công khai kết quả không được mang trường ngày: thời hạn "
        "90 ngày khiếu nại tính từ ngày sổ cái ghi nhận việc công khai."
    ),
    "ungrounded-level": (
        "Mức thấp hơn mức điểm số cho phép phải dẫn căn cứ có kiểu: chứng cứ đã ghi nhận "
        "thuộc loại chế độ đánh giá tính đến, kết quả lấy phiếu tín nhiệm, tỷ lệ Hoàn "
        "thành xuất sắc nhiệm vụ đã đủ, hoặc mức của tập thể do mình đứng đầu. Lý do tự "
        "do không phải căn cứ. “Không xếp loại” chỉ khi có căn cứ pháp lý (làm việc dưới "
        "6 tháng…)."
    ),
    "not-mitigable": (
        "Tình tiết giảm nhẹ (tự phát hiện, tự khắc phục) không áp dụng cho kết luận suy "
        "thoái, “tự diễn biến”, “tự chuyển hoá” hay tham nhũng, lãng phí."
    ),
    "against-complainant": (
        "Xếp loại lại sau khi khiếu nại được chấp nhận không được cho mức thấp hơn mức bị"
        " khiếu nại."
    ),
    "roles-apart": (
        "Cấp có thẩm quyền quyết định trên đề xuất của cơ quan tham mưu, thẩm định: một "
        "người không giữ cả hai vai trò trong một kỳ đánh giá."
    ),
    "ballots-missing": (
        "Chỉ kiểm phiếu khi mọi thành viên chấm điểm có mặt tại hội nghị kiểm điểm (trừ "
        "người được đánh giá và người đã khai báo xung đột lợi ích) đã chấm, trừ khi chế "
        "độ hoặc kỳ đánh giá quy định số phiếu tối thiểu."
    ),
    "task-conditions-unmet": (
        "Mỗi mức xếp loại có điều kiện về kết quả thực hiện nhiệm vụ (tỷ lệ hoàn thành, "
        "đúng hạn, vượt yêu cầu, chậm) theo chế độ đánh giá; số liệu đã ghi nhận của "
        "người được đánh giá không đạt điều kiện của mức này."
    ),
    "appeal-not-open": (
        "Khiếu nại lần hai chỉ được nộp khi khiếu nại lần đầu đã được giải quyết, hoặc đã"
        " hết thời hạn giải quyết mà chưa được giải quyết."
    ),
    "quota-exceeded": (
        "Số người Hoàn thành xuất sắc nhiệm vụ trong nhóm không vượt tỷ lệ so với số "
        "người Hoàn thành tốt nhiệm vụ; quy tắc được kiểm tra lại ở mọi quyết định và khi"
        " công khai, nên quyết định sau không thể phá vỡ điều quyết định trước đã tuân "
        "theo."
    ),
    "head-above-collective": (
        "Người đứng đầu không được xếp loại cao hơn tập thể do mình đứng đầu; điều này "
        "được kiểm tra lại cả khi tập thể được xếp loại lại."
    ),
}
