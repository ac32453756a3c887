"""C2SP tlog-tiles: served under /v1/log/, exported as static files, followed from both.

The client at the heart of this file (``MinimalClient``) is written from the specs
alone — C2SP tlog-tiles paths and bundles, C2SP signed-note and tlog-checkpoint, RFC
6962 hashing — with hashlib and ``cryptography``, and none of the project's own tile,
Merkle, note or envelope code: what any third party could write in an afternoon. It
reads a static export served by Python's http.server and checks everything: the
checkpoint's Ed25519 signature, every hash tile against the tree it stands for, the
signed root, each entry against the level-0 tile, each envelope against its entry,
and an old checkpoint's root against the new tree (consistency).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from access.tokens import AccessStore
from api.app import create_app
from api.rate_limit import RatePolicy
from cadreledger.cli import main
from cadreledger.service import Ledger
from evidence.tile_export import ExportError, export_tiles
from ledger.checkpoint import open_checkpoint
from ledger.tilelog import format_index, parse_index
from streams.follow import CannotFollow, Discrepancy
from streams.follow_tiles import TileFollower
from tests.conftest import IN_CI, People
from tests.paths import TESTS
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle
from tests.streaming import serving

# -- an independent client, from the specs ----------------------------------------------


def _sha(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash over leaf *hashes*."""
    if not leaves:
        return _sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return _sha(b"\x01", mth(leaves[:k]), mth(leaves[k:]))


def c2sp_index(n: int) -> str:
    """tlog-tiles: N in zero-padded 3-digit elements, all but the last x-prefixed."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def c2sp_path(kind: str, n: int, width: int) -> str:
    return f"tile/{kind}/{c2sp_index(n)}" + (f".p/{width}" if width < 256 else "")


class MinimalClient:
    """Follows a tlog-tiles prefix over HTTP, trusting only the log's verifier key."""

    def __init__(self, prefix: str, vkey: str) -> None:
        self.prefix = prefix.rstrip("/") + "/"
        name, key_id, b64 = vkey.split("+", 2)
        raw = base64.b64decode(b64)
        assert raw[0] == 0x01  # C2SP signed-note Ed25519
        self.name, self.key_id, self.key = name, bytes.fromhex(key_id), raw[1:]

    def get(self, path: str) -> bytes:
        r = httpx.get(self.prefix + path)
        assert r.status_code == 200, f"{path}: {r.status_code}"
        return r.content

    def checkpoint(self, text: str | None = None) -> tuple[int, bytes]:
        """Check the signed note (C2SP signed-note) and read size and root."""
        note = text if text is not None else self.get("checkpoint").decode()
        body, _, sigs = note.partition("\n\n")
        body += "\n"
        for line in sigs.splitlines():
            dash, name, sig = line.split(" ")
            blob = base64.b64decode(sig)
            if dash == "—" and name == self.name and blob[:4] == self.key_id:
                Ed25519PublicKey.from_public_bytes(self.key).verify(blob[4:], body.encode())
                break
        else:
            raise AssertionError("no signature by the log key")
        origin, size, root = body.splitlines()[:3]
        assert origin == self.name
        return int(size), base64.b64decode(root)

    def follow(self, old: tuple[int, bytes] | None = None) -> dict[str, Any]:
        """Read everything; check it all; what was found."""
        size, root = self.checkpoint()
        levels: list[list[bytes]] = []  # every hash of each tile level, left to right
        level = 0
        while size >> (8 * level):
            count = size >> (8 * level)
            row = b""
            for n in range(-(-count // 256)):
                width = min(256, count - 256 * n)
                data = self.get(c2sp_path(str(level), n, width))
                assert len(data) == 32 * width
                row += data
            levels.append([row[i : i + 32] for i in range(0, len(row), 32)])
            level += 1
        leaves = levels[0]
        assert mth(leaves) == root, "the tiles do not give the signed root"
        for lv in range(1, len(levels)):  # each hash: the MTH of a full tile below it
            for i, h in enumerate(levels[lv]):
                assert h == mth(leaves[i * 256**lv : (i + 1) * 256**lv]), (lv, i)
        entries: list[bytes] = []
        envelopes: list[bytes] = []
        for n in range(-(-size // 256)):
            width = min(256, size - 256 * n)
            entries += _bundle(self.get(c2sp_path("entries", n, width)), 2)
            envelopes += _bundle(self.get(c2sp_path("envelopes", n, width)), 4)
        assert len(entries) == len(envelopes) == size
        for i, (entry, envelope) in enumerate(zip(entries, envelopes, strict=True)):
            assert _sha(b"\x00", entry) == leaves[i], f"entry {i} is not in the tree"
            assert hashlib.sha256(envelope).digest() == entry, f"envelope {i}"
        if old is not None:
            assert mth(leaves[: old[0]]) == old[1], "not consistent with the old checkpoint"
        return {"size": size, "root": root, "entries": entries, "envelopes": envelopes}


def _bundle(data: bytes, prefix: int) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        n = int.from_bytes(data[at : at + prefix], "big")
        out.append(data[at + prefix : at + prefix + n])
        at += prefix + n
    assert at == len(data)
    return out


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Python's http.server over ``directory``: a stand-in for any static host or CDN."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fill(ledger: Ledger, people: People, n: int) -> None:
    for i in range(n):
        ledger.append(people.statement(cadre=f"c{i % 7}", general=i % 30))


# -- the paths ---------------------------------------------------------------------------


def test_index_paths_follow_the_spec() -> None:
    for n in (0, 1, 999, 1000, 1234067, 10**9):
        assert format_index(n) == c2sp_index(n)
        assert parse_index(c2sp_index(n)) == (n, None)
    assert format_index(1234067) == "x001/x234/067"
    assert format_index(5, 17) == "005.p/17" and parse_index("005.p/17") == (5, 17)
    for bad in ("5", "x000/005", "005.p/0", "005.p/256", "005.p/017", "001/234", "x1/234"):
        with pytest.raises(ValueError):
            parse_index(bad)


# -- served ------------------------------------------------------------------------------


def test_the_service_serves_tiles_and_bundles(ledger: Ledger, people: People) -> None:
    fill(ledger, people, 300)
    client = TestClient(create_app(ledger))
    full = client.get("/v1/log/tile/0/000")
    assert full.status_code == 200 and len(full.content) == 8192
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    stored = ledger.store.read_tiles([(0, 0), (0, 1), (1, 0)])
    assert full.content == stored[(0, 0)]
    partial = client.get("/v1/log/tile/0/001.p/44")
    assert partial.content == stored[(0, 1)]
    assert partial.headers["cache-control"] == "public, max-age=60"
    assert client.get("/v1/log/tile/0/001.p/10").content == stored[(0, 1)][: 32 * 10]
    assert client.get("/v1/log/tile/1/000.p/1").content == stored[(1, 0)]
    entries = _bundle(client.get("/v1/log/tile/entries/000").content, 2)
    envelopes = _bundle(client.get("/v1/log/tile/envelopes/001.p/44").content, 4)
    rows = ledger.entries(0, 300)
    assert [e.hex() for e in entries] == [r["event_hash"] for r in rows[:256]]
    assert [e.decode() for e in envelopes] == [r["envelope"] for r in rows[256:]]
    for i, e in enumerate(entries):  # each entry's RFC 6962 leaf hash is the tile's
        assert _sha(b"\x00", e) == full.content[32 * i : 32 * i + 32]
    # What no checkpoint covers, and what is not a tile path: 404, never cached.
    for url in (
        "/v1/log/tile/0/001",  # not full yet
        "/v1/log/tile/0/001.p/45",  # beyond the signed size
        "/v1/log/tile/entries/001.p/45",
        "/v1/log/tile/envelopes/002",
        "/v1/log/tile/2/000.p/1",
        "/v1/log/tile/0/x000/000",  # a second spelling of tile 0
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["cache-control"] == "no-store"
    assert client.get("/v1/log/tile/64/000").status_code == 400  # levels are 0–63


# -- exported and followed ---------------------------------------------------------------


def test_an_independent_client_verifies_the_static_export(
    ledger: Ledger, people: People, tmp_path: Path
) -> None:
    out = tmp_path / "log"
    fill(ledger, people, 70)
    first = export_tiles(ledger, out, envelopes=True)
    assert (first.size, first.previous) == (70, 0)
    with static_server(out) as url:
        client = MinimalClient(url, str(ledger.log_key))
        seen = client.follow()
        assert seen["size"] == 70
        old = (seen["size"], seen["root"])
        fill(ledger, people, 600)  # past two full tiles, into a partial third
        again = export_tiles(ledger, out, envelopes=True)
        assert again.previous == 70 and again.size == 670
        assert again.bundles == 2 * 3  # bundles 0 and 1 full, 2 partial; none rewritten
        seen = client.follow(old)
        stored = [e["event_hash"] for e in ledger.entries(0, 1000)]
        assert [e.hex() for e in seen["entries"]] == stored
    assert export_tiles(ledger, out, envelopes=True).files == 0  # nothing new


def test_the_export_refuses_a_directory_of_another_log(
    db_url: str, open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    """Same log key, other events (a fork, or the wrong database): nothing is written."""
    one = open_ledger(db_url)
    fill(one, people, 12)
    out = tmp_path / "log"
    export_tiles(one, out)
    other = open_ledger(f"sqlite:///{tmp_path / 'other.db'}")
    fill(other, people, 20)
    before = sorted(p for p in out.rglob("*"))
    with pytest.raises(ExportError, match="two different logs"):
        export_tiles(other, out)
    assert sorted(p for p in out.rglob("*")) == before
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{tmp_path / 'other.db'}", "tiles", "export", str(out)]
    )
    assert result.exit_code == 1, result.output


def test_tiles_export_command(ledger: Ledger, people: People, tmp_path: Path) -> None:
    fill(ledger, people, 5)
    db = ledger.settings.db
    out = tmp_path / "log"
    result = CliRunner().invoke(main, ["--db", db, "tiles", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "checkpoint").read_text() == ledger.checkpoint()
    assert (out / "tile/0/000.p/5").stat().st_size == 5 * 32
    assert not (out / "tile/envelopes").exists()  # statements only when asked for


def test_follow_a_static_export_and_resume(ledger: Ledger, people: People, tmp_path: Path) -> None:
    out, state, lines = tmp_path / "log", tmp_path / "state.json", tmp_path / "out.jsonl"
    fill(ledger, people, 40)
    export_tiles(ledger, out, envelopes=True)
    with static_server(out) as url:
        f = TileFollower(url, ledger.log_key, state, output=lines)
        assert f.run(once=True) == 40
        f.close()
        fill(ledger, people, 300)
        export_tiles(ledger, out, envelopes=True)
        f = TileFollower(url, ledger.log_key, state, output=lines)
        assert f.run(once=True) == 300  # a consistency proof from the tiles, then the rest
        f.close()
    got = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [e["data"]["index"] for e in got] == list(range(340))
    assert [e["id"] for e in got] == [e["event_hash"] for e in ledger.entries(0, 1000)]


def test_follow_the_service_tiles_and_a_directory(
    ledger: Ledger, people: People, tmp_path: Path
) -> None:
    fill(ledger, people, 260)
    with serving(create_app(ledger)) as url:
        f = TileFollower(url + "/v1/log", ledger.log_key, tmp_path / "a.json", filters={})
        assert f.run(once=True) == 260
    out = tmp_path / "log"
    export_tiles(ledger, out, envelopes=True)
    f = TileFollower(str(out), ledger.log_key, tmp_path / "b.json", filters={"cycle": "none-such"})
    assert f.run(once=True) == 0 and f.state.position == 259  # all checked, none wanted


def test_follow_stops_at_a_forged_envelope(ledger: Ledger, people: People, tmp_path: Path) -> None:
    fill(ledger, people, 10)
    out = tmp_path / "log"
    export_tiles(ledger, out, envelopes=True)
    bundle = out / "tile/envelopes/000.p/10"
    envelopes = _bundle(bundle.read_bytes(), 4)
    forged = json.loads(envelopes[6])
    forged["statement"]["general"] = 30  # a better score, the hash chain left as it was
    raw = json.dumps(forged, separators=(",", ":"), ensure_ascii=False).encode()
    envelopes[6] = raw
    bundle.write_bytes(b"".join(len(e).to_bytes(4, "big") + e for e in envelopes))
    f = TileFollower(str(out), ledger.log_key, tmp_path / "s.json", output=tmp_path / "o")
    with pytest.raises(Discrepancy) as stop:
        f.run(once=True)
    assert stop.value.check == "event-hash" and stop.value.position == 6
    assert f.state.position == 5  # the six before it were handed on, nothing after


def test_follow_stops_at_a_swapped_entry(ledger: Ledger, people: People, tmp_path: Path) -> None:
    fill(ledger, people, 10)
    out = tmp_path / "log"
    export_tiles(ledger, out, envelopes=True)
    bundle = out / "tile/entries/000.p/10"
    entries = _bundle(bundle.read_bytes(), 2)
    entries[3], entries[4] = entries[4], entries[3]  # reordered history
    bundle.write_bytes(b"".join(len(e).to_bytes(2, "big") + e for e in entries))
    f = TileFollower(str(out), ledger.log_key, tmp_path / "s.json")
    with pytest.raises(Discrepancy) as stop:
        f.run(once=True)
    assert stop.value.check == "inclusion"
    assert f.state.position == -1  # nothing is handed on before the tree checks out


def test_follow_stops_at_a_forked_log(
    db_url: str, open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    """The same key signs another history: the consistency proof from its tiles fails."""
    honest = open_ledger(db_url)
    fill(honest, people, 30)
    out = tmp_path / "log"
    export_tiles(honest, out, envelopes=True)
    state = tmp_path / "s.json"
    TileFollower(str(out), honest.log_key, state).run(once=True)
    forked = open_ledger(f"sqlite:///{tmp_path / 'fork.db'}")  # same log key
    fill(forked, people, 40)
    fork_dir = tmp_path / "fork"
    export_tiles(forked, fork_dir, envelopes=True)
    f = TileFollower(str(fork_dir), honest.log_key, state)
    with pytest.raises(Discrepancy) as stop:
        f.run(once=True)
    assert stop.value.check == "consistency"


def test_follow_needs_the_envelopes(ledger: Ledger, people: People, tmp_path: Path) -> None:
    fill(ledger, people, 3)
    out = tmp_path / "log"
    export_tiles(ledger, out)  # without --envelopes
    with pytest.raises(Discrepancy, match="envelopes"):
        TileFollower(str(out), ledger.log_key, tmp_path / "s.json").run(once=True)
    with pytest.raises(CannotFollow):
        TileFollower(str(tmp_path / "nowhere"), ledger.log_key, tmp_path / "t.json")


# -- a Go client: golang.org/x/mod/sumdb/{note,tlog} -------------------------------------

GO_CLIENT = TESTS / "clients" / "tlog_tiles_client.go"
GO_PATH = Path("/usr/share/gocode")  # Debian's golang-golang-x-mod-dev


def _go_client(tmp_path: Path) -> Path:
    """The Go client built against x/mod as Debian packages it (GOPATH mode: no module
    proxy); skipped without them (failed under CI)."""
    reason = None
    if shutil.which("go") is None:
        reason = "no Go toolchain (apt-get install golang-go golang-golang-x-mod-dev)"
    elif not (GO_PATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        reason = "no golang.org/x/mod source (apt-get install golang-golang-x-mod-dev)"
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    binary = tmp_path / "tlog-client"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GO_PATH)}
    env.setdefault("GOCACHE", str(tmp_path / "gocache"))
    subprocess.run(
        ["go", "build", "-o", str(binary), GO_CLIENT.name],
        cwd=GO_CLIENT.parent,
        env=env,
        check=True,
        timeout=600,
    )
    return binary


def test_go_tlog_client_verifies_the_static_export(
    ledger: Ledger, people: People, tmp_path: Path
) -> None:
    client = _go_client(tmp_path)
    out = tmp_path / "log"
    fill(ledger, people, 90)
    export_tiles(ledger, out, envelopes=True)
    old = open_checkpoint(ledger.checkpoint(), ledger.log_key)
    fill(ledger, people, 700)
    export_tiles(ledger, out, envelopes=True)
    with static_server(out) as url:
        args = [str(client), url, str(ledger.log_key)]
        ran = subprocess.run(
            [*args, str(old.size), base64.b64encode(old.root).decode()],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.startswith("OK size 790, 790 entries proved included, consistency 90→790")
        # A tampered tile is caught by the client, not only by ours.
        tile = out / "tile/0/001"
        data = bytearray(tile.read_bytes())
        data[40] ^= 1
        tile.write_bytes(bytes(data))
        ran = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 1 and "FAIL" in ran.stderr, ran.stdout


def test_follow_command_reads_tiles(ledger: Ledger, people: People, tmp_path: Path) -> None:
    fill(ledger, people, 12)
    out = tmp_path / "log"
    export_tiles(ledger, out, envelopes=True)
    args = ["follow", str(out), "--transport", "tiles", "--log-key", str(ledger.log_key)]
    events = tmp_path / "events.jsonl"
    state = ["--state", str(tmp_path / "s.json"), "--output", str(events), "--once"]
    result = CliRunner().invoke(main, [*args, *state])
    assert result.exit_code == 0, result.output
    assert len(events.read_text().splitlines()) == 12
    (out / "tile/entries/000.p/12").write_bytes(b"\x00\x20" + bytes(32) * 1)  # truncated
    result = CliRunner().invoke(main, [*args, "--state", str(tmp_path / "t.json"), "--once"])
    assert result.exit_code == 1 and "tile/entries/000.p/12" in result.output


def test_sealed_texts_stay_out_of_every_tile(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """Comments, reasons and grounds are disclosed sealed: the exported envelopes (and the
    served ones) hold their commitments, never their words."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.seal = True
    run_cycle(w)
    assert w.sealed, "the cycle disclosed no sealed text"
    out = tmp_path / "log"
    export_tiles(ledger, out, envelopes=True)
    published = b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())
    client = TestClient(create_app(ledger))
    size = ledger.size()
    for n in range(-(-size // 256)):
        width = min(256, size - 256 * n)
        published += client.get("/v1/log/" + c2sp_path("envelopes", n, width)).content
    for commitment, disclosure in w.sealed.items():
        assert disclosure.text.encode() not in published, disclosure.commitment
        assert commitment.encode() in published


def test_tiles_are_public_and_envelopes_need_the_log_readers_token(
    ledger: Ledger, people: People, tmp_path: Path
) -> None:
    """Anyone follows the tree; the statements themselves only with a token that may read
    the whole log (as /v1/log/entries): the follower says so, and works with one."""
    fill(ledger, people, 20)
    access = AccessStore(ledger.store)
    with serving(create_app(ledger, access=access)) as url:
        anonymous = httpx.get(url + "/v1/log/tile/entries/000.p/20")
        assert anonymous.status_code == 200
        assert anonymous.headers["cache-control"] == "public, max-age=60"
        assert httpx.get(url + "/v1/log/tile/0/000.p/20").status_code == 200
        assert httpx.get(url + "/v1/log/tile/envelopes/000.p/20").status_code == 401
        with pytest.raises(CannotFollow, match="token"):
            TileFollower(url + "/v1/log", ledger.log_key, tmp_path / "a.json").run(once=True)
        token, _ = access.issue("kiem-toan", roles=frozenset({"auditor"}))
        auditor = httpx.Client(headers={"Authorization": f"Bearer {token}"})
        envelopes = auditor.get(url + "/v1/log/tile/envelopes/000.p/20")
        assert envelopes.status_code == 200
        assert envelopes.headers["cache-control"] == "private, max-age=60"
        f = TileFollower(url + "/v1/log", ledger.log_key, tmp_path / "b.json", client=auditor)
        assert f.run(once=True) == 20


def test_a_rate_limited_follower_waits_rather_than_crying_fork(
    ledger: Ledger, people: People, tmp_path: Path
) -> None:
    """429s with Retry-After are waited out: being asked to slow down is no discrepancy."""
    fill(ledger, people, 600)
    app = create_app(ledger, rate=RatePolicy(rate=2.0, burst=2))
    with serving(app) as url:
        f = TileFollower(url + "/v1/log", ledger.log_key, tmp_path / "s.json", filters={})
        assert f.run(once=True) == 600
