"""The load drill: writers, readers of several roles and SSE followers on the real
service for a bounded time (docs/reliability.md, §5).

Errors must be 0, lost events 0 (every acknowledged statement stored once where its
receipt says, and delivered to every follower, in order), and the service's memory
flat (the last third of the run after warm-up at most ``rss_slack_mb`` MiB or
``rss_slack_ratio`` above the first). CI runs PostgreSQL for 45 s; ``--drill-scale``
lengthens it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.drills import CI, load
from cadreledger.service import Ledger

pytestmark = pytest.mark.drill


@pytest.mark.postgres
def test_postgres_service_under_mixed_load(pg_url: str, tmp_path: Path, drill_scale: float) -> None:
    plan = load.Plan(seconds=CI["load_seconds"] * drill_scale)
    figures = load.run(pg_url, tmp_path, plan)
    load.print_figures(figures, plan)
    data = figures.to_json(plan)
    print(json.dumps(data, ensure_ascii=False))
    assert data["errors"] == 0, data["error_samples"]
    assert data["problems"] == []
    assert data["lost"] == 0 and data["out_of_order"] == 0
    assert data["acknowledged"] > 200  # the load was real …
    assert set(data["kinds"]) >= {*load.WRITES, "timeline@", "ratings", "inclusion"}
    assert all(f["delivered"] >= data["acknowledged"] for f in data["followers"])
    assert data["followers"][0]["own_cuts"] > 0  # … and a follower resumed after a cut
    assert data["memory"]["flat"], data["memory"]


def test_the_checks_notice_lost_disordered_and_growing(tmp_path: Path) -> None:
    """The drill can fail: a receipt the log does not hold, a follower that skipped or
    reordered an event, and memory that keeps growing are all reported."""
    plan = load.Plan()
    drill = load.Drill(f"sqlite:///{tmp_path / 'load.db'}", tmp_path, plan)
    world, _ = load.prepare(drill.url, drill.keys, plan)
    with Ledger(drill.keys.settings(drill.url)) as ledger:
        size = ledger.size()
        nonce, body = world.now(
            world.attendees[0],
            "comment.made",
            cadre=world.commented[1],
            meeting=world.meeting_b,
            text="Ý kiến.",
        )
        receipt = ledger.submit(body)
    drill.figures.log_start = size
    drill.receipts[receipt.index] = (receipt.event_hash.hex(), world.attendees[0], nonce)
    drill.receipts[receipt.index + 1] = ("00" * 32, world.attendees[0], "never-sent")
    drill._check_stored()
    assert drill.figures.lost_in_log == 1  # the forged receipt, not the real one

    follower = load.Follower.__new__(load.Follower)
    follower.who, follower.everything = load.AUDITOR, True
    follower.connections = follower.cuts = follower.overflows = 0
    follower.events = [(receipt.index + 1, "00" * 32, 0.0), (receipt.index, "x", 0.0)]
    drill._check_follower(follower)
    assert drill.figures.lost_by_followers == 1  # the real one came with another hash
    assert drill.figures.out_of_order == 2  # a gap at the start, then backwards

    drill.figures.seconds = 60.0
    drill.figures.rss = [(float(t), 100_000 + 1_000 * t) for t in range(60)]  # +1 MB/s
    memory = drill.figures.memory(plan)
    assert memory["growth_mb"] > plan.rss_slack_mb and not memory["flat"]
    drill.figures.rss = [(float(t), 100_000 + 50 * (t % 7)) for t in range(60)]
    assert drill.figures.memory(plan)["flat"]
    # Growth that follows the writes: what the documented state per event explains is
    # flat (200 events/s at 5 KiB); what the leak found before took (18 KiB) is not.
    drill.figures.acks = [t / 200 for t in range(60 * 200)]
    for kib, flat in ((5, True), (18, False)):
        drill.figures.rss = [(float(t), 100_000 + kib * 200 * t) for t in range(60)]
        memory = drill.figures.memory(plan)
        assert memory["growth_mb"] > plan.rss_slack_mb and memory["flat"] is flat, memory
    assert not drill.figures.ok(plan)  # lost events fail the drill whatever the memory
