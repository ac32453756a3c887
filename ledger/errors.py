"""Why the ledger refuses something, in words a person can read.

Every refusal carries a stable slug (the last part of its RFC 9457 problem ``type``),
the HTTP status it is answered with, and a message in Vietnamese and in English. The
core raises these; the HTTP edge (``api/problems.py``) renders them as problem details.
The status is kept with the declaration as plain data, so that a rule's refusal is
declared on one line; nothing here knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "/problems/"


@dataclass(frozen=True)
class Problem:
    """A kind of refusal: its slug, HTTP status and a one-line title in both languages."""

    slug: str
    status: int
    title_vi: str
    title_en: str

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug


class Rejected(Exception):
    """A request or statement the ledger refuses. Nothing was stored."""

    def __init__(self, problem: Problem, vi: str, en: str, **extensions: Any) -> None:
        super().__init__(en)
        self.problem = problem
        self.detail_vi = vi
        self.detail_en = en
        self.extensions = extensions


@dataclass
class Catalogue:
    """A room's problems by slug, so that the API can document each one (``api/problems.py``)."""

    by_slug: dict[str, Problem] = field(default_factory=dict)

    def add(self, slug: str, status: int, vi: str, en: str) -> Problem:
        problem = Problem(slug, status, vi, en)
        self.by_slug[slug] = problem
        return problem


PROBLEMS = Catalogue()
_p = PROBLEMS.add

# The request itself
MALFORMED_JSON = _p("malformed-json", 400, "JSON không hợp lệ", "Malformed JSON")
NOT_UTF8 = _p("not-utf8", 400, "Dữ liệu không phải UTF-8", "Input is not UTF-8")
DUPLICATE_KEY = _p("duplicate-key", 400, "Khóa JSON bị lặp", "Duplicate JSON key")
FLOAT_NOT_ALLOWED = _p(
    "float-not-allowed", 400, "Không chấp nhận số thực", "Floating-point numbers are not allowed"
)
INTEGER_OUT_OF_RANGE = _p(
    "integer-out-of-range", 400, "Số nguyên vượt giới hạn", "Integer out of the safe range"
)
NON_NFC_STRING = _p(
    "non-nfc-string", 400, "Chuỗi chưa chuẩn hóa Unicode NFC", "String is not Unicode NFC"
)
NON_ASCII_KEY = _p("non-ascii-key", 400, "Tên trường phải là ASCII", "Object keys must be ASCII")
PAYLOAD_TOO_LARGE = _p("payload-too-large", 413, "Dữ liệu quá lớn", "Payload too large")
INVALID_REQUEST = _p("invalid-request", 400, "Yêu cầu không hợp lệ", "Invalid request")

# The statement
UNKNOWN_VERSION = _p(
    "unknown-statement-version",
    400,
    "Phiên bản tuyên bố không được hỗ trợ",
    "Unknown statement version",
)
INVALID_STATEMENT = _p("invalid-statement", 400, "Tuyên bố không hợp lệ", "Invalid statement")
INVALID_KEY = _p("invalid-key", 400, "Khóa công khai không hợp lệ", "Invalid verifier key")
BAD_SIGNATURE = _p("bad-signature", 400, "Chữ ký không hợp lệ", "Signature does not verify")
SIGNER_MISMATCH = _p(
    "signer-mismatch",
    403,
    "Khóa ký không thuộc người thực hiện",
    "The signing key does not belong to the actor",
)
NONCE_REUSED = _p(
    "nonce-reused",
    409,
    "Mã nonce đã được dùng cho một tuyên bố khác",
    "Nonce already used for a different statement",
)
CLOCK_SKEW = _p(
    "clock-skew",
    400,
    "Thời điểm ký lệch quá xa giờ của sổ cái",
    "issued_at is too far from the log's time",
)

# Reads
NOT_FOUND = _p("not-found", 404, "Không tìm thấy", "Not found")
INVALID_RANGE = _p("invalid-range", 400, "Tham số vị trí không hợp lệ", "Invalid index or size")
# Refusals of requests whose every parameter fits the OpenAPI schema: what they break
# is a relation between parameters, or the state of the log — what no schema states.
UNKNOWN_CURSOR = _p(
    "unknown-cursor", 400, "Con trỏ không trỏ tới mục nào", "The cursor names no item"
)
CONFLICTING_PARAMETERS = _p(
    "conflicting-parameters",
    400,
    "Các tham số loại trừ nhau",
    "Mutually exclusive parameters given together",
)
UNAVAILABLE = _p(
    "unavailable", 503, "Dịch vụ tạm thời không sẵn sàng", "Service temporarily unavailable"
)
# A read-only server (a PostgreSQL streaming replica): writes go to the primary.
READ_ONLY = _p(
    "read-only",
    503,
    "Máy chủ chỉ đọc: hãy gửi tới máy chủ chính",
    "A read-only server: write to the primary",
)
