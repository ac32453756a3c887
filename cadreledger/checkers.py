"""Signature checkers (bộ kiểm tra chữ ký): worker processes that parse and verify
submissions, so that the writer's interpreter keeps its one core for sequencing.

A submission's strict JSON parse, RFC 8785 canonicalisation and Ed25519 check
(``ledger.statement.parse_submission``) cost about as much as the sequencer's own work
per statement. In threads they share the writer's GIL and the service never uses more
than one core; here ``processes`` children do it. Each child has a thread in the parent
that hands it whatever submissions have queued up, as one pickled batch over a pipe, and
settles their futures from its answer: the pipe's cost is paid per batch, not per
statement. The children are this process's own (spawned, private pipes), so what they
return is as checked as what a thread would have returned.

If a child dies (killed, out of memory), the statements it held were never
acknowledged: they are answered "unavailable, retry" and a new child takes its place.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ledger.errors import UNAVAILABLE, Rejected
from ledger.keys import cached_verifier_key
from ledger.sequencer import take_batch
from ledger.statement import SignedStatement, parse_submission

log = logging.getLogger(__name__)

MAX_BATCH = 256  # submissions per hand-over: bounds a child's answer and its latency

# What a child answers per submission: the checked statement, or why it is refused.
Checked = tuple[Any, ...]


def check_batch(bodies: list[bytes]) -> list[Checked]:
    """Parse and verify each submission (in a child). A statement travels as its parts,
    so that the parent rebuilds it with its own cached signer keys; a refusal as its
    fields (``Rejected`` is an exception whose pickle would lose them)."""
    answers: list[Checked] = []
    for body in bodies:
        try:
            s = parse_submission(body)
        except Rejected as refused:
            answers.append(
                (
                    "refused",
                    refused.problem,
                    refused.detail_vi,
                    refused.detail_en,
                    refused.extensions,
                )
            )
        except Exception as e:  # a defect: the caller gets it, as it would from a thread
            answers.append(("error", f"{type(e).__name__}: {e}"))
        else:
            answers.append(("ok", s.statement, s.canonical, str(s.signer), s.signature, s.texts))
    return answers


def settle(future: Future[SignedStatement], answer: Checked) -> None:
    kind = answer[0]
    if kind == "ok":
        statement, canonical, signer, signature, texts = answer[1:]
        future.set_result(
            SignedStatement(statement, canonical, cached_verifier_key(signer), signature, texts)
        )
    elif kind == "refused":
        problem, vi, en, extensions = answer[1:]
        future.set_exception(Rejected(problem, vi, en, **extensions))
    else:
        future.set_exception(RuntimeError(f"signature checker: {answer[1]}"))


def _child(conn: Connection) -> None:
    """A checker's life: batches in, answers out, until the parent closes the pipe."""
    while True:
        try:
            bodies = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        conn.send_bytes(pickle.dumps(check_batch(bodies), pickle.HIGHEST_PROTOCOL))


@dataclass
class _Job:
    body: bytes
    future: Future[SignedStatement]


class Checkers:
    """``processes`` checker children, fed from one queue."""

    def __init__(self, processes: int, max_batch: int = MAX_BATCH) -> None:
        if processes < 1:
            raise ValueError("at least one checker process")
        # Spawned, not forked: the parent holds database connections and threads.
        self._context = multiprocessing.get_context("spawn")
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self.restarts = 0
        self._feeders = [
            threading.Thread(target=self._feed, name=f"checker-{i}", daemon=True)
            for i in range(processes)
        ]
        self.children: list[multiprocessing.process.BaseProcess | None] = [None] * processes
        self._started = threading.Barrier(processes + 1)
        for feeder in self._feeders:
            feeder.start()
        self._started.wait()  # every child is up: the first submissions do not wait

    def check(self, body: bytes) -> Future[SignedStatement]:
        """The checked statement, or its ``Rejected``, when a child has looked at it."""
        future: Future[SignedStatement] = Future()
        if self._closed:
            future.set_exception(_unavailable())
        else:
            self._queue.put(_Job(body, future))
        return future

    def close(self) -> None:
        self._closed = True
        for _ in self._feeders:
            self._queue.put(None)
        for feeder in self._feeders:
            feeder.join()
        # Whatever was queued behind the stop is answered, not left waiting.
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.set_exception(_unavailable())

    def _spawn(self, slot: int) -> tuple[Connection, Any]:
        mine, theirs = self._context.Pipe()
        child = self._context.Process(
            target=_child, args=(theirs,), name=f"cadreledger-checker-{slot}", daemon=True
        )
        child.start()
        theirs.close()
        self.children[slot] = child
        return mine, child

    def _feed(self) -> None:
        slot = self._feeders.index(threading.current_thread())
        conn, child = self._spawn(slot)
        self._started.wait()
        stopping = False
        while not stopping and (taken := take_batch(self._queue, self.max_batch)) is not None:
            batch, stopping = taken
            try:
                conn.send_bytes(pickle.dumps([j.body for j in batch], pickle.HIGHEST_PROTOCOL))
                answers: list[Checked] = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                # The child died holding this batch: nobody was told anything was
                # accepted, so "retry" is the truth. A new child takes its place.
                log.warning("signature checker %d died; restarting it", child.pid)
                for job in batch:
                    job.future.set_exception(_unavailable())
                conn.close()
                child.join()
                self.restarts += 1
                conn, child = self._spawn(slot)
                continue
            for job, answer in zip(batch, answers, strict=True):
                settle(job.future, answer)
        conn.close()  # the child reads EOF and ends
        child.join(10)


def _unavailable() -> Rejected:
    return Rejected(
        UNAVAILABLE,
        "Không kiểm tra được chữ ký lúc này; tuyên bố chưa được lưu, hãy gửi lại.",
        "The signature could not be checked just now; the statement was not stored, retry it.",
    )
