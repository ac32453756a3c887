"""The tamper drill: thousands of random tamperings, each on a fresh copy of a real ledger.

Each trial copies the drill's ledger (an SQLite file, or ``CREATE DATABASE … TEMPLATE``
on PostgreSQL), changes it the way one kind of attacker would, and runs the verifier
on the copy as an auditor would: the log key pinned, the tree heads of an earlier
passing run remembered. The harness knows what it changed, so it knows the answer the
verifier owes:

- ``position``: the first log position whose stored data is no longer what was
  sealed (an event, its index row, its tile hash, its nonce row), or — for data beyond
  the log, such as a junk index row — the first position that data claims;
- ``checkpoint``: the size of the checkpoint replaced, forged or refiled (no event is
  at fault);
- ``document``: the read-model document changed (V9; no event is at fault);
- ``meta``: the ``ledger_meta`` row changed (the verifier may refuse to run, naming it).

A trial is *detected* when the report fails (or verification refuses to run), and
*pinpointed* when the report's first bad event is that position (``exact``), or a range
``[position, until)`` holding it (``range``: V6 against remembered heads can do no
better once history was rewritten and resealed), or names that checkpoint, document or
metadata row.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.drills.base import Snapshot, lift
from bench.drills.databases import Sql, copy_of
from bench.drills.reseal import reseal
from cadreledger.service import Ledger
from domain.registry import key_name
from ledger.checkpoint import Checkpoint
from ledger.envelope import TOPIC, Event, wrap
from ledger.keys import SignerKey, VerifierKey
from ledger.statement import SignedStatement, sign_statement
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH

HASH = 32


@dataclass(frozen=True)
class Truth:
    """What a tampering changed: the answer the verifier owes."""

    what: str
    position: int | None = None
    checkpoint: int | None = None
    document: str | None = None
    meta: str | None = None


@dataclass
class Target:
    """A copy to tamper with, and what the harness knew before."""

    url: str
    sql: Sql
    base: Snapshot
    rng: random.Random

    @property
    def n(self) -> int:
        return self.base.size

    def position(self, low: int = 0, high: int | None = None) -> int:
        return self.rng.randrange(low, self.n if high is None else high)

    def event(self, position: int) -> tuple[int, str, int, bytes]:
        return self.base.events[position]

    def update_event(self, position: int, column: str, value: Any) -> None:
        nid = self.event(position)[0]
        self.sql.execute(
            f"UPDATE {self.sql.events} SET {column} = ? WHERE {self.sql.nid} = ?", (value, nid)
        )

    def insert_event(self, stream: str, version: int, raw: bytes, nid: int | None = None) -> None:
        columns = "originator_id, originator_version, topic, state"
        values: tuple[Any, ...] = (stream, version, TOPIC, raw)
        if nid is not None:
            columns, values = f"{self.sql.nid}, {columns}", (nid, *values)
        marks = ", ".join("?" * len(values))
        self.sql.execute(f"INSERT INTO {self.sql.events} ({columns}) VALUES ({marks})", values)

    def head(self, stream: str) -> tuple[int, bytes | None]:
        """The stream's last version and event hash, as the base holds it."""
        version, prev = 0, None
        for _, s, v, raw in self.base.events:
            if s == stream and v > version:
                version, prev = v, Event.parse(raw).hash
        return version, prev

    def tiles(self) -> list[tuple[int, int, bytes]]:
        rows = self.sql.query("SELECT level, idx, hashes FROM ledger_tiles ORDER BY level, idx")
        return [(int(lv), int(ix), bytes(h)) for lv, ix, h in rows]

    def reseal(self, statements: list[SignedStatement]) -> None:
        with Ledger(self.base.keys.settings(self.url), writer=False) as ledger:
            reseal(ledger.store, statements, self.base.keys.log_signer(), self.rng.randint(3, 17))


Kind = Callable[[Target], Truth | None]  # None: not applicable this time (collision …)
KINDS: dict[str, Kind] = {}


def kind(name: str) -> Callable[[Kind], Kind]:
    def register(f: Kind) -> Kind:
        KINDS[name] = f
        return f

    return register


# -- small changes ---------------------------------------------------------------------

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def flip_bit(data: bytes, rng: random.Random) -> tuple[bytes, int]:
    at = rng.randrange(len(data))
    changed = bytearray(data)
    changed[at] ^= 1 << rng.randrange(8)
    return bytes(changed), at


def flip_char(text: str, rng: random.Random, alphabet: str = _ALPHABET) -> str:
    at = rng.randrange(len(text))
    choices = [c for c in alphabet if c != text[at]]
    return text[:at] + rng.choice(choices) + text[at + 1 :]


def node_position(level: int, index: int, n: int) -> int:
    """The position a tile hash answers for: the first leaf under the node, or — for a
    node the tree of ``n`` leaves does not have — the first leaf it would need. (The
    verifier may place an inner node's problem as the range of leaves under it.)"""
    start, end = index << level, (index + 1) << level
    return start if end <= n else n


def _forger() -> SignerKey:
    return SignerKey.generate("ke-gia-mao")


def _forged(target: Target) -> SignedStatement:
    """A statement signed by someone with no standing, as a tamperer can make."""
    statement = {
        "v": 1,
        "type": "unit.registered",
        "actor": "ke-gia-mao",
        "issued_at": "2026-11-03T00:00:00Z",
        "nonce": f"forged{target.rng.getrandbits(64):016x}",
        "unit": "don-vi-ma",
        "name": "Đơn vị ma",
    }
    return sign_statement(statement, _forger())


# -- the events table ------------------------------------------------------------------


@kind("event-byte")
def _event_byte(t: Target) -> Truth:
    p = t.position()
    raw, at = flip_bit(t.event(p)[3], t.rng)
    t.update_event(p, "state", raw)
    return Truth(f"a bit of byte {at} of event {p}'s envelope flipped", position=p)


@kind("event-stream")
def _event_stream(t: Target) -> Truth:
    p = t.position()
    t.update_event(p, "originator_id", flip_char(t.event(p)[1], t.rng))
    return Truth(f"event {p} filed under another stream", position=p)


@kind("event-version")
def _event_version(t: Target) -> Truth:
    p = t.position()
    version = t.event(p)[2]
    t.update_event(p, "originator_version", t.rng.choice([0, version + 1000, 2 * version + 77]))
    return Truth(f"event {p} filed under another version", position=p)


@kind("event-topic")
def _event_topic(t: Target) -> Truth:
    p = t.position()
    t.update_event(p, "topic", flip_char(TOPIC, t.rng))
    return Truth(f"event {p}'s eventsourcing topic changed", position=p)


@kind("event-moved")
def _event_moved(t: Target) -> Truth:
    p = t.position(0, t.n - 1)
    last = t.base.events[-1][0]
    t.update_event(p, t.sql.nid, last + t.rng.randint(1, 50))
    return Truth(f"event {p} moved to the end of the commit order", position=p)


@kind("event-rows-swapped")
def _event_rows_swapped(t: Target) -> Truth:
    p, q = sorted(t.rng.sample(range(t.n), 2))
    a, b = t.event(p)[0], t.event(q)[0]
    table, nid = t.sql.events, t.sql.nid
    t.sql.execute(f"UPDATE {table} SET {nid} = ? WHERE {nid} = ?", (-1, a))
    t.sql.execute(f"UPDATE {table} SET {nid} = ? WHERE {nid} = ?", (a, b))
    t.sql.execute(f"UPDATE {table} SET {nid} = ? WHERE {nid} = ?", (b, -1))
    return Truth(f"events {p} and {q} swapped in commit order", position=p)


@kind("event-states-swapped")
def _event_states_swapped(t: Target) -> Truth:
    p, q = sorted(t.rng.sample(range(t.n), 2))
    t.update_event(p, "state", t.event(q)[3])
    t.update_event(q, "state", t.event(p)[3])
    return Truth(f"the envelopes of events {p} and {q} swapped", position=p)


@kind("event-deleted")
def _event_deleted(t: Target) -> Truth:
    p = t.position()
    t.sql.execute(f"DELETE FROM {t.sql.events} WHERE {t.sql.nid} = ?", (t.event(p)[0],))
    return Truth(f"event {p} deleted", position=p)


@kind("event-appended")
def _event_appended(t: Target) -> Truth:
    """A forged event chained correctly onto an existing stream, at the end."""
    stream = t.event(t.position())[1]
    version, prev = t.head(stream)
    t.insert_event(stream, version + 1, wrap(stream, version + 1, prev, _forged(t)))
    return Truth(f"a forged event appended to {stream}", position=t.n)


@kind("event-inserted")
def _event_inserted(t: Target) -> Truth:
    """A forged event slipped in between two others (later rows renumbered)."""
    p = t.position(1)
    nid = t.event(p)[0]
    table, col = t.sql.events, t.sql.nid
    shift = 10_000_000
    t.sql.execute(f"UPDATE {table} SET {col} = {col} + {shift} WHERE {col} >= ?", (nid,))
    t.sql.execute(f"UPDATE {table} SET {col} = {col} - {shift} + 1 WHERE {col} >= ?", (shift,))
    stream = "actor/ke-gia-mao"
    t.insert_event(stream, 1, wrap(stream, 1, None, _forged(t)), nid=nid)
    return Truth(f"a forged event inserted at position {p}", position=p)


@kind("event-hidden")
def _event_hidden(t: Target) -> Truth:
    """A forged event stored where the commit order does not reach (a notification id
    below the first), so that readers of the order never meet it."""
    stream = "actor/ke-gia-mao"
    t.insert_event(stream, 1, wrap(stream, 1, None, _forged(t)), nid=-t.rng.randint(0, 99))
    return Truth("a forged event hidden outside the commit order", position=t.n)


@kind("event-replayed")
def _event_replayed(t: Target) -> Truth:
    """A stored statement sealed a second time onto its stream, at the end."""
    p = t.position()
    _, stream, _, raw = t.event(p)
    version, prev = t.head(stream)
    t.insert_event(stream, version + 1, wrap(stream, version + 1, prev, lift(raw)))
    return Truth(f"event {p}'s statement replayed at the end", position=t.n)


@kind("log-cut-and-extended")
def _cut_and_extended(t: Target) -> Truth:
    """The tail from position k deleted with its index rows and checkpoints, and forged
    events written in its place (no log key: tiles and checkpoints left as they were)."""
    k = t.position(1)
    for nid, *_ in t.base.events[k:]:
        t.sql.execute(f"DELETE FROM {t.sql.events} WHERE {t.sql.nid} = ?", (nid,))
    t.sql.execute("DELETE FROM ledger_leaves WHERE idx >= ?", (k,))
    t.sql.execute("DELETE FROM ledger_nonces WHERE idx >= ?", (k,))
    t.sql.execute("DELETE FROM ledger_checkpoints WHERE size > ?", (k,))
    stream, prev = "actor/ke-gia-mao", None
    for version in range(1, t.rng.randint(2, 6)):
        raw = wrap(stream, version, prev, _forged(t))
        t.insert_event(stream, version, raw)
        prev = Event.parse(raw).hash
    return Truth(f"log cut at {k} and re-extended with forged events", position=k)


# -- the index ---------------------------------------------------------------------------


@kind("leaf-changed")
def _leaf_changed(t: Target) -> Truth:
    p = t.position()
    _, stream, version, _ = t.event(p)
    column, value = t.rng.choice(
        [("stream", flip_char(stream, t.rng)), ("version", version + t.rng.randint(1, 9))]
    )
    t.sql.execute(f"UPDATE ledger_leaves SET {column} = ? WHERE idx = ?", (value, p))
    return Truth(f"index row {p}: {column} changed", position=p)


@kind("leaf-moved")
def _leaf_moved(t: Target) -> Truth:
    p = t.position()
    t.sql.execute("UPDATE ledger_leaves SET idx = ? WHERE idx = ?", (t.n + t.rng.randint(0, 9), p))
    return Truth(f"index row {p} moved past the end", position=p)


@kind("leaf-deleted")
def _leaf_deleted(t: Target) -> Truth:
    p = t.position()
    t.sql.execute("DELETE FROM ledger_leaves WHERE idx = ?", (p,))
    return Truth(f"index row {p} deleted", position=p)


@kind("leaf-added")
def _leaf_added(t: Target) -> Truth:
    """A copy of an index row, filed at a position past the end."""
    _, stream, version, _ = t.event(t.position())
    junk = t.n + t.rng.randint(0, 9)
    t.sql.execute("INSERT INTO ledger_leaves VALUES (?, ?, ?)", (junk, stream, version))
    return Truth(f"an index row added at {junk}", position=junk)


# -- the tiles -----------------------------------------------------------------------------


@kind("tile-byte")
def _tile_byte(t: Target) -> Truth:
    level, index, data = t.rng.choice(t.tiles())
    changed, at = flip_bit(data, t.rng)
    t.sql.execute(
        "UPDATE ledger_tiles SET hashes = ? WHERE level = ? AND idx = ?", (changed, level, index)
    )
    node = index * TILE_WIDTH + at // HASH
    return Truth(
        f"a bit flipped in tile {level}/{index}, hash {at // HASH}",
        position=node_position(level * TILE_HEIGHT, node, t.n),
    )


@kind("tile-cut")
def _tile_cut(t: Target) -> Truth:
    level, index, data = t.rng.choice(t.tiles())
    keep = t.rng.randrange(len(data) // HASH)
    t.sql.execute(
        "UPDATE ledger_tiles SET hashes = ? WHERE level = ? AND idx = ?",
        (data[: keep * HASH], level, index),
    )
    node = index * TILE_WIDTH + keep
    return Truth(
        f"tile {level}/{index} cut to {keep} hashes",
        position=node_position(level * TILE_HEIGHT, node, t.n),
    )


@kind("tile-extended")
def _tile_extended(t: Target) -> Truth:
    level, index, data = t.rng.choice(t.tiles())
    extra = t.rng.randbytes(HASH * t.rng.randint(1, 3))
    t.sql.execute(
        "UPDATE ledger_tiles SET hashes = ? WHERE level = ? AND idx = ?",
        (data + extra, level, index),
    )
    node = index * TILE_WIDTH + len(data) // HASH
    return Truth(
        f"junk hashes appended to tile {level}/{index}",
        position=node_position(level * TILE_HEIGHT, node, t.n),
    )


@kind("tile-deleted")
def _tile_deleted(t: Target) -> Truth:
    level, index, _ = t.rng.choice(t.tiles())
    t.sql.execute("DELETE FROM ledger_tiles WHERE level = ? AND idx = ?", (level, index))
    return Truth(
        f"tile {level}/{index} deleted",
        position=node_position(level * TILE_HEIGHT, index * TILE_WIDTH, t.n),
    )


@kind("tile-added")
def _tile_added(t: Target) -> Truth:
    """A tile where the tree has none: past the right edge, or a level above the top."""
    tiles = t.tiles()
    level = t.rng.randint(0, max(lv for lv, _, _ in tiles) + 1)
    last = max((ix for lv, ix, _ in tiles if lv == level), default=-1)
    index = last + t.rng.randint(1, 3)
    hashes = t.rng.randbytes(HASH * t.rng.randint(1, 4))
    t.sql.execute("INSERT INTO ledger_tiles VALUES (?, ?, ?)", (level, index, hashes))
    return Truth(
        f"a junk tile {level}/{index} added",
        position=node_position(level * TILE_HEIGHT, index * TILE_WIDTH, t.n),
    )


# -- checkpoints -----------------------------------------------------------------------


def _checkpoint(t: Target, *, latest: bool = True) -> tuple[int, str]:
    choices = t.base.checkpoints if latest else t.base.checkpoints[:-1]
    return t.rng.choice(choices)


def _set_note(t: Target, size: int, note: str) -> None:
    t.sql.execute("UPDATE ledger_checkpoints SET note = ? WHERE size = ?", (note, size))


@kind("checkpoint-byte")
def _checkpoint_byte(t: Target) -> Truth:
    size, note = _checkpoint(t)
    alphabet = _ALPHABET + "ABCDEFGHIJKLMNOPQRSTUVWXYZ+/=\n"
    _set_note(t, size, flip_char(note, t.rng, alphabet))
    return Truth(f"a character of checkpoint {size} changed", checkpoint=size)


@kind("checkpoint-forged")
def _checkpoint_forged(t: Target) -> Truth:
    size, _ = _checkpoint(t)
    impostor = SignerKey.generate(VerifierKey.parse(t.base.log_key).name)
    _set_note(t, size, Checkpoint(impostor.name, size, t.rng.randbytes(32)).sign(impostor))
    return Truth(f"checkpoint {size} replaced by one an impostor signed", checkpoint=size)


@kind("checkpoint-backdated")
def _checkpoint_backdated(t: Target) -> Truth | None:
    """A genuine, older checkpoint filed in a later one's place."""
    (size, _), (older, note) = sorted(t.rng.sample(t.base.checkpoints, 2), reverse=True)
    _set_note(t, size, note)
    return Truth(f"checkpoint {size} replaced by the genuine one of size {older}", checkpoint=size)


@kind("checkpoint-refiled")
def _checkpoint_refiled(t: Target) -> Truth | None:
    """A genuine checkpoint moved to a size where none was."""
    size, _ = _checkpoint(t, latest=False)
    taken = {s for s, _ in t.base.checkpoints}
    free = [s for s in range(1, t.n) if s not in taken]
    if not free:
        return None
    target = t.rng.choice(free)
    t.sql.execute("UPDATE ledger_checkpoints SET size = ? WHERE size = ?", (target, size))
    return Truth(f"checkpoint {size} refiled as size {target}", checkpoint=target)


@kind("checkpoint-added")
def _checkpoint_added(t: Target) -> Truth | None:
    taken = {s for s, _ in t.base.checkpoints}
    free = [s for s in range(1, t.n + 5) if s not in taken]
    size = t.rng.choice(free)
    impostor = SignerKey.generate(VerifierKey.parse(t.base.log_key).name)
    note = Checkpoint(impostor.name, size, t.rng.randbytes(32)).sign(impostor)
    t.sql.execute("INSERT INTO ledger_checkpoints VALUES (?, ?)", (size, note))
    return Truth(f"a forged checkpoint of size {size} added", checkpoint=size)


@kind("checkpoints-rolled-back")
def _checkpoints_rolled_back(t: Target) -> Truth:
    """The latest checkpoints deleted: the log's last events are covered by none."""
    drop = t.rng.randint(1, min(5, len(t.base.checkpoints) - 1))
    kept = t.base.checkpoints[-drop - 1][0]
    t.sql.execute("DELETE FROM ledger_checkpoints WHERE size > ?", (kept,))
    return Truth(f"the latest {drop} checkpoint(s) deleted", position=kept)


@kind("rotation-changed")
def _rotation_changed(t: Target) -> Truth | None:
    """The record of the log key's rotation altered, or removed."""
    rows = t.sql.query("SELECT size, note FROM ledger_log_keys")
    if not rows:
        return None
    size, note = rows[0]
    if t.rng.random() < 0.5:
        t.sql.execute("DELETE FROM ledger_log_keys WHERE size = ?", (size,))
        return Truth(f"the log key rotation at size {size} deleted", meta="ledger_log_keys")
    alphabet = _ALPHABET + "ABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
    t.sql.execute(
        "UPDATE ledger_log_keys SET note = ? WHERE size = ?",
        (flip_char(note, t.rng, alphabet), size),
    )
    return Truth(f"the log key rotation note at size {size} altered", meta="ledger_log_keys")


# -- the nonce index ---------------------------------------------------------------------


def _nonce_key(t: Target, p: int) -> tuple[str, str]:
    statement = Event.parse(t.event(p)[3]).statement
    return str(statement["actor"]), str(statement["nonce"])


@kind("nonce-changed")
def _nonce_changed(t: Target) -> Truth:
    p = t.position()
    actor, nonce = _nonce_key(t, p)
    where = " WHERE actor = ? AND nonce = ?"
    rows = t.sql.query("SELECT digest FROM ledger_nonces" + where, (actor, nonce))
    column, value = t.rng.choice(
        [
            ("digest", flip_bit(bytes(rows[0][0]), t.rng)[0]),
            ("idx", t.rng.choice([t.n + t.rng.randint(0, 9), t.position()])),
            ("actor", flip_char(actor, t.rng)),
            ("nonce", flip_char(nonce, t.rng)),
        ]
    )
    if column == "idx" and value == p:
        value = p + 1
    t.sql.execute(f"UPDATE ledger_nonces SET {column} = ?" + where, (value, actor, nonce))
    return Truth(f"nonce row of event {p}: {column} changed", position=p)


@kind("nonce-deleted")
def _nonce_deleted(t: Target) -> Truth:
    p = t.position()
    actor, nonce = _nonce_key(t, p)
    t.sql.execute("DELETE FROM ledger_nonces WHERE actor = ? AND nonce = ?", (actor, nonce))
    return Truth(f"nonce row of event {p} deleted (a replay of it would be taken)", position=p)


@kind("nonce-added")
def _nonce_added(t: Target) -> Truth:
    idx = t.rng.randrange(t.n + 10)
    row = ("ke-gia-mao", f"junk{t.rng.getrandbits(64):016x}", t.rng.randbytes(32), idx)
    t.sql.execute("INSERT INTO ledger_nonces (actor, nonce, digest, idx) VALUES (?, ?, ?, ?)", row)
    return Truth(f"a junk nonce row claiming position {idx}", position=idx)


# -- metadata and the key registry -------------------------------------------------------


def _first_root_act(t: Target) -> int:
    root = key_name(json.loads(_meta(t)["root_keys"])[0])
    return next(
        p for p, (*_, raw) in enumerate(t.base.events) if Event.parse(raw).signer.name == root
    )


def _meta(t: Target) -> dict[str, str]:
    return {str(k): str(v) for k, v in t.sql.query("SELECT key, value FROM ledger_meta")}


LOG_META = ("origin", "log_key", "rules", "root_keys")


@kind("meta-changed")
def _meta_changed(t: Target) -> Truth:
    key = t.rng.choice(LOG_META)
    value = _meta(t)[key]
    position = _first_root_act(t) if key == "root_keys" else None
    alphabet = _ALPHABET + "ABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
    t.sql.execute(
        "UPDATE ledger_meta SET value = ? WHERE key = ?", (flip_char(value, t.rng, alphabet), key)
    )
    return Truth(f"ledger_meta.{key} changed", meta=key, position=position)


@kind("meta-deleted")
def _meta_deleted(t: Target) -> Truth:
    key = t.rng.choice(LOG_META)
    position = _first_root_act(t) if key == "root_keys" else None
    t.sql.execute("DELETE FROM ledger_meta WHERE key = ?", (key,))
    return Truth(f"ledger_meta.{key} deleted", meta=key, position=position)


@kind("root-key-replaced")
def _root_key_replaced(t: Target) -> Truth:
    """The root of trust swapped for the tamperer's own key."""
    position = _first_root_act(t)
    mine = SignerKey.generate("root").verifier
    t.sql.execute(
        "UPDATE ledger_meta SET value = ? WHERE key = 'root_keys'", (json.dumps([str(mine)]),)
    )
    return Truth("the root of trust replaced", meta="root_keys", position=position)


@kind("registered-key-replaced")
def _registered_key_replaced(t: Target) -> Truth | None:
    """A person's registered key swapped for the tamperer's, in the registry's event."""
    registrations = [
        p
        for p, (*_, raw) in enumerate(t.base.events)
        if Event.parse(raw).statement["type"] in ("person.registered", "key.registered")
    ]
    p = t.rng.choice(registrations)
    raw = t.event(p)[3]
    genuine = str(Event.parse(raw).statement["key"])
    mine = str(SignerKey.generate(key_name(genuine)).verifier)
    t.update_event(p, "state", raw.replace(genuine.encode(), mine.encode()))
    return Truth(f"the key registered by event {p} replaced", position=p)


# -- the read model ----------------------------------------------------------------------


@kind("read-model-value")
def _read_model_value(t: Target) -> Truth | None:
    if not t.base.documents:
        return None
    name = t.rng.choice(t.base.documents)
    doc = json.loads(t.sql.query("SELECT doc FROM projection_docs WHERE name = ?", (name,))[0][0])
    if not _nudge(doc, t.rng):
        return None
    t.sql.execute("UPDATE projection_docs SET doc = ? WHERE name = ?", (json.dumps(doc), name))
    return Truth(f"a value in read-model document {name} changed", document=name)


@kind("read-model-byte")
def _read_model_byte(t: Target) -> Truth | None:
    if not t.base.documents:
        return None
    name = t.rng.choice(t.base.documents)
    text = str(t.sql.query("SELECT doc FROM projection_docs WHERE name = ?", (name,))[0][0])
    changed = flip_char(text, t.rng, _ALPHABET + '{}[]":,')
    t.sql.execute("UPDATE projection_docs SET doc = ? WHERE name = ?", (changed, name))
    return Truth(f"a character of read-model document {name} changed", document=name)


def _nudge(doc: Any, rng: random.Random) -> bool:
    """Change one scalar somewhere in ``doc``; whether there was one."""
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, dict | list):
                walk(value)
            elif isinstance(value, str | int) and not isinstance(value, bool):
                slots.append((node, key))

    walk(doc)
    if not slots:
        return False
    node, key = rng.choice(slots)
    value = node[key]
    node[key] = (
        value + 1
        if isinstance(value, int)
        else (value + "x" if not value else flip_char(value, rng))
    )
    return True


@kind("read-model-position")
def _read_model_position(t: Target) -> Truth | None:
    """The position the read model records made impossible: 0 beside documents, below
    0, past the log, or gone (the row, or its table)."""
    if not t.base.documents:
        return None
    _impossible_position(t)
    return Truth(
        "the read model's recorded position made impossible", document="projection_position"
    )


@kind("read-model-forged-behind-position")
def _read_model_forged_behind_position(t: Target) -> Truth | None:
    """A value in a served document changed, and the recorded position made impossible
    so that a verifier comparing "as of the position" would have nothing to compare."""
    truth = _read_model_value(t)
    if truth is None:
        return None
    _impossible_position(t)
    return Truth(truth.what + ", behind an impossible position", document=truth.document)


def _impossible_position(t: Target) -> None:
    how = t.rng.choice(["zero", "negative", "past", "huge", "deleted", "dropped"])
    if how == "deleted":
        t.sql.execute("DELETE FROM projection_position")
    elif how == "dropped":
        t.sql.execute("DROP TABLE projection_position")
    else:
        value = {"zero": 0, "negative": -t.rng.randint(1, 2**62), "past": t.n + 1}.get(how, 2**62)
        t.sql.execute("UPDATE projection_position SET position = ?", (value,))


# -- text that is not UTF-8 (SQLite stores any bytes as TEXT; PostgreSQL refuses) ---------


def _not_utf8(t: Target, text: str) -> bytes:
    """``text``'s bytes with one byte made invalid UTF-8 (0xFF never occurs in UTF-8)."""
    data = bytearray(text.encode())
    data[t.rng.randrange(len(data))] = 0xFF
    return bytes(data)


@kind("not-utf8-event")
def _not_utf8_event(t: Target) -> Truth:
    p = t.position()
    column = t.rng.choice(["originator_id", "topic"])
    text = t.event(p)[1] if column == "originator_id" else TOPIC
    t.sql.execute(
        f"UPDATE {t.sql.events} SET {column} = CAST(? AS TEXT) WHERE {t.sql.nid} = ?",
        (_not_utf8(t, text), t.event(p)[0]),
    )
    return Truth(f"event {p}'s {column} made bytes that are not UTF-8", position=p)


@kind("not-utf8-leaf")
def _not_utf8_leaf(t: Target) -> Truth:
    p = t.position()
    t.sql.execute(
        "UPDATE ledger_leaves SET stream = CAST(? AS TEXT) WHERE idx = ?",
        (_not_utf8(t, t.event(p)[1]), p),
    )
    return Truth(f"index row {p}'s stream made bytes that are not UTF-8", position=p)


@kind("not-utf8-nonce")
def _not_utf8_nonce(t: Target) -> Truth:
    p = t.position()
    actor, nonce = _nonce_key(t, p)
    column, text = t.rng.choice([("actor", actor), ("nonce", nonce)])
    t.sql.execute(
        f"UPDATE ledger_nonces SET {column} = CAST(? AS TEXT) WHERE actor = ? AND nonce = ?",
        (_not_utf8(t, text), actor, nonce),
    )
    return Truth(f"nonce row of event {p}: {column} made bytes that are not UTF-8", position=p)


@kind("not-utf8-checkpoint")
def _not_utf8_checkpoint(t: Target) -> Truth:
    size, note = _checkpoint(t)
    t.sql.execute(
        "UPDATE ledger_checkpoints SET note = CAST(? AS TEXT) WHERE size = ?",
        (_not_utf8(t, note), size),
    )
    return Truth(f"checkpoint {size} made bytes that are not UTF-8", checkpoint=size)


@kind("not-utf8-read-model")
def _not_utf8_read_model(t: Target) -> Truth | None:
    if not t.base.documents:
        return None
    name = t.rng.choice(t.base.documents)
    if t.rng.random() < 0.5:
        text = str(t.sql.query("SELECT doc FROM projection_docs WHERE name = ?", (name,))[0][0])
        column, value = "doc", _not_utf8(t, text)
    else:
        column, value = "name", _not_utf8(t, name)
    t.sql.execute(
        f"UPDATE projection_docs SET {column} = CAST(? AS TEXT) WHERE name = ?", (value, name)
    )
    return Truth(
        f"read-model document {name}'s {column} made bytes that are not UTF-8", document=name
    )


@kind("wrong-type")
def _wrong_type(t: Target) -> Truth:
    """A value of another type than its column's, as SQLite keeps it: text where a
    position, version or hash belongs."""
    p = t.position()
    junk = f"x{t.rng.getrandbits(32):08x}"
    actor, nonce = _nonce_key(t, p)
    table, column, where, params = t.rng.choice(
        [
            ("ledger_leaves", "idx", "idx = ?", (p,)),
            ("ledger_leaves", "version", "idx = ?", (p,)),
            (t.sql.events, "originator_version", f"{t.sql.nid} = ?", (t.event(p)[0],)),
            ("ledger_nonces", "idx", "actor = ? AND nonce = ?", (actor, nonce)),
            ("ledger_nonces", "digest", "actor = ? AND nonce = ?", (actor, nonce)),
        ]
    )
    t.sql.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (junk, *params))
    return Truth(f"{table}.{column} of event {p} made the text {junk!r}", position=p)


SQLITE_ONLY = frozenset(k for k in KINDS if k.startswith("not-utf8-")) | {"wrong-type"}


# -- values far outside any log ------------------------------------------------------------


def _huge(t: Target) -> int:
    return t.rng.choice([-1, 1]) * t.rng.randint(2**40, 2**62)


@kind("huge-tile-level")
def _huge_tile_level(t: Target) -> Truth:
    """A junk tile at a level no tree reaches: 2**48 (PostgreSQL's INTEGER stops at 2**31)."""
    level = 2**31 - 1 if t.sql.postgres else t.rng.choice([2**48, 2**62])
    t.sql.execute("INSERT INTO ledger_tiles VALUES (?, 0, ?)", (level, t.rng.randbytes(HASH)))
    return Truth(f"a junk tile at level {level}", position=t.n)


@kind("huge-tile-index")
def _huge_tile_index(t: Target) -> Truth:
    index = _huge(t)
    level = t.rng.randint(0, 2)
    t.sql.execute(
        "INSERT INTO ledger_tiles VALUES (?, ?, ?)", (level, index, t.rng.randbytes(HASH))
    )
    return Truth(f"a junk tile {level}/{index}", position=t.n)


@kind("huge-leaf-index")
def _huge_leaf_index(t: Target) -> Truth:
    p = t.position()
    value = _huge(t)
    t.sql.execute("UPDATE ledger_leaves SET idx = ? WHERE idx = ?", (value, p))
    return Truth(f"index row {p} moved to position {value}", position=p)


@kind("huge-nonce-index")
def _huge_nonce_index(t: Target) -> Truth:
    p = t.position()
    actor, nonce = _nonce_key(t, p)
    t.sql.execute(
        "UPDATE ledger_nonces SET idx = ? WHERE actor = ? AND nonce = ?", (_huge(t), actor, nonce)
    )
    return Truth(f"nonce row of event {p} claims a position far outside the log", position=p)


@kind("huge-checkpoint-size")
def _huge_checkpoint_size(t: Target) -> Truth:
    size, _ = _checkpoint(t, latest=False)
    huge = t.rng.randint(2**40, 2**62)
    t.sql.execute("UPDATE ledger_checkpoints SET size = ? WHERE size = ?", (huge, size))
    return Truth(f"checkpoint {size} refiled as size {huge}", checkpoint=huge)


# -- insiders with the log's key: the stored log rewritten and resealed ------------------


def _resealed(t: Target, statements: list[SignedStatement], what: str) -> Truth:
    original = t.base.statements()
    first = next(
        (
            i
            for i, (a, b) in enumerate(zip(original, statements, strict=False))
            if a.digest != b.digest
        ),
        min(len(original), len(statements)),
    )
    t.reseal(statements)
    return Truth(what, position=first)


@kind("resealed-dropped")
def _resealed_dropped(t: Target) -> Truth:
    statements = t.base.statements()
    p = t.position()
    del statements[p]
    return _resealed(t, statements, f"statement {p} dropped and the log resealed")


@kind("resealed-reordered")
def _resealed_reordered(t: Target) -> Truth:
    statements = t.base.statements()
    p, q = sorted(t.rng.sample(range(t.n), 2))
    statements[p], statements[q] = statements[q], statements[p]
    return _resealed(t, statements, f"statements {p} and {q} swapped and the log resealed")


@kind("resealed-truncated")
def _resealed_truncated(t: Target) -> Truth:
    """Cut at k and re-extended with the same statements, some dropped, shuffled."""
    statements = t.base.statements()
    k = t.position(1)
    tail = statements[k:]
    t.rng.shuffle(tail)
    tail = tail[: t.rng.randint(1, len(tail))]
    return _resealed(t, statements[:k] + tail, f"log cut at {k}, re-extended and resealed")


@kind("resealed-replay")
def _resealed_replay(t: Target) -> Truth:
    statements = t.base.statements()
    p = t.position()
    statements.append(statements[p])
    return _resealed(t, statements, f"statement {p} sealed a second time at the end")


# -- running trials ----------------------------------------------------------------------


@dataclass
class Trial:
    kind: str
    truth: Truth
    detected: bool
    placed: str  # exact | range | named | missed
    first_bad: dict[str, Any] | None
    error: str | None = None


def verify_copy(url: str, base: Snapshot) -> tuple[dict[str, Any] | None, str | None]:
    """The auditor's run on a tampered copy: the report, or why it could not run."""
    try:
        with Ledger(base.keys.settings(url), writer=False) as ledger:
            report = ledger.verify(
                pinned=VerifierKey.parse(base.log_key), remembered=base.heads, workers=1
            )
            return report.to_json(), None
    except Exception as e:  # a verification that cannot run is loud, not a pass
        return None, f"{type(e).__name__}: {e}"


def judge(truth: Truth, report: dict[str, Any] | None, error: str | None) -> tuple[bool, str]:
    """(detected, how it was placed) for one trial."""
    if report is None:
        named = truth.meta is not None and truth.meta in (error or "")
        return True, "named" if named else "missed"
    if report["ok"]:
        return False, "missed"
    first = report["first_bad"] or {}
    failures = [c["first_failure"] or {} for c in report["checks"] if c["status"] == "fail"]
    if truth.position is not None and "position" in first:
        at, until = first["position"], first.get("until")
        if until is None and at == truth.position:
            return True, "exact"
        if until is not None and at <= truth.position < until:
            return True, "range"
    named = any(f.get("checkpoint_size") == truth.checkpoint for f in failures)
    if truth.checkpoint is not None and "position" not in first and named:
        return True, "named"
    if truth.document is not None:
        v9 = next(c for c in report["checks"] if c["id"] == "V9")
        if v9["status"] == "fail" and truth.document in json.dumps(v9["first_failure"]):
            return True, "named"
    if truth.meta is not None and any(truth.meta in json.dumps(f) for f in failures):
        return True, "named"
    return True, "missed"


def run_trial(name: str, base: Snapshot, workdir: Path, rng: random.Random) -> Trial | None:
    with copy_of(base.url, workdir) as url:
        with Sql(url) as sql:
            try:
                truth = KINDS[name](Target(url, sql, base, rng))
            except Exception as e:
                if _collision(e):
                    return None  # the change would break a unique key: try another
                raise
        if truth is None:
            return None
        report, error = verify_copy(url, base)
    detected, placed = judge(truth, report, error)
    first = report["first_bad"] if report else None
    return Trial(name, truth, detected, placed, first, error)


def applicable(name: str, url: str) -> bool:
    """Whether a kind of tampering can be done to this database: PostgreSQL refuses to
    store text that is not UTF-8, or a value of another type than its column's."""
    return name not in SQLITE_ONLY or url.startswith("sqlite")


def _collision(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return "unique" in text or "duplicate key" in text or "integrity" in text


@dataclass
class Figures:
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0

    def by_kind(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for trial in self.trials:
            row = table[trial.kind]
            row["tried"] += 1
            row["detected"] += trial.detected
            row[trial.placed] += 1
        return dict(sorted(table.items()))

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for row in self.by_kind().values():
            total.update(row)
        return total

    def failures(self) -> list[Trial]:
        return [t for t in self.trials if not t.detected or t.placed == "missed"]

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "totals": dict(self.totals()),
            "by_kind": {k: dict(v) for k, v in self.by_kind().items()},
            "failures": [
                {
                    "kind": t.kind,
                    "what": t.truth.what,
                    "truth": t.truth.__dict__,
                    "first_bad": t.first_bad,
                    "error": t.error,
                }
                for t in self.failures()
            ],
        }


def run(
    base: Snapshot,
    workdir: Path,
    count: int,
    *,
    seed: int = 1,
    kinds: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Figures:
    """``count`` trials of kinds drawn evenly at random from ``kinds`` (default: all)."""
    rng = random.Random(seed)
    names = kinds or [k for k in sorted(KINDS) if applicable(k, base.url)]
    figures = Figures()
    started = time.perf_counter()
    while len(figures.trials) < count:
        name = (
            names[len(figures.trials) % len(names)]
            if len(figures.trials) < len(names)
            else rng.choice(names)
        )
        trial = run_trial(name, base, workdir, random.Random(rng.getrandbits(64)))
        if trial is not None:
            figures.trials.append(trial)
            if progress:
                progress(len(figures.trials))
    figures.seconds = time.perf_counter() - started
    return figures
