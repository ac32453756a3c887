"""``serve --read-only`` on a PostgreSQL streaming replica (docs/operations.md).

A private primary (``initdb`` on a free port) and a hot standby made from it with
``pg_basebackup -R``, both torn down at the end; never the machine's shared server.
What a replica must not do: show a checkpoint beyond its own events, a page of a cycle
its log does not hold yet, or take a write.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from access.tokens import AccessStore
from api.app import create_app
from bench.drills.cluster import server_programs
from bench.replication import Replicated
from cadreledger.config import ConfigError, Settings
from cadreledger.demo import UNIT, Demo
from cadreledger.service import Ledger
from ledger.checkpoint import Checkpoint
from ledger.keys import SignerKey
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from streams.webhooks import WebhookKeys
from tests.conftest import IN_CI, People
from tests.streaming import cli, free_port, serving, sse_messages, wait_http

INSPECTION = "ubkt.dongson"  # the demo's inspection committee: reads every cycle


@pytest.fixture(scope="module")
def clusters() -> Iterator[Replicated]:
    programs = server_programs()
    if programs is None:
        reason = "PostgreSQL's server programs (initdb, pg_basebackup) are not installed"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    pair = Replicated(programs)
    try:
        yield pair.start()
    finally:
        pair.stop()


class Pair:
    """The primary's writer ledger and a read-only ledger on the replica, same keys."""

    def __init__(self, clusters: Replicated, keys: Path) -> None:
        self.clusters = clusters
        self.keys = keys
        self.primary = Ledger(self.settings(clusters.primary.url))
        self.root = SignerKey.parse((keys / "root.key").read_text())
        self.token, _ = AccessStore(self.primary.store).issue(INSPECTION)
        self.opened: list[Ledger] = [self.primary]

    def settings(self, url: str) -> Settings:
        return Settings(
            db=url,
            log_key_file=str(self.keys / "log.key"),
            root_key_file=str(self.keys / "root.key"),
        )

    def replica(self) -> Ledger:
        ledger = Ledger(self.settings(self.clusters.replica_url), writer=False)
        self.opened.append(ledger)
        return ledger

    def cycle(self, cadres: int = 20) -> str:
        demo = Demo(self.primary, self.root, seed=len(self.opened), size=cadres)
        demo.run()
        self.cadre = demo.cadres[5].id
        self.unit = UNIT
        return demo.cycle

    def caught_up(self, replica: Ledger, timeout: float = 30) -> int:
        self.clusters.wait_replayed(timeout)  # tokens, the read model: all of it
        wanted = self.primary.size()
        deadline = time.monotonic() + timeout
        while (size := replica.size()) != wanted:
            assert time.monotonic() < deadline, f"replica at {size}, primary at {wanted}"
            time.sleep(0.05)
        return size

    def close(self) -> None:
        for ledger in reversed(self.opened):
            ledger.close()


@pytest.fixture(scope="module")
def pair(clusters: Replicated, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    made = Pair(clusters, tmp_path_factory.mktemp("replica-keys"))
    try:
        yield made
    finally:
        made.close()


def _client(ledger: Ledger, token: str) -> TestClient:
    app = create_app(ledger, access=AccessStore(ledger.store))
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def _checkpoint(ledger: Ledger, client: TestClient) -> Checkpoint:
    return ledger.log_keys.open(client.get("/v1/log/checkpoint").text)


def _hashes(items: list[str]) -> list[bytes]:
    return [base64.b64decode(h) for h in items]


@pytest.mark.postgres
def test_a_replica_serves_every_read_as_the_primary_does(pair: Pair) -> None:
    cycle = pair.cycle()
    pair.primary.projector.catch_up()  # the stored read model, replicated with the log
    replica = pair.replica()
    assert replica.replica and replica.sequencer is None
    size = pair.caught_up(replica)
    primary, standby = _client(pair.primary, pair.token), _client(replica, pair.token)
    with primary, standby:
        assert standby.get("/v1/log/checkpoint").text == primary.get("/v1/log/checkpoint").text
        cadre = pair.cadre
        for path in (
            "/v1/log/key",
            f"/v1/log/entries?start=0&limit={size}",
            f"/v1/log/proof/inclusion?index=3&size={size}",
            f"/v1/log/proof/consistency?from=5&to={size}",
            "/v1/cycles",
            f"/v1/cycles/{cycle}",
            f"/v1/cycles/{cycle}/ratings",
            f"/v1/cycles/{cycle}/cadres/{cadre}",
            f"/v1/cycles/{cycle}/cadres/{cadre}/timeline",
            f"/v1/cycles/{cycle}/timeline?limit=50",
            f"/v1/cycles/{cycle}/complaints",
            f"/v1/cycles/{cycle}/fairness",
            f"/v1/cycles/{cycle}?at=40",
            "/v1/regimes",
            f"/v1/units/{pair.unit}",
            f"/v1/cycles/{cycle}/entries?registry=true",
            f"/v1/events?after=-1&limit={size}",
            f"/v1/people/{INSPECTION}",
            "/v1/auth/whoami",
        ):
            mine, theirs = standby.get(path), primary.get(path)
            assert mine.status_code == theirs.status_code == 200, (path, mine.text)
            assert mine.content == theirs.content, path
        cosigned = "/v1/log/checkpoint/cosigned"  # no witnesses: none, on both
        assert standby.get(cosigned).status_code == primary.get(cosigned).status_code
        ui = standby.get("/ui/", follow_redirects=True)
        assert ui.status_code == 200


@pytest.mark.postgres
def test_a_replica_refuses_writes_and_names_the_primary(pair: Pair) -> None:
    replica = pair.replica()
    replica.primary = "https://primary.example/"
    with _client(replica, pair.token) as standby:
        answer = standby.post("/v1/statements", content=b'{"statement": {}, "signature": ""}')
        assert answer.status_code == 503
        problem = answer.json()
        assert problem["type"] == "/problems/read-only"
        assert problem["primary"] == "https://primary.example/"
        assert "primary.example" in problem["detail_vi"]
        # A sign-out would revoke the token: a write the standby cannot make either.
        standby.cookies.set("cadreledger_token", pair.token)
        out = standby.delete("/v1/auth/session")
        assert out.status_code == 503 and out.json()["type"] == "/problems/read-only"
    with pytest.raises(ConfigError, match="read-only replica"):
        Ledger(pair.settings(pair.clusters.replica_url))  # a writer on a standby


def _page(client: TestClient, path: str) -> Any:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.postgres
def test_a_lagging_replica_answers_as_of_the_log_it_has(pair: Pair) -> None:
    """Replay paused on the standby while the primary writes a whole new cycle: the
    replica keeps answering, consistently, as of where it is; then it catches up."""
    replica = pair.replica()
    before = pair.caught_up(replica)
    pair.clusters.pause_replay()
    try:
        cycle = pair.cycle()
        pair.primary.projector.catch_up()
        after = pair.primary.size()
        assert after > before
        time.sleep(0.5)  # the WAL reaches the standby, which does not apply it
        with _client(replica, pair.token) as standby:
            checkpoint = _checkpoint(replica, standby)
            assert checkpoint.size == before  # never the primary's newer one
            assert _page(standby, f"/v1/log/entries?start={before}")["entries"] == []
            proof = _page(standby, f"/v1/log/proof/inclusion?index={before - 1}&size={before}")
            last = _page(standby, f"/v1/log/entries?start={before - 1}&limit=1")["entries"][0]
            verify_inclusion(
                before - 1,
                before,
                leaf_hash(bytes.fromhex(last["event_hash"])),
                _hashes(proof["proof"]),
                checkpoint.root,
            )
            beyond = standby.get(f"/v1/log/proof/inclusion?index=0&size={after}")
            assert beyond.status_code == 400
            assert beyond.json()["type"] == "/problems/invalid-range"
            assert beyond.json()["tree_size"] == before
            assert standby.get(f"/v1/cycles/{cycle}").status_code == 404
            codes = [c["cycle"] for c in _page(standby, "/v1/cycles")["cycles"]]
            assert cycle not in codes
            feed = _page(standby, f"/v1/events?after={before - 2}")
            assert feed["tree_size"] == before and feed["caught_up"]
            assert [e["data"]["index"] for e in feed["events"]] == [before - 1]
    finally:
        pair.clusters.resume_replay()
    assert pair.caught_up(replica) == after
    with _client(replica, pair.token) as standby, _client(pair.primary, pair.token) as primary:
        newer = _checkpoint(replica, standby)
        assert newer.size == after
        proof = _page(standby, f"/v1/log/proof/consistency?from={before}&to={after}")
        verify_consistency(before, after, checkpoint.root, newer.root, _hashes(proof["proof"]))
        assert _page(standby, f"/v1/cycles/{cycle}") == _page(primary, f"/v1/cycles/{cycle}")


@pytest.mark.postgres
def test_a_replica_projects_beyond_the_read_model_it_was_given(pair: Pair) -> None:
    """The primary's projector has not caught up with its log (the stored read model is
    behind): a replica opened now serves the newest cycle from its own log anyway."""
    cycle = pair.cycle()  # no catch_up on the primary: the stored read model lags
    replica = pair.replica()
    size = pair.caught_up(replica)
    stored = int(str(pair.clusters.sql(pair.clusters.replica_url, _POSITION)))
    assert stored < size
    with _client(replica, pair.token) as standby:
        served = _page(standby, f"/v1/cycles/{cycle}")
    assert int(str(pair.clusters.sql(pair.clusters.replica_url, _POSITION))) == stored
    with _client(pair.primary, pair.token) as primary:
        assert served == _page(primary, f"/v1/cycles/{cycle}")


_POSITION = "SELECT position FROM projection_position WHERE id = 1"


@pytest.mark.postgres
def test_a_replicas_event_stream_follows_its_own_log(pair: Pair) -> None:
    """SSE from the standby (which cannot LISTEN): new events on the primary reach a
    client of the replica once the replica has them, in order, none skipped."""
    replica = pair.replica()
    if pair.primary.size() < 2:
        pair.cycle()
    start = pair.caught_up(replica)
    app = create_app(replica, access=AccessStore(replica.store))
    seen: list[int] = []
    writing = threading.Thread(target=pair.cycle)
    with serving(app) as url:
        headers = {"Authorization": f"Bearer {pair.token}"}
        with httpx.stream(
            "GET", f"{url}/v1/events/stream?after={start - 2}", headers=headers, timeout=30
        ) as stream:
            assert stream.status_code == 200
            for message in sse_messages(stream):
                if not message.data or message.id is None:
                    continue  # a heartbeat
                seen.append(int(message.id))
                if not writing.is_alive() and len(seen) == 1:
                    writing.start()  # the primary writes while the client listens
                if len(seen) > 1 and not writing.is_alive() and seen[-1] >= pair.primary.size() - 1:
                    break
    writing.join()
    assert seen == list(range(start - 1, pair.primary.size()))


@pytest.mark.postgres
def test_cli_serve_read_only_on_the_replica(pair: Pair, tmp_path: Path) -> None:
    """The command itself: reads answered, a write refused naming --primary; the
    primary's own work (webhooks, NATS, witnesses, audits) refused on a replica."""
    if pair.primary.size() < 2:
        pair.cycle()  # the inspection committee registered
    replica = pair.replica()
    pair.caught_up(replica)
    env = {
        "CADRELEDGER_LOG_KEY_FILE": str(pair.keys / "log.key"),
        "CADRELEDGER_ROOT_KEY_FILE": str(pair.keys / "root.key"),
    }
    assert AccessStore(replica.store).resolve(pair.token) is not None
    # The primary's webhook key is there (it served): the replica lists, never makes.
    WebhookKeys.load_or_create(pair.keys / "log.webhookkey")
    db = pair.clusters.replica_url
    refused = cli("--db", db, "serve", "--read-only", "--webhooks", env=env)
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 2 and "--webhooks" in err
    port = free_port()
    served = cli(
        *("--db", db, "serve", "--read-only", "--port", str(port)),
        *("--primary", "http://primary.example:8000"),
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/v1/log/key", timeout=60)
        note = httpx.get(f"{base}/v1/log/checkpoint").text
        assert note == pair.primary.checkpoint()
        write = httpx.post(f"{base}/v1/statements", content=b"{}")
        assert write.status_code == 503
        assert write.json()["primary"] == "http://primary.example:8000"
        cycles = httpx.get(f"{base}/v1/cycles", headers={"Authorization": f"Bearer {pair.token}"})
        assert cycles.status_code == 200 and cycles.json()["cycles"], cycles.text
        assert httpx.get(f"{base}/readyz").status_code == 200
    finally:
        served.terminate()
        served.communicate(timeout=30)


def test_a_reader_never_shows_a_checkpoint_beyond_its_events(
    open_ledger: Callable[..., Ledger], tmp_path: Path, people: People
) -> None:
    """An insider plants a signed-looking checkpoint row past the leaves the database
    holds (or a replica's copy of the checkpoints ran ahead of its leaves): a reader
    answers with the latest checkpoint its events fill."""
    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    writer = open_ledger(url)
    for i in range(3):
        writer.append(people.statement(cadre=f"c{i}"))
    real = writer.checkpoint()
    ahead = real.replace("\n3\n", "\n9\n", 1)
    writer.store.execute("INSERT INTO ledger_checkpoints (size, note) VALUES (?, ?)", (9, ahead))
    reader = open_ledger(url, writer=False)
    assert reader.checkpoint() == real and reader.size() == 3
