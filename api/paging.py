"""One way to page every list (phân trang): ``limit``, a cursor ``after``, ``next``.

``limit`` is 1 to ``MAX_LIMIT`` (default 100). ``after`` is the cursor: a log position
where the items are events (the last one you have; −1 = from the start), else the key
of the last item you have (a cycle code, a complaint's event hash). The body's
``next`` is the value to pass as ``after`` for the following page (null when there is
none), and the same page's URL comes as an RFC 8288 ``Link: <…>; rel="next"`` header,
with every other query parameter (filters, ``limit``) kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request, Response

from ledger.errors import UNKNOWN_CURSOR, Rejected

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_POSITION = 2**53 - 1  # a JSON-safe integer, and well inside a database's BIGINT
T = TypeVar("T")

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"items per page, at most {MAX_LIMIT}"),
]
PositionAfter = Annotated[
    int,
    Query(
        ge=-1,
        le=MAX_POSITION,
        description="cursor: the last log position you have (-1: from the start)",
    ),
]
KeyAfter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        description="cursor: the `next` of the previous page (the last item you have)",
    ),
]
LINK_HEADER: dict[str, Any] = {
    "Link": {
        "description": 'RFC 8288 `<URL>; rel="next"`: the next page, when there is one',
        "schema": {"type": "string"},
    }
}


def link_next(request: Request, response: Response, cursor: int | str | None) -> None:
    """Put ``Link: <this URL with after=cursor>; rel="next"`` on ``response``."""
    if cursor is not None:
        _link(request, response, "after", cursor)


def link_next_start(request: Request, response: Response, start: int | None) -> None:
    """The same for ``/v1/log/entries?start=``, whose cursor is the next ``start``."""
    if start is not None:
        _link(request, response, "start", start)


def _link(request: Request, response: Response, name: str, cursor: int | str) -> None:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("after", "start")]
    query = urlencode([*kept, (name, str(cursor))])
    response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'


def after_key(
    items: Sequence[T], key: Callable[[T], str], after: str | None, limit: int
) -> tuple[list[T], str | None]:
    """The page of ``items`` (already in their order) following the one keyed ``after``,
    and the cursor of the page after it. An unknown cursor is a 400, never a silent
    restart from the top."""
    start = 0
    if after is not None:
        keys = [key(item) for item in items]
        if after not in keys:
            raise bad_cursor(after)
        start = keys.index(after) + 1
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, key(page[-1]) if page and more else None


def after_position(
    items: Sequence[T], position: Callable[[T], int], after: int, limit: int
) -> tuple[list[T], int | None]:
    """The page of ``items`` (in log order) at positions past ``after``, and its ``next``."""
    rest = [item for item in items if position(item) > after]
    page = rest[:limit]
    return page, position(page[-1]) if len(rest) > limit else None


def bad_cursor(after: str) -> Rejected:
    return Rejected(
        UNKNOWN_CURSOR,
        f"Con trỏ after={after!r} không trỏ tới mục nào; hãy dùng giá trị next của trang trước.",
        f"The cursor after={after!r} names no item; pass the previous page's next.",
        field="after",
    )
