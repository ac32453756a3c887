"""The hand-over (bàn giao): HTTP worker processes give checked statements to the one
sequencer process, over a private Unix socket, in batches.

A worker (``cadreledger.workers``) parses and verifies each submission itself, then
sends the statement's checked parts; the sequencer process trusts that check, since
only its own workers can reach the socket: it lives in a directory only the service's
user can enter (0700), and a connection must first present the secret the sequencer
gave its workers at their start. The sequencer answers each statement with its receipt
or its refusal, exactly as ``Ledger.submit`` would have.

The same channel carries the rate limiter's decisions: the token buckets live in the
sequencer process, where every worker's requests meet, so a person's limit is one
limit however many workers serve them. A statement's decision travels with the
statement (``counted``): one request, one answer, and the statement is sequenced only
if its token was there; any other request asks first (``take``).

Frames: a 4-byte big-endian length, then a pickle of a list of ``(id, op, argument)``
one way and ``(id, answer)`` the other. Whatever a worker has to send in one turn of
its event loop goes in one frame, so the cost of the socket is paid per batch, not per
statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import pickle
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from api.rate_limit import Decision, RatePolicy, TokenBuckets
from ledger.errors import UNAVAILABLE, Rejected
from ledger.keys import cached_verifier_key
from ledger.receipt import Receipt
from ledger.statement import SignedStatement, parse_submission

log = logging.getLogger(__name__)

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # a batch of statements, each at most MAX_SUBMISSION_BYTES
SECRET_BYTES = 32
# How long a worker may leave its answers unread before it is let go. Answers are sent
# from the threads that settle the writer's batches: a worker that stopped reading (a
# stopped or wedged process) must not hold them, nor every other worker's answers.
SEND_TIMEOUT = 5.0

# ``Ledger.submit_checked``: the statement, and the future its receipt is to be set on.
Submit = Callable[[SignedStatement, "Future[Receipt]"], None]


def parts(signed: SignedStatement) -> tuple[Any, ...]:
    """A checked statement as it travels: its signer as text, rebuilt from the cache."""
    return (signed.statement, signed.canonical, str(signed.signer), signed.signature, signed.texts)


def rebuild(sent: tuple[Any, ...]) -> SignedStatement:
    statement, canonical, signer, signature, texts = sent
    return SignedStatement(statement, canonical, cached_verifier_key(signer), signature, texts)


def refused(answer: tuple[Any, ...]) -> Rejected:
    problem, vi, en, extensions = answer[1:]
    return Rejected(problem, vi, en, **extensions)


def as_answer(e: BaseException) -> tuple[Any, ...]:
    if isinstance(e, Rejected):
        return ("refused", e.problem, e.detail_vi, e.detail_en, e.extensions)
    return ("error", f"{type(e).__name__}: {e}")


def unavailable() -> Rejected:
    return Rejected(
        UNAVAILABLE,
        "Máy chủ ghi sổ không trả lời; tuyên bố có thể chưa được lưu, hãy gửi lại.",
        "The ledger's writer did not answer; the statement may not be stored, send it again "
        "(a retry of a stored statement gets its receipt).",
    )


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


READ_BYTES = 256 * 1024  # what one receive asks for: a frame, or several, usually at once


def _frames(sock: socket.socket) -> Iterator[bytes]:
    """The frames arriving on ``sock``, each a payload, until it closes (or sends a
    frame over ``MAX_FRAME``). One system call usually brings in a whole frame, or
    several, where reading the length and then the payload took two or more."""
    buffer = bytearray()
    while True:
        at = 0
        while len(buffer) - at >= HEADER.size:
            (length,) = HEADER.unpack_from(buffer, at)
            if length > MAX_FRAME:
                return
            end = at + HEADER.size + length
            if len(buffer) < end:
                break
            yield bytes(buffer[at + HEADER.size : end])
            at = end
        del buffer[:at]
        chunk = sock.recv(READ_BYTES)
        if not chunk:
            return
        buffer += chunk


def _frame(payload: Any) -> bytes:
    data = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


# -- the sequencer's end --------------------------------------------------------------


class HandoverServer:
    """Listens at ``path`` (in a 0700 directory) for this process's own workers."""

    def __init__(self, path: str, secret: bytes, submit: Submit, rate: RatePolicy | None) -> None:
        self.path, self.secret, self.submit = path, secret, submit
        self.buckets = TokenBuckets(rate) if rate is not None else None
        self._buckets_lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        os.chmod(path, 0o600)
        self._sock.listen()
        self._closed = False
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="handover", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _take(self, key: str) -> Decision:
        assert self.buckets is not None
        with self._buckets_lock:
            return self.buckets.take(key)

    def _serve(self, conn: socket.socket) -> None:
        """One worker's connection: check its secret, then answer its frames."""
        with conn:
            offered = _read_exact(conn, SECRET_BYTES)
            if offered is None or not hmac.compare_digest(offered, self.secret):
                log.warning("a connection to the hand-over socket without the secret")
                return
            self._connections.append(conn)
            seconds, fraction = divmod(SEND_TIMEOUT, 1)
            timeval = struct.pack("ll", int(seconds), int(fraction * 1e6))
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
            send_lock = threading.Lock()
            gone = False

            def send(answers: list[tuple[int, Any]]) -> None:
                nonlocal gone
                with send_lock:
                    if gone:
                        return
                    try:
                        conn.sendall(_frame(answers))
                    except OSError as e:
                        # The worker is gone, or left its answers unread past
                        # SEND_TIMEOUT (a frame may be cut short): the connection ends,
                        # and the worker answers its clients "unavailable, retry"; a
                        # retry of a statement stored meanwhile gets its receipt.
                        gone = True
                        if isinstance(e, BlockingIOError):
                            log.warning("a worker left its answers unread; letting it go")
                        with contextlib.suppress(OSError):
                            conn.shutdown(socket.SHUT_RDWR)

            try:
                for body in _frames(conn):
                    self._answer(pickle.loads(body), send)
            except OSError:
                return
            finally:
                self._connections.remove(conn)

    def _answer(self, requests: list[tuple[int, str, Any]], send: Callable[..., None]) -> None:
        """Rate decisions now; statements when their batch commits. One frame back per
        frame in: the statements of one frame are mostly in one sequencer batch.

        ``counted``: a statement with the key of the bucket it is counted against;
        answered ``(decision, None)`` if the bucket is empty (nothing is sequenced),
        else ``(decision, answer)`` when it lands."""
        now: list[tuple[int, Any]] = []
        owed, handed = _Owed(send), 0
        for request_id, op, argument in requests:
            if op == "take":
                now.append((request_id, self._take(argument)))
                continue
            decision = None
            if op == "counted":
                key, argument = argument
                decision = self._take(key)
                if not decision.allowed:
                    now.append((request_id, (decision, None)))
                    continue
            elif op != "submit":
                continue
            owed.expect()
            try:
                self.submit(rebuild(argument), _Answer(owed, request_id, decision))
            except BaseException as e:  # refused before the writer: answered now
                owed.land(None)
                answer = as_answer(e)
                now.append((request_id, answer if decision is None else (decision, answer)))
            else:
                handed += 1
        if now or not handed:
            send(now)  # decisions do not wait for a commit
        owed.land(None)  # every statement is in: the last to land sends the answers


class _Owed:
    """The answers owed for one frame's statements, sent in one frame when the last of
    them lands (in the thread that settles its batch)."""

    def __init__(self, send: Callable[[list[tuple[int, Any]]], None]) -> None:
        self.send = send
        self.answers: list[tuple[int, Any]] = []
        self.waiting = 1  # until the frame's statements are all handed to the sequencer
        self._lock = threading.Lock()

    def expect(self) -> None:
        with self._lock:  # the settle thread may be landing the frame's first already
            self.waiting += 1

    def land(self, answer: tuple[int, Any] | None) -> None:
        with self._lock:
            if answer is not None:
                self.answers.append(answer)
            self.waiting -= 1
            done = self.waiting == 0 and self.answers
        if done:
            self.send(self.answers)


class _Answer(Future[Receipt]):
    """A handed-over statement's future. The sequencer sets it when the batch settles,
    and nobody waits on it: setting it adds the answer to its frame's (``_Owed``), and
    skips what a future does for those who wait or call back (a lock, a notification,
    the callbacks), a tenth of what the hand-over costs the writer per statement."""

    def __init__(self, owed: _Owed, request_id: int, decision: Decision | None) -> None:
        super().__init__()
        self.owed, self.request_id, self.decision = owed, request_id, decision

    def set_result(self, result: Receipt) -> None:
        self._land(("ok", result))

    def set_exception(self, exception: BaseException | None) -> None:
        self._land(as_answer(exception or RuntimeError("no exception")))

    def _land(self, answer: tuple[Any, ...]) -> None:
        decision = self.decision
        self.owed.land((self.request_id, answer if decision is None else (decision, answer)))


# -- a worker's end -------------------------------------------------------------------


def _receipt(answer: tuple[Any, ...]) -> Receipt:
    if answer[0] == "ok":
        receipt: Receipt = answer[1]
        return receipt
    if answer[0] == "refused":
        raise refused(answer)
    raise RuntimeError(f"the sequencer process: {answer[1]}")


@dataclass
class HandoverClient:
    """A worker's connection to the sequencer process, used from its event loop."""

    path: str
    secret: bytes
    on_lost: Callable[[], None] | None = None  # e.g. stop serving: nothing can be written

    def __post_init__(self) -> None:
        self._writer: asyncio.StreamWriter | None = None
        self._outbox: list[tuple[int, str, Any]] = []
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._connecting: asyncio.Lock | None = None
        self.lost = False

    async def submit(self, body: bytes) -> Receipt:
        """Parse and verify here (``Rejected`` as always), then sequence over there."""
        signed = parse_submission(body)
        return _receipt(await self._call("submit", parts(signed)))

    async def submit_counted(
        self, body: bytes, key: str
    ) -> tuple[Decision, Callable[[], Receipt] | None]:
        """``submit``, the statement counted against ``key``'s bucket on the way (one
        trip to the writer for both): the bucket's decision, and if it let the
        statement through, what returns its receipt or raises its refusal; ``None`` if
        it did not (nothing was sequenced). A submission refused here is refused before
        it is counted (``Rejected``): take its decision with ``take``."""
        signed = parse_submission(body)
        decision, answer = await self._call("counted", (key, parts(signed)))
        return decision, None if answer is None else partial(_receipt, answer)

    async def take(self, key: str) -> Decision:
        decision: Decision = await self._call("take", key)
        return decision

    async def _call(self, op: str, argument: Any) -> Any:
        if self.lost:
            raise unavailable()
        try:
            await self._connect()
        except OSError as e:
            raise unavailable() from e
        loop = asyncio.get_running_loop()
        self._next += 1
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting[self._next] = future
        if not self._outbox:
            loop.call_soon(self._flush)  # after whatever else this turn of the loop adds
        self._outbox.append((self._next, op, argument))
        return await future

    def _flush(self) -> None:
        batch, self._outbox = self._outbox, []
        if batch and self._writer is not None:
            self._writer.write(_frame(batch))

    async def _connect(self) -> None:
        if self._writer is not None:
            return
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None:
                return
            reader, writer = await asyncio.open_unix_connection(self.path)
            writer.write(self.secret)
            self._writer = writer
            asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await reader.readexactly(HEADER.size)
                (length,) = HEADER.unpack(head)
                for request_id, answer in pickle.loads(await reader.readexactly(length)):
                    future = self._waiting.pop(request_id, None)
                    if future is not None and not future.done():
                        future.set_result(answer)
        except (asyncio.IncompleteReadError, OSError):
            pass
        # The sequencer process is gone: whatever was in flight may or may not be
        # stored; the client is told to retry, and a retry gets its receipt.
        self.lost = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(unavailable())
        self._waiting.clear()
        if self.on_lost is not None:
            self.on_lost()
