"""V10, the log's time (thời điểm ghi sổ): what the verifier checks of ``logged_at``.

Every envelope of version 2 carries the time the sequencer admitted it, inside what
its event hash covers (``ledger.envelope``): changing it changes the hash, which the
chain (V3) and the checkpoints (V5, V6) then refuse. This check reads those times
along the log and holds them to the log's own rules:

- log times never decrease along the log (the sequencer stamps the statements it
  takes with max(its clock, the latest log time));
- no event of version 1 follows one of version 2 (a log never stops keeping time);
- each statement's ``issued_at`` is within the clock skew the ledger recorded at its
  start (``ledger_meta.max_clock_skew``) of its log time, either way;
- with a witness policy, no event the latest checkpoint covers was logged after a
  witness cosigned it (beyond the skew): witnesses bound the log's time from outside.

Events of version 1 (written before the log kept time) cannot be checked: they are
counted as unchecked, so V10 says "incomplete" rather than a ✓ it has not earned, and
every time rule the evaluation judged for them (deadlines, windows, key validity) was
judged by the signer's ``issued_at``. Events that are not readable envelopes are V1's.

The check reads each envelope with orjson (the times and nothing else): V1 has already
parsed every envelope strictly, and a forged time cannot survive V3, V5 and V6.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ledger.cosignature import (
    CosignatureError,
    WitnessPolicy,
    check_cosignatures,
    parse_lines,
)
from ledger.envelope import LOGGED_AT, MAX_CLOCK_SKEW_META
from ledger.note import NoteError, parse
from ledger.store import LogStore
from ledger.verifier import CheckResult, Finding, Report

LOG_TIME = (
    "log-time",
    "Thời điểm ghi sổ của mọi sự kiện không giảm theo thứ tự ghi, và thời điểm ký "
    "(issued_at) của mỗi tuyên bố cách nó không quá độ lệch đồng hồ cho phép",
    "Every event's log time never decreases along the log, and each statement's "
    "issued_at is within the allowed clock skew of it",
)
DEFAULT_SKEW = timedelta(minutes=5)


def check_log_time(
    rows: Iterable[tuple[int, str, int, bytes]],
    report: Report,
    max_skew: timedelta | None,
    source: str = "ledger",
) -> CheckResult:
    """Add V10 to ``report`` for the events ``rows`` (position, stream, version,
    envelope) in log order: all of a log's, or a bundle's. ``max_skew``: what the
    ledger recorded (``source`` says where it was read); None if none was (then the
    default is used, and said)."""
    times = LogTime(max_skew, source)
    times.add(rows)
    return times.finish(report)


class LogTime:
    """``check_log_time`` fed as the events are read (``add``, in log order, as often as
    there are rows): the verifier's own reading of a log feeds it, page by page, so that
    the log is read once. ``finish`` adds V10 to a report."""

    def __init__(self, max_skew: timedelta | None, source: str = "ledger") -> None:
        self.check = CheckResult("V10", described=LOG_TIME)
        self.skew = max_skew if max_skew is not None else DEFAULT_SKEW
        self.annex: dict[str, Any] = {
            "max_clock_skew_seconds": int(self.skew.total_seconds()),
            "max_clock_skew_source": source if max_skew is not None else "default",
            "v1_events": 0,
        }
        self.latest: datetime | None = None
        self.kept_time = False  # a version 2 envelope was seen

    def add(self, rows: Iterable[tuple[int, str, int, bytes]]) -> None:
        for position, stream, version, raw in rows:
            try:
                envelope = orjson.loads(raw)
                statement = envelope["statement"]
                issued = datetime.fromisoformat(statement["issued_at"]).astimezone(UTC)
                v = envelope["v"]
            except (ValueError, TypeError, KeyError):
                self.check.unchecked += 1  # not an envelope: V1 names it
                continue

            where: dict[str, Any] = {"position": position, "stream": stream, "version": version}
            if v == 1:
                self.annex["v1_events"] += 1
                if self.kept_time:
                    self.check.fail(
                        Finding(
                            "an envelope of version 1 (no log time) after the log began "
                            "keeping time",
                            "phong bì phiên bản 1 (không có thời điểm ghi sổ) sau khi sổ "
                            "đã ghi thời điểm",
                            **where,
                        )
                    )
                else:
                    self.check.unchecked += 1
                continue
            text = envelope.get("logged_at")
            if not isinstance(text, str) or not LOGGED_AT.fullmatch(text):
                self.check.unchecked += 1  # V1 names a malformed envelope
                continue
            self.kept_time = True
            logged = datetime.fromisoformat(text).astimezone(UTC)
            if self.latest is not None and logged < self.latest:
                self.check.fail(
                    Finding(
                        f"log time {text} is before the log time of an earlier event "
                        f"({self.latest.isoformat()})",
                        f"thời điểm ghi sổ {text} sớm hơn của một sự kiện ghi trước nó",
                        **where,
                    )
                )
            elif abs(issued - logged) > self.skew:
                self.check.fail(
                    Finding(
                        f"issued_at {statement['issued_at']} is more than "
                        f"{self.skew.total_seconds():g} s from the log time {text}",
                        f"thời điểm ký {statement['issued_at']} lệch quá "
                        f"{self.skew.total_seconds():g} giây so với thời điểm ghi sổ {text}",
                        **where,
                    )
                )
            else:
                self.check.checked += 1
            self.latest = logged if self.latest is None else max(self.latest, logged)

    def finish(self, report: Report) -> CheckResult:
        report.checks["V10"] = self.check
        report.annexes["log_time"] = self.annex
        if self.annex["v1_events"]:
            self.annex["note"] = (
                "events of envelope version 1 carry no log time: their time rules were judged "
                "by the signer's issued_at, and V10 could not check them"
            )
        return self.check


def recorded_skew(meta: dict[str, str]) -> timedelta | None:
    """The clock skew a ledger recorded (``ledger_meta.max_clock_skew``), if any."""
    value = meta.get(MAX_CLOCK_SKEW_META)
    if value is None or not value.isdigit():
        return None
    return timedelta(seconds=int(value))


def check_witnessed_time(
    check: CheckResult,
    view: LogStore,
    latest: tuple[int, str] | None,
    policy: WitnessPolicy,
    cosignatures: Callable[[int], Iterable[str]] | None,
    max_skew: timedelta | None,
) -> None:
    """V10 from outside: no event the latest checkpoint covers was logged after a
    policy witness cosigned that checkpoint (its cosignature's timestamp), beyond the
    clock skew (the witness's clock is not the log's). A log whose operator dates
    events later than the witnesses saw them is caught here; V7 says whether the
    cosignatures are there at all."""
    if latest is None or not latest[0] or cosignatures is None:
        return
    size, note = latest
    try:
        text = parse(note).text
        lines = [
            signature
            for line in cosignatures(size)
            for signature in parse_lines(line if line.endswith("\n") else line + "\n")
        ]
        ((_, _, _, raw),) = view.entries(size - 1, 1)
        logged = orjson.loads(raw).get("logged_at")
    except (NoteError, CosignatureError, ValueError, TypeError, AttributeError):
        return  # V5–V7 say what is wrong with the checkpoint or its lines, V1 the event
    if not isinstance(logged, str) or not LOGGED_AT.fullmatch(logged):
        return  # no log time to bound (version 1), or V1's finding
    last = datetime.fromisoformat(logged).astimezone(UTC)
    valid, _ = check_cosignatures(text, lines, policy.witnesses)
    skew = max_skew if max_skew is not None else DEFAULT_SKEW
    for witness, timestamp in valid.items():
        seen = datetime.fromtimestamp(timestamp, UTC)
        check.checked += 1
        if last > seen + skew:
            check.fail(
                Finding(
                    f"logged at {logged}, after witness {witness.name} cosigned the "
                    f"checkpoint of size {size} covering it ({seen.isoformat()})",
                    f"được ghi sổ lúc {logged}, sau khi nhân chứng {witness.name} đã đồng ký "
                    f"điểm kiểm tra kích thước {size} chứa nó ({seen.isoformat()})",
                    position=size - 1,
                    checkpoint_size=size,
                )
            )
