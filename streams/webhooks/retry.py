"""When a failed delivery is tried again, and when it becomes a dead letter."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: float = 2.0  # seconds before the second attempt (then ×2 each time)
    cap: float = 3600.0
    timeout: float = 15.0  # per request; the spec suggests 15–30 s
    concurrency: int = 16

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        full = min(self.cap, self.base * 2 ** (attempts - 1))
        delay = full / 2 + random.uniform(0, full / 2)
        return float(max(delay, min(retry_after or 0.0, self.cap)))
