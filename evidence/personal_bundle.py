"""A cadre's personal bundle: their own record, checkable offline by them alone.

The cycle's evidence bundle (``evidence.bundle``) carries every subject's acts — it
must, to replay the group's quota — so it goes to oversight and complaint handlers
only. A cadre (or a complainant about their own result) gets this one instead: the
events that touched their own result and nothing about anyone else's — the cycle's own
stream (opening, roster, roles, meetings, decisions for the whole unit) and their own
(self-assessment, the ballots about them, amendments, proposal, decisions, complaints
and the answers to them), the same set ``/v1/cycles/C/entries?cadre=X`` gives them —
with what an offline verifier needs to check them: the registry's stream (who holds
which key, since when, until when), the log key, one signed checkpoint with an
inclusion proof per event, and the earlier checkpoints the events were sealed in with
a consistency proof to it. Texts stay sealed, as in the log.

``cadreledger verify FILE`` checks V1–V7 as on any bundle (``ledger.bundle``), V10
(log time), and V11: each signer's key was registered to that very person before the
act, not revoked before it and valid at its time, by the registry's own events
replayed through the rules from the root of trust. It then says what it could not
check (``NOT_CHECKED``): whatever needs other people's acts.
"""

from __future__ import annotations

import json

from domain.acts import Act
from domain.model import Model
from domain.streams import REGISTRY_STREAM
from evidence.bundle import carried_skew, proved, trusted_roots, verify_records
from evidence.log import EvidencedLog
from ledger.bundle import Bundle, BundleError, event_finding, parse_bundle
from ledger.cosignature import WitnessPolicy
from ledger.envelope import Event
from ledger.errors import NOT_FOUND, Rejected
from ledger.keys import VerifierKey
from ledger.logtime import check_log_time
from ledger.verifier import CheckResult, Finding, Report
from projections.history import cycle_streams

FORMAT = "cadreledger-personal-bundle/1"
MEDIA_TYPE = "application/vnd.cadreledger.personal-bundle+json"

KEY_REGISTRY = (
    "key-registry",
    "Mỗi khóa ký đã được đăng ký cho chính người ký trước hành vi, chưa bị thu hồi và đã "
    "có hiệu lực; các sự kiện của sổ đăng ký được quy tắc chấp nhận từ khóa gốc",
    "Every signer's key was registered to that very person before the act, not revoked "
    "before it and valid at its time; the registry's own events are admitted by the rules "
    "from the root of trust",
)

# What a personal bundle cannot show, said with every report on one: (Vietnamese, English).
NOT_CHECKED: tuple[tuple[str, str], ...] = (
    (
        "Hành vi của người khác trong kỳ (hồ sơ, phiếu chấm về cán bộ khác): không có trong "
        "gói nên không được kiểm tra.",
        "Other people's acts in the cycle (their records, the ballots about other cadres): "
        "not in this bundle, so not checked.",
    ),
    (
        "Tỷ lệ (hạn mức HTXS) trên toàn đơn vị và nhóm: cần hành vi của mọi người.",
        "The quota (the HTXS cap) over the whole unit and group: it needs everyone's acts.",
    ),
    (
        "Tính đầy đủ: gói không chứng minh được rằng không có sự kiện nào bị bỏ sót ở cuối "
        "một luồng (ví dụ một quyết định sửa đổi sau cùng); chỗ trống ở giữa luồng thì V3 "
        "phát hiện. Hãy so với số phiên bản trên biên nhận bạn giữ.",
        "Completeness: the bundle cannot prove that no event was left out at the end of a "
        "stream (a last revised decision, say); a gap in the middle is caught by V3. Compare "
        "the stream versions on the receipts you hold.",
    ),
    (
        "V8 (mọi hành vi được quy tắc chấp nhận, vai trò người ký) và V9 (kết quả máy chủ "
        "phục vụ bằng kết quả tính lại) của cả kỳ: cần gói hồ sơ đầy đủ của kỳ (ủy ban kiểm "
        "tra, người giải quyết khiếu nại) hoặc cơ sở dữ liệu.",
        "V8 (every act admitted by the rules, the signers' roles) and V9 (what the server "
        "serves equals the recomputation) of the cycle: they need the cycle's full case "
        "bundle (inspection committee, complaint handlers) or the database.",
    ),
)
# Trust taken from the bundle itself, when not pinned: (Vietnamese, English) per input.
FROM_BUNDLE = {
    "log_key": (
        "Khóa của sổ cái lấy từ chính gói: hãy so với khóa tổ chức công bố (--log-key).",
        "The log key was taken from the bundle itself: compare it with the one the "
        "organisation publishes (--log-key).",
    ),
    "root_keys": (
        "Khóa gốc lấy từ chính gói: hãy so với khóa tổ chức công bố (--root-key).",
        "The root keys were taken from the bundle itself: compare them with those the "
        "organisation publishes (--root-key).",
    ),
}


def export_personal(ledger: EvidencedLog, cycle: str, cadre: str) -> Bundle:
    """``cadre``'s personal bundle of ``cycle``, as the log holds it now."""
    projector = ledger.projector
    projector.catch_up()
    found = projector.model.cycles.get(cycle)
    if found is None or cadre not in found.evaluations:
        raise Rejected(
            NOT_FOUND, f"Không tìm thấy {cycle}/{cadre!r}.", f"{cycle}/{cadre!r} was not found."
        )
    size = projector.model.position
    streams = [REGISTRY_STREAM, *cycle_streams(cycle, [cadre])]
    section = {"cycle": cycle, "cadre": cadre, "root_keys": list(ledger.root_keys)}
    return proved(ledger, streams, size).bundle(ledger, streams, {"personal": section}, FORMAT)


def write_personal(bundle: Bundle) -> bytes:
    return json.dumps(bundle.to_json(), ensure_ascii=False, indent=1).encode() + b"\n"


def is_personal(data: bytes) -> bool:
    """Whether ``data`` names itself a personal bundle (a cheap look before parsing)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def verify_personal(
    data: bytes,
    pinned: VerifierKey | None = None,
    root_keys: list[str] | None = None,
    witness_policy: WitnessPolicy | None = None,
) -> Report:
    """Check a personal bundle offline: V1–V7, V10, V11; and say what was not checked."""
    bundle = parse_bundle(data, FORMAT)
    section = bundle.sections.get("personal")
    if not isinstance(section, dict):
        raise BundleError("the bundle has no personal section")
    cycle, cadre, carried = section.get("cycle"), section.get("cadre"), section.get("root_keys")
    if not isinstance(cycle, str) or not isinstance(cadre, str) or not isinstance(carried, list):
        raise BundleError("the personal section needs 'cycle', 'cadre' and 'root_keys'")
    report, placed = verify_records(bundle, pinned, witness_policy)
    expected = [REGISTRY_STREAM, *cycle_streams(cycle, [cadre])]
    _listed(report.checks["V3"], bundle.streams, expected)
    check_log_time(
        [(i, e.stream, e.version, e.raw) for i, e in placed], report, carried_skew(bundle), "bundle"
    )
    report.checks["V11"] = _key_registry(placed, trusted_roots(report, root_keys, carried))
    report.annexes["personal"] = {"cycle": cycle, "cadre": cadre, "format": FORMAT}
    unchecked = list(NOT_CHECKED)
    if not pinned:
        unchecked.append(FROM_BUNDLE["log_key"])
    if not root_keys:
        unchecked.append(FROM_BUNDLE["root_keys"])
    report.annexes["not_checked"] = [{"vi": vi, "en": en} for vi, en in unchecked]
    return report


def _listed(check: CheckResult, streams: list[str], expected: list[str]) -> None:
    """A personal bundle lists exactly the registry's, the cycle's and the cadre's
    streams: one left unlisted would go unchecked for gaps (V3 checks listed ones)."""
    check.checked += 1
    if sorted(streams) != sorted(expected):
        check.fail(
            Finding(
                f"the bundle lists the streams {sorted(streams)}, not {sorted(expected)}",
                f"gói liệt kê các luồng {sorted(streams)}, không phải {sorted(expected)}",
            )
        )


def _key_registry(placed: list[tuple[int, Event]], roots: list[str]) -> CheckResult:
    """V11: the registry replayed through the rules from the root of trust, then every
    other act's signer held to it as it stood at that act's position."""
    check = CheckResult("V11", described=KEY_REGISTRY)
    acts = [
        (e, Act(e.statement, str(e.signer), e.hash.hex(), index, e.logged_at))
        for index, e in placed
    ]
    model = Model(roots)
    for event, act in acts:
        if event.stream != REGISTRY_STREAM:
            continue
        check.checked += 1
        violation = model.replay(act)
        if violation is not None:
            check.fail(
                event_finding(
                    act.position,
                    event,
                    f"a registry event the rules refuse: {violation.detail_en}",
                    f"sự kiện của sổ đăng ký bị quy tắc từ chối: {violation.detail_vi}",
                )
            )
    for event, act in acts:
        if event.stream == REGISTRY_STREAM:
            continue
        check.checked += 1
        try:
            model.registry.check_signer(act)
        except Rejected as e:
            check.fail(
                event_finding(
                    act.position,
                    event,
                    f"{act.actor}'s signing key: {e.detail_en}",
                    f"khóa ký của {act.actor}: {e.detail_vi}",
                )
            )
    return check
