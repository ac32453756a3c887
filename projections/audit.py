"""The evaluation's checks, after the log's V1–V6: every act replayed through the rules.

    V8 rules          every stored act is one the rules admit, in log order, judged by
                      the regime its cycle pinned; and no act was signed with a key at or
                      after the moment its revocation says the key was lost
    V9 recomputation  what the read model serves equals the state recomputed from the
                      events, as of the position it records

Fairness evidence (``projections.fairness``) is gathered in the same pass and
reported beside the checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from domain.acts import Act
from domain.model import Model, Violation
from ledger.store import LogStore
from ledger.verifier import CheckResult, Finding, Report
from projections.fairness import Fairness, FairnessSettings
from projections.source import stored_acts
from projections.views import VIEWS_VERSION, documents

RULES = (
    "rules",
    "Mọi hành vi đã lưu đều được quy tắc chấp nhận theo thứ tự ghi, và không khóa nào ký "
    "sau thời điểm bị thu hồi",
    "Every stored act is one the rules admit in log order, and no key signed after its "
    "revocation took effect",
)
RECOMPUTATION = (
    "recomputation",
    "Kết quả mô hình đọc phục vụ bằng kết quả tính lại từ các sự kiện",
    "What the read model serves equals the state recomputed from the events",
)


class _Signings:
    """Per key, the acts that set a new latest ``issued_at`` (prefix maxima): the first
    act signed at or after any time T is always among them."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[tuple[datetime, int, str]]] = {}

    def add(self, act: Act) -> None:
        marks = self.by_key.setdefault(act.signer, [])
        if not marks or act.issued_at > marks[-1][0]:
            marks.append((act.issued_at, act.position, act.event))

    def first_at_or_after(self, key: str, when: datetime, before: int) -> tuple[int, str] | None:
        for issued, position, event in self.by_key.get(key, []):
            if issued >= when and position < before:
                return position, event
        return None


def audit(
    store: LogStore,
    root_keys: Sequence[str],
    report: Report,
    fairness: FairnessSettings | None = None,
) -> Model:
    """Add V8, V9 and the fairness evidence to ``report``; the replayed model."""
    latest = store.latest_checkpoint()
    size = latest[0] if latest else 0
    served_at, version, served = _served(store)
    unreadable: list[int] = []
    model = audit_acts(
        stored_acts(store, 0, size, unreadable.append),
        root_keys,
        report,
        served=(served_at, version, served) if served is not None else None,
        fairness=fairness,
    )
    report.checks["V8"].unchecked += len(unreadable)  # V1 names them
    return model


def audit_acts(
    acts: Iterable[Act],
    root_keys: Sequence[str],
    report: Report,
    *,
    served: tuple[int, str, dict[str, Any]] | None,
    fairness: FairnessSettings | None = None,
    only_served: bool = False,
) -> Model:
    """V8 and V9 over ``acts`` (in log order). ``served``: the read model's position,
    version and documents; ``only_served`` compares just the documents given (a bundle
    carries a few) rather than requiring every recomputed one."""
    v8 = CheckResult("V8", described=RULES)
    v9 = CheckResult("V9", described=RECOMPUTATION)
    report.checks["V8"], report.checks["V9"] = v8, v9
    served_at = served[0] if served else -1
    model = Model(root_keys)
    watcher = Fairness(fairness)
    signings = _Signings()
    recomputed: dict[str, Any] | None = documents(model) if served_at == 0 else None
    for act in acts:
        try:
            violation = model.replay(act)
        except (KeyError, TypeError, ValueError) as e:
            # Signed nonsense the intake would never have taken (a missing or malformed
            # field): the rules cannot even read it.
            model.position = act.position + 1
            kind = str(act.statement.get("type"))
            violation = Violation(act.position, act.event, kind, "unreadable", str(e), str(e))
        v8.checked += 1
        if violation is not None:
            v8.fail(
                Finding(
                    f"{violation.type} would be refused: {violation.problem} — "
                    f"{violation.detail_en}",
                    f"{violation.type} lẽ ra bị từ chối: {violation.problem} — "
                    f"{violation.detail_vi}",
                    position=act.position,
                    event_hash=act.event,
                )
            )
        else:
            watcher.observe(act, model)
            signings.add(act)
        if act.position + 1 == served_at:
            recomputed = documents(model)
    if only_served and recomputed is None:
        # A bundle holds some streams only: they all lie below the position it served.
        recomputed = documents(model)
    _revoked_keys(model, signings, v8)
    if served is not None:
        position, version, docs = served
        if version != VIEWS_VERSION:
            v9.unchecked += 1
            v9.first = Finding(
                f"the read model was written by {version}, this verifier reads "
                f"{VIEWS_VERSION}: rebuild it (cadreledger rebuild) to compare",
                f"mô hình đọc do {version} ghi, trình kiểm tra này đọc {VIEWS_VERSION}: hãy "
                "dựng lại (cadreledger rebuild) để so sánh",
            )
        elif position > 0 and recomputed is None:
            v9.fail(
                Finding(
                    f"the read model claims position {position}, beyond the events",
                    f"mô hình đọc ghi vị trí {position}, vượt quá các sự kiện",
                    checkpoint_size=position,
                )
            )
        elif position > 0 and recomputed is not None:
            _compare(v9, position, docs, recomputed, only_served)
    report.annexes["fairness"] = watcher.report(model)
    return model


def _revoked_keys(model: Model, signings: _Signings, v8: CheckResult) -> None:
    """Acts that reached the log before a revocation, but were signed after the moment it
    says the key was lost (a revocation back-dated to a compromise)."""
    for person in model.registry.people.values():
        for record in person.keys.values():
            if record.revoked_effective is None or record.revoked_position is None:
                continue
            slipped = signings.first_at_or_after(
                record.text, record.revoked_effective, record.revoked_position
            )
            if slipped is not None:
                v8.fail(
                    Finding(
                        f"signed by {person.id}'s key at or after "
                        f"{record.revoked_effective.isoformat()}, when its revocation "
                        f"(event {record.revoked_by}) says it was lost",
                        f"ký bằng khóa của {person.id} từ "
                        f"{record.revoked_effective.isoformat()}, khi khóa đã bị mất theo "
                        f"việc thu hồi (sự kiện {record.revoked_by})",
                        position=slipped[0],
                        event_hash=slipped[1],
                    )
                )


def _served(store: LogStore) -> tuple[int, str, dict[str, Any] | None]:
    """The read model's position, version and documents, without creating anything."""
    try:
        rows = store.query("SELECT position, version FROM projection_position WHERE id = 1")
        docs = store.query("SELECT name, doc FROM projection_docs ORDER BY name")
    except Exception:  # never built here: no tables
        return 0, VIEWS_VERSION, None
    if not rows:
        return 0, VIEWS_VERSION, None
    served = {r["name"]: _document(r["doc"]) for r in docs}
    return int(rows[0]["position"]), str(rows[0]["version"]), served


def _document(text: str) -> Any:
    """A stored document, or a marker that equals no recomputation if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return {"unreadable": text[:200]}


def _compare(
    v9: CheckResult,
    position: int,
    served: dict[str, Any],
    recomputed: dict[str, Any],
    only_served: bool,
) -> None:
    fresh = json.loads(json.dumps(recomputed, ensure_ascii=False))
    names = set(served) if only_served else set(served) | set(fresh)
    for name in sorted(names):
        v9.checked += 1
        if served.get(name) != fresh.get(name):
            what = "missing from" if name not in served else "not recomputable from"
            v9.fail(
                Finding(
                    f"read model document {name!r} differs from the recomputation as of "
                    f"position {position} ({what} the events)",
                    f"tài liệu {name!r} của mô hình đọc khác kết quả tính lại tại vị trí "
                    f"{position}",
                    checkpoint_size=position,
                )
            )
