"""The witness's HTTP face: C2SP tlog-witness ``POST /add-checkpoint``, nothing more.

Answers are the spec's: 200 with cosignature lines, 400 malformed, 403 no valid log
signature, 404 unknown origin, 409 with ``Content-Type: text/x.tlog.size`` exactly (no
charset) and the size it last cosigned when the old size is not that size, 409 in plain
text when a checkpoint of the size it cosigned has another root (a fork, kept as
evidence), 422 a consistency proof that fails; bodies are plain text (never RFC 9457 here: the
protocol's clients are other logs' software, which read status codes and sizes).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ledger.cosignature import MAX_REQUEST_BYTES
from witness.witness import Witness


def create_witness_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
            return PlainTextResponse("yêu cầu quá lớn / request too large\n", status_code=413)
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > MAX_REQUEST_BYTES:
                return PlainTextResponse("yêu cầu quá lớn / request too large\n", status_code=413)
        # SQLite and Ed25519 are blocking: keep them off the event loop.
        answer = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        # The header set as is: given as ``media_type``, Starlette would append
        # "; charset=utf-8" to any text/* type, and tlog-witness clients compare
        # ``text/x.tlog.size`` exactly (anything else reads as a fork, not a stale size).
        return Response(
            answer.body.encode(),
            status_code=answer.status,
            headers={"content-type": answer.content_type},
        )

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])
