"""Why the evaluation rules refuse a statement: one problem type per rule.

Each is an RFC 9457 problem ``type`` (``/problems/<slug>``) in the rules' own catalogue,
``DOMAIN_PROBLEMS``; the API names that catalogue among those it documents
(``api/problems.py``), so a client can act on a refusal without parsing prose.
Importing this module changes nothing outside it.
"""

from __future__ import annotations

from ledger.errors import Catalogue, Rejected
from ledger.texts import SealedText

DOMAIN_PROBLEMS = Catalogue()
_p = DOMAIN_PROBLEMS.add

UNKNOWN_TYPE = _p(
    "unknown-statement-type", 400, "Loại tuyên bố không được hỗ trợ", "Unknown statement type"
)
INVALID_FIELD = _p("invalid-field", 400, "Trường dữ liệu không hợp lệ", "Invalid field")
UNKNOWN_KEY = _p(
    "unknown-key", 403, "Khóa chưa được đăng ký cho người này", "Key not registered to this person"
)
WEAK_KEY = _p(
    "weak-key",
    400,
    "Khóa công khai yếu: bậc nhỏ, ngoài nhóm bậc nguyên tố hoặc mã hóa không chuẩn",
    "Weak public key: small order, outside the prime-order group, or not canonical",
)
KEY_REVOKED = _p("key-revoked", 403, "Khóa đã bị thu hồi", "Key revoked")
KEY_NOT_YET_VALID = _p("key-not-yet-valid", 403, "Khóa chưa có hiệu lực", "Key not yet valid")
REVOCATION_BACKDATED = _p(
    "revocation-backdated",
    409,
    "Thu hồi khóa lùi thời điểm hiệu lực mà không nêu các hành vi bị chối bỏ",
    "A revocation back-dated past acts it does not name as disowned",
)
NOT_AUTHORISED = _p(
    "not-authorised", 403, "Không có thẩm quyền hoặc vai trò", "Wrong role or authority"
)
UNKNOWN_REFERENCE = _p(
    "unknown-reference", 404, "Không tìm thấy đối tượng được tham chiếu", "Unknown reference"
)
ALREADY_EXISTS = _p("already-exists", 409, "Đã tồn tại", "Already exists")
WRONG_PHASE = _p("wrong-phase", 409, "Sai bước hoặc sai thứ tự", "Wrong phase or order")
SELF_EVALUATION = _p(
    "self-evaluation",
    403,
    "Không được tự chấm, tự thẩm định, tự quyết định cho mình",
    "Nobody scores, appraises or decides their own evaluation",
)
CONFLICT_OF_INTEREST = _p(
    "conflict-of-interest", 403, "Đã khai báo xung đột lợi ích", "Declared conflict of interest"
)
SCORE_OUT_OF_RANGE = _p("score-out-of-range", 400, "Điểm ngoài khung", "Score out of range")
TALLY_MISMATCH = _p(
    "tally-mismatch", 409, "Kết quả kiểm phiếu không khớp", "Tally does not match the ballots"
)
LEVEL_NOT_ALLOWED = _p(
    "level-not-allowed",
    409,
    "Mức xếp loại trái quy định",
    "Level not allowed by the regime",
)
QUOTA_EXCEEDED = _p("quota-exceeded", 409, "Vượt tỷ lệ Hoàn thành xuất sắc", "HTXS quota exceeded")
HEAD_ABOVE_COLLECTIVE = _p(
    "head-above-collective",
    409,
    "Người đứng đầu xếp loại cao hơn tập thể",
    "Head rated above their collective",
)
DEADLINE_PASSED = _p(
    "deadline-passed", 409, "Quá hạn mà không có ngoại lệ", "Deadline passed without an exception"
)
REASON_REQUIRED = _p("reason-required", 400, "Thiếu lý do", "A reason is required")
MINUTES_ADOPTED = _p(
    "minutes-adopted",
    409,
    "Biên bản đã thông qua không được sửa",
    "Adopted minutes cannot be edited",
)
NOT_IN_REGIME = _p(
    "not-in-regime", 409, "Không áp dụng cho chế độ đánh giá này", "Not part of this regime"
)

# Holes an interested insider used within the rules (issue 15 §2): each its own type.
DATE_FROM_LOG = _p(
    "date-from-log",
    400,
    "Ngày do người ký tự ghi không được chấp nhận: thời điểm lấy theo sổ cái",
    "A date the signer wrote is not accepted: the time is the log's",
)
UNGROUNDED_LEVEL = _p(
    "ungrounded-level",
    409,
    "Hạ mức hoặc không xếp loại mà không có căn cứ được ghi nhận",
    "Level lowered or withheld without recorded, typed grounds",
)
NOT_MITIGABLE = _p(
    "not-mitigable",
    409,
    "Kết luận này không được giảm nhẹ",
    "This finding cannot be mitigated",
)
AGAINST_COMPLAINANT = _p(
    "against-complainant",
    409,
    "Xếp loại lại bất lợi cho người có khiếu nại được chấp nhận",
    "Re-classification against a complainant whose complaint was upheld",
)
ROLES_APART = _p(
    "roles-apart",
    403,
    "Cấp có thẩm quyền không được kiêm cơ quan tham mưu, thẩm định",
    "The authority may not also sit in the advisory body",
)
BALLOTS_MISSING = _p(
    "ballots-missing",
    409,
    "Chưa đủ phiếu chấm của các thành viên dự hội nghị",
    "Not every panel member present has cast a ballot",
)
TASK_CONDITIONS_UNMET = _p(
    "task-conditions-unmet",
    409,
    "Chưa đạt điều kiện về kết quả thực hiện nhiệm vụ của mức xếp loại",
    "The level's task conditions are not met",
)
APPEAL_NOT_OPEN = _p(
    "appeal-not-open",
    409,
    "Chưa được khiếu nại lần hai",
    "A second complaint is not open yet",
)
PROFILE_SUPERSEDED = _p(
    "profile-superseded",
    409,
    "Phiên bản hồ sơ chế độ đánh giá đã được thay thế",
    "The regime profile's version is superseded",
)
DECISION_OUTDATED = _p(
    "decision-outdated",
    409,
    "Quyết định xếp loại không còn phù hợp với hồ sơ",
    "A decision no longer follows from the record",
)


def exists(vi: str, en: str, **extensions: object) -> Rejected:
    return Rejected(
        ALREADY_EXISTS, f"Đã có {vi}.", f"{en[0].upper()}{en[1:]} already exists.", **extensions
    )


def unknown(vi: str, en: str, **extensions: object) -> Rejected:
    return Rejected(UNKNOWN_REFERENCE, vi, en, **extensions)


def wrong_phase(vi: str, en: str, **extensions: object) -> Rejected:
    return Rejected(WRONG_PHASE, vi, en, **extensions)


def require_reason(reason: str | SealedText, field: str = "reason") -> None:
    """A reason must say something; a sealed one does (intake refused it blank)."""
    if not isinstance(reason, SealedText) and not reason.strip():
        from domain.messages import field_name, refusal

        raise refusal(REASON_REQUIRED, "reason_required", {"field": field}, field=field_name(field))
