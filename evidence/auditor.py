"""Periodic audits: run the full verification, sign its summary as the auditor, and
append it to the ledger as an ``audit.reported`` statement.

The statement holds what a later reader needs to hold the auditor to their word: the
tree size and root they verified, each numbered check's status, the first bad event if
any, the fairness counts, and the SHA-256 of the full JSON report (kept by the auditor).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from datetime import UTC
from typing import TYPE_CHECKING, Any

from ledger.keys import SignerKey
from ledger.receipt import Receipt
from ledger.statement import sign_statement
from ledger.verifier import Report

if TYPE_CHECKING:
    from evidence.log import EvidencedLog

__all__ = ["Schedule", "run_audit", "summary"]

log = logging.getLogger(__name__)


def summary(
    report: Report, report_bytes: bytes, checkpoint: str, ledger: EvidencedLog
) -> dict[str, Any]:
    data = report.to_json()
    head = ledger.log_keys.open(checkpoint)
    fairness = data.get("fairness", {})
    return {
        "ok": data["ok"],
        "tree_size": head.size,
        "root": head.root.hex(),
        "checks": {c["id"]: c["status"] for c in data["checks"]},
        "first_bad": (
            {
                k: data["first_bad"][k]
                for k in ("check", "position", "event_hash")
                if k in data["first_bad"]
            }
            if data["first_bad"]
            else None
        ),
        "fairness": fairness.get("counts", {}),
        "report_sha256": hashlib.sha256(report_bytes).hexdigest(),
    }


def run_audit(ledger: EvidencedLog, auditor: SignerKey) -> tuple[Report, bytes, Receipt]:
    """Verify everything, then sign and append the summary; the report, its bytes, the
    statement's receipt. The checkpoint verified is taken before the verification, so
    the summary never claims more than was checked."""
    checkpoint = ledger.checkpoint()
    if ledger.rules is not None:
        ledger.projector.catch_up()
    report = ledger.verify()
    report_bytes = json.dumps(report.to_json(), ensure_ascii=False, indent=2).encode()
    statement = {
        "v": 1,
        "type": "audit.reported",
        "actor": auditor.name,
        # Signed by the log's clock: the writer admits it only near the log's time.
        "issued_at": ledger.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nonce": secrets.token_urlsafe(16),
        "audit": summary(report, report_bytes, checkpoint, ledger),
    }
    receipt = ledger.append(sign_statement(statement, auditor))
    return report, report_bytes, receipt


class Schedule:
    """Run ``run_audit`` every ``every`` seconds in a thread, while the service runs."""

    def __init__(self, ledger: EvidencedLog, auditor: SignerKey | None, every: float) -> None:
        self.ledger, self.auditor, self.every = ledger, auditor, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Schedule:
        if self.auditor is not None:
            self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        assert self.auditor is not None
        while not self._stop.wait(self.every):
            try:
                report, _, receipt = run_audit(self.ledger, self.auditor)
                log.info("audit at %d: %s", receipt.index, "pass" if report.ok else "FAIL")
            except Exception:
                log.exception("the scheduled audit could not run")
