"""A rigging attempt as an outsider plays it: properly signed acts, sent one by one to
``POST /v1/statements`` of a real ledger (SQLite, and PostgreSQL when it is there).

``Played`` is a ``World`` whose every act goes through HTTP; a refusal comes back as
the ``Rejected`` the API described (its problem type, both texts), and the problem
document itself is kept for the test to read. ``stored_around_the_rules`` writes an
act with the log's key but without the rules — what an operator, or a log judged by
older rules, would leave — so that the test can ask V8 about it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.problems import find
from cadreledger.service import Ledger
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.statement import SignedStatement, sign_statement
from tests.bypass import bypass
from tests.evaluation import CYCLE, World
from tests.service.test_domain_ledger import evaluation_ledger


class Refused(Rejected):
    """A refusal as the API sent it: the problem type, both texts, and the document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        slug = str(problem["type"]).rsplit("/", 1)[-1]
        known = find(slug)
        assert known is not None, f"the API answered with an undocumented problem: {slug}"
        super().__init__(known, problem["detail_vi"], problem["detail_en"])
        self.status, self.document = status, problem


@dataclass
class Played:
    client: TestClient
    world: World
    ledger: Ledger
    tmp_path: Path
    problems: list[dict[str, Any]]  # every problem document the API answered, in order

    def size(self) -> int:
        return self.ledger.size()

    def verify(self) -> dict[str, dict[str, Any]]:
        report = self.ledger.verify().to_json()
        return {c["id"]: c for c in report["checks"]}

    def stored_around_the_rules(self, actor: str, type_: str, **body: Any) -> tuple[int, str]:
        """Sign ``type_`` as ``actor`` and write it past the rules: (position, event)."""
        w = self.world
        statement = w.statement(actor, type_, {"cycle": CYCLE, **body})
        signer = SignerKey.parse((self.tmp_path / "log.key").read_text())
        rogue = bypass(self.ledger, signer, self.ledger.clock)
        try:
            receipt = rogue.append(sign_statement(statement, w.keys[actor]))
        finally:
            rogue.stop()
        return receipt.index, receipt.event_hash.hex()


@pytest.fixture
def played(db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Iterator[Played]:
    ledger, world = evaluation_ledger(db_url, tmp_path, open_ledger)
    root = SignerKey.parse((tmp_path / "root.key").read_text())
    with TestClient(create_app(ledger)) as client:
        problems: list[dict[str, Any]] = []

        def submit(signed: SignedStatement) -> str:
            response = client.post("/v1/statements", json=signed.submission())
            if response.status_code != 201:
                problems.append(response.json())
                raise Refused(response.status_code, response.json())
            return str(response.json()["event_hash"])

        played = World(submit=submit, root=root, clock=world.time)  # the ledger's clock
        yield Played(client, played, ledger, tmp_path, problems)
