"""The PostgreSQL store's batch: one call of a function it creates, or a transaction where
the database role may not create functions (``ledger.store_postgres.batch_function``).

What a batch does on the server (the events table's lock, the notification, whole or
nothing) is held to in tests/service/test_eventsourcing_contract.py, through whichever
path the store takes; these tests hold to the paths themselves."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore

from cadreledger.service import Ledger
from ledger.store import open_store
from ledger.store_postgres import PostgresLedgerRecorder, PostgresLogStore
from tests.service.test_eventsourcing_contract import _batch

pytestmark = pytest.mark.postgres


def _batch_functions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pg_get_functiondef(oid) FROM pg_proc WHERE proname LIKE 'ledger!_batch!_%'"
            " ESCAPE '!'"
        ).fetchall()
    return [definition for (definition,) in rows]


def _store(url: str, open_ledger: Callable[..., Ledger]) -> PostgresLogStore:
    store = open_ledger(url).store
    assert isinstance(store, PostgresLogStore)
    return store


def test_a_batch_is_one_call_of_a_function_running_the_librarys_statements(
    pg_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """The writer creates the function at its first batch; its body is the events table's
    lock and notification exactly as eventsourcing's writers run them, then the INSERT."""
    store = _store(pg_url, open_ledger)
    store.commit(*_batch("a", 0))
    (definition,) = _batch_functions(pg_url)
    recorder = store.recorder
    body = definition[definition.index("BEGIN") :]
    statements = [s.as_string() for s in recorder.lock_table_statements]
    statements.append(f'NOTIFY "{recorder.channel_name}"')
    positions = [body.index(statement + ";") for statement in statements]
    assert positions == sorted(positions) < [body.index("WITH t0 AS (INSERT")]
    assert store.count_events() == 2

    store.commit(*_batch("b", 2))  # the same function, not another
    assert len(_batch_functions(pg_url)) == 1
    assert [leaf[0] for leaf in store.iter_leaves()] == [0, 1, 2, 3]


def test_a_function_dropped_behind_the_writers_back_is_made_again(
    pg_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """A restore without it, an operator's DROP: the next batch is not refused."""
    store = _store(pg_url, open_ledger)
    store.commit(*_batch("a", 0))
    with psycopg.connect(pg_url, autocommit=True) as admin:
        (signature,) = admin.execute(
            "SELECT oid::regprocedure::text FROM pg_proc WHERE proname LIKE 'ledger!_batch!_%'"
            " ESCAPE '!'"
        ).fetchone() or ("",)
        admin.execute(f"DROP FUNCTION {signature}")
    assert _batch_functions(pg_url) == []
    store.commit(*_batch("b", 2))
    assert len(_batch_functions(pg_url)) == 1
    assert store.count_events() == 4


@pytest.fixture
def dml_role(pg_url: str, open_ledger: Callable[..., Ledger]) -> Iterator[str]:
    """A database role that may read and write the ledger's tables (made by their owner)
    but not create anything in the schema, as some operators run their services."""
    _store(pg_url, open_ledger)  # the owner creates the tables
    role = "cl_dml_" + secrets.token_hex(4)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
        admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        admin.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}")
        admin.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    try:
        yield role
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_a_role_that_may_not_create_the_function_writes_in_a_transaction(
    pg_url: str,
    open_ledger: Callable[..., Ledger],
    dml_role: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The batch then goes as before, in a pipelined transaction: stored whole or not at
    all, and the operator is told what to grant."""
    owner_store = _store(pg_url, open_ledger)
    url = urlsplit(pg_url)
    datastore = PostgresDatastore(
        url.path.lstrip("/"),
        url.hostname or "",
        url.port or 5432,
        dml_role,
        "",
        originator_id_type="text",
    )
    recorder = PostgresLedgerRecorder(
        datastore, events_table_name=owner_store.recorder.events_table_name
    )
    store = open_store(recorder)
    assert isinstance(store, PostgresLogStore)
    try:
        with caplog.at_level(logging.WARNING, "ledger.store_postgres"):
            store.commit(*_batch("a", 0))
            store.commit(*_batch("b", 2))
        assert [r.getMessage() for r in caplog.records].count(
            caplog.records[0].getMessage()
        ) == 1, "told once, not at every batch"
        assert "may not create" in caplog.records[0].getMessage()
        assert _batch_functions(pg_url) == []
        assert store.count_events() == 4

        events, rows = _batch("c", 4)
        rows.checkpoint = (2, "a checkpoint at a size already stored")
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            store.commit(events, rows)
        assert store.count_events() == 4
        assert [leaf[0] for leaf in store.iter_leaves()] == [0, 1, 2, 3]
    finally:
        datastore.close()
