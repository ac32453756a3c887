"""The bad-input drill (dữ liệu độc hại): hostile input at every entry point, each owed
a specific refusal.

A small evaluation ledger is built through the service code (``bench.drills.base``),
served by the real app (``api.app.create_app``, authentication on), and fed a catalogue
of hostile inputs. Each case names the answer it is owed — HTTP status and RFC 9457
problem ``type`` (the witness: the C2SP tlog-witness status; a bundle: ``verify``'s exit
code) — and the harness checks that it got exactly that, that nothing answered 5xx or
raised, that the service still answers, and that no table of the database gained or lost
a row (nothing stored). Webhook registrations are statements and are stored by design:
for them the dispatcher must record the endpoint as ``invalid`` with a reason, and not
crash.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from access.tokens import AccessStore
from api.app import create_app
from api.witness import create_witness_app
from bench.drills.base import Keys, build
from bench.drills.scenario import AUTHORITY, REGISTRAR, Scenario
from cadreledger.cli import main
from cadreledger.service import Ledger
from evidence.bundle import export, write
from ledger.cosignature import AddCheckpoint
from ledger.keys import SignerKey
from ledger.statement import MAX_SUBMISSION_BYTES, SignedStatement, sign_statement
from ledger.texts import commit
from streams.feed import Feed, FeedFilter
from streams.webhooks import Dispatcher, WebhookKeys
from witness.state import WitnessState
from witness.witness import Witness

JSON = {"content-type": "application/json"}


def problem(slug: str) -> str:
    return f"/problems/{slug}"


@dataclass
class Tally:
    """One entry point's figures."""

    tried: int = 0
    as_specified: int = 0
    server_errors: int = 0
    stored: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Figures:
    entries: dict[str, Tally] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def tally(self, entry: str) -> Tally:
        return self.entries.setdefault(entry, Tally())

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": {k: v.to_json() for k, v in self.entries.items()},
            "problems": self.problems,
            "seconds": self.seconds,
            "ok": self.ok,
        }


def _now(ahead: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + ahead).strftime("%Y-%m-%dT%H:%M:%SZ")


class World:
    """The drill's ledger, its app, and people to sign as."""

    def __init__(self, ledger: Ledger, scenario: Scenario, workdir: Path) -> None:
        self.ledger = ledger
        self.scenario = scenario
        self.rng = random.Random(11)
        self.access = AccessStore(ledger.store)
        self.http = TestClient(
            create_app(ledger, access=self.access, webhook_keys=WebhookKeys(b"\x07" * 32)),
            raise_server_exceptions=False,
        )
        token, _ = self.access.issue(AUTHORITY, roles=frozenset({"admin"}))
        self.auth = {"authorization": f"Bearer {token}"}
        self.workdir = workdir

    def nonce(self) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(15)).decode()

    def statement(self, actor: str, type_: str, **body: Any) -> dict[str, Any]:
        return {
            "v": 1,
            "type": type_,
            "actor": actor,
            "issued_at": _now(),
            "nonce": self.nonce(),
            **body,
        }

    def signed(self, actor: str, type_: str, **body: Any) -> Any:
        return sign_statement(self.statement(actor, type_, **body), self.scenario.key(actor))

    def newcomer(self, person: str) -> SignedStatement:
        key = self.scenario.key(person)
        signed: SignedStatement = self.signed(
            REGISTRAR, "person.registered", person=person, name="Người mới", key=str(key.verifier)
        )
        return signed

    def tables(self) -> dict[str, int]:
        """Rows per table: what "nothing stored" is checked against."""
        store = self.ledger.store
        if self.ledger.settings.db.startswith("postgres"):
            rows = store.query(
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        else:
            rows = store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        names = sorted(str(r["name"]) for r in rows if not str(r["name"]).startswith("sqlite_"))
        return {n: int(store.query(f'SELECT COUNT(*) AS n FROM "{n}"')[0]["n"]) for n in names}


def body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def resigned(submission: dict[str, Any], key: SignerKey) -> bytes:
    """``submission`` with its statement signed anew by ``key`` (hostile but well signed)."""
    from ledger.canonical import canonical_bytes

    statement = submission["statement"]
    signature = key.sign(canonical_bytes(statement))
    return body({**submission, "signature": base64.b64encode(signature).decode()})


# -- the catalogue ----------------------------------------------------------------------

Send = Callable[[], tuple[int, str | None]]


def statement_cases(w: World, path: str) -> list[tuple[str, bytes, int, str]]:
    """Hostile submissions for ``path`` (statements or logins): name, body, status, type."""
    login = path.endswith("/tokens")
    actor = REGISTRAR
    key = w.scenario.key(actor)

    def good(**extra: Any) -> dict[str, Any]:
        if login:
            base = w.statement(actor, "auth.token", audience=w.ledger.log_key.name, **extra)
        else:
            person = f"moi.bad.{w.rng.randrange(10**9)}"
            base = w.statement(
                actor, "person.registered", person=person, name="Người mới",
                key=str(w.scenario.key(person).verifier), **extra,
            )  # fmt: skip
        return sign_statement(base, key).submission()

    def with_statement(**changes: Any) -> bytes:
        submission = good()
        statement = {**submission["statement"], **changes}
        return resigned({**submission, "statement": statement}, key)

    deep = 10_000
    nfd = "Nguye\u0302\u0303n"  # Nguyễn, decomposed
    g = good()
    forged = bytearray(base64.b64decode(g["signature"]))
    forged[7] ^= 0x10
    stranger = SignerKey.from_seed(actor, b"\x01" * 32)  # the actor's name, not their key
    other = w.scenario.key(AUTHORITY)
    cases: list[tuple[str, bytes, int, str]] = [
        (
            "body over the service's limit",
            b'{"x":"' + b"a" * 300_000 + b'"}',
            413,
            "payload-too-large",
        ),
        (
            "body over the submission limit",
            body({**good(), "pad": "a" * MAX_SUBMISSION_BYTES}),
            413,
            "payload-too-large",
        ),
        ("statement over 64 KiB", with_statement(pad="ă" * 40_000), 400, "invalid-statement"),
        ("10,000-deep arrays", b"[" * deep + b"]" * deep, 400, "malformed-json"),
        ("10,000-deep objects", b'{"a":' * deep + b"1" + b"}" * deep, 400, "malformed-json"),
        (
            "17-deep statement",
            with_statement(x=json.loads('{"a":' * 17 + "1" + "}" * 17)),
            400,
            "malformed-json",
        ),
        ("not UTF-8", b'{"statement": "\xff\xfe"}', 400, "not-utf8"),
        ("not JSON", b"statement=1", 400, "malformed-json"),
        ("empty body", b"", 400, "malformed-json"),
        ("non-NFC value", with_statement(name=nfd), 400, "non-nfc-string"),
        ("non-NFC key", with_statement(**{nfd: 1}), 400, "non-ascii-key"),
        ("lone surrogate", body(g).replace(b'"v": 1', b'"v": 1, "x": "\\udee0"'), 400, "not-utf8"),
        ("non-NFC in the signer", body({**g, "signer": nfd}), 400, "non-nfc-string"),
        (
            "float",
            body({**g, "statement": {**g["statement"], "x": 0}}).replace(b'"x": 0', b'"x": 0.5'),
            400,
            "float-not-allowed",
        ),
        ("NaN", body(g).replace(b'"v": 1', b'"v": NaN'), 400, "float-not-allowed"),
        ("1e400", body(g).replace(b'"v": 1', b'"v": 1e400'), 400, "float-not-allowed"),
        ("2^53", body(g).replace(b'"v": 1', b'"v": 9007199254740992'), 400, "integer-out-of-range"),
        (
            "5,000-digit integer",
            body(g).replace(b'"v": 1', b'"v": 1' + b"0" * 5000),
            400,
            "integer-out-of-range",
        ),
        ("duplicate key", body(g).replace(b'{"v": 1', b'{"v": 1, "v": 1'), 400, "duplicate-key"),
        ("duplicate member", body(g)[:-1] + b', "signer": "x"}', 400, "duplicate-key"),
        ("submission is a list", body([g]), 400, "invalid-statement"),
        ("statement is a string", body({**g, "statement": "x"}), 400, "invalid-statement"),
        ("statement is null", body({**g, "statement": None}), 400, "invalid-statement"),
        ("extra member", body({**g, "extra": 1}), 400, "invalid-statement"),
        (
            "signature missing",
            body({k: v for k, v in g.items() if k != "signature"}),
            400,
            "invalid-statement",
        ),
        ("v is a string", with_statement(v="1"), 400, "unknown-statement-version"),
        ("v is true", with_statement(v=True), 400, "unknown-statement-version"),
        ("v is 2", with_statement(v=2), 400, "unknown-statement-version"),
        ("v is an object", with_statement(v={"a": 1}), 400, "unknown-statement-version"),
        ("type is a number", with_statement(type=5), 400, "invalid-statement"),
        ("actor is a list", with_statement(actor=[actor]), 400, "invalid-statement"),
        ("nonce too short", with_statement(nonce="abc"), 400, "invalid-statement"),
        ("issued_at not a time", with_statement(issued_at="yesterday"), 400, "invalid-statement"),
        (
            "issued_at 30 February",
            with_statement(issued_at="2026-02-30T00:00:00Z"),
            400,
            "invalid-statement",
        ),
        ("signer is a number", body({**g, "signer": 12}), 400, "invalid-key"),
        ("signer is junk", body({**g, "signer": "a+b+c"}), 400, "invalid-key"),
        ("signature is a number", body({**g, "signature": 12}), 400, "bad-signature"),
        ("signature not base64", body({**g, "signature": "!!"}), 400, "bad-signature"),
        ("signature not ASCII", body({**g, "signature": "chữký"}), 400, "bad-signature"),
        (
            "signature truncated",
            body({**g, "signature": g["signature"][:40]}),
            400,
            "bad-signature",
        ),
        (
            "forged signature",
            body({**g, "signature": base64.b64encode(forged).decode()}),
            400,
            "bad-signature",
        ),
        (
            "signed by another's key",
            resigned({**g, "signer": str(other.verifier)}, other),
            403,
            "signer-mismatch",
        ),
        ("texts is a string", body({**g, "texts": "x"}), 400, "invalid-disclosure"),
    ]
    unknown = "nguoi.la"
    cases.append(
        ("unregistered actor", body(sign_statement(w.statement(unknown, "auth.token"
         if login else "unit.registered", audience=w.ledger.log_key.name, unit="u",
         name="Đơn vị"), SignerKey.from_seed(unknown, b"\x02" * 32)).submission()), 403,
         "unknown-key"))  # fmt: skip
    cases.append(
        (
            "the actor's name, an unregistered key",
            body(sign_statement(good()["statement"], stranger).submission()),
            403,
            "unknown-key",
        )
    )
    cases.append(("from the future", resigned({**g, "statement": {**g["statement"],
                  "issued_at": _now(timedelta(hours=2))}}, key), *(
                  (401, "bad-login") if login else (400, "clock-skew"))))  # fmt: skip
    # A sealed text whose disclosure does not match its commitment.
    salt = bytes(32)
    sealed = {"sealed": commit(salt, "Văn bản thật.")}
    texts = {sealed["sealed"]: {"salt": base64.b64encode(salt).decode(), "text": "Văn bản khác."}}
    mismatch = {**g, "statement": {**g["statement"], "note": sealed}, "texts": texts}
    cases.append(("sealed text does not match", resigned(mismatch, key), 400,
                  "disclosure-mismatch"))  # fmt: skip
    if login:
        cases.append(("login for another audience", body(sign_statement(w.statement(
            actor, "auth.token", audience="other.example/log"), key).submission()), 401,
            "bad-login"))  # fmt: skip
        cases.append(("not a login statement", body(sign_statement(w.statement(
            actor, "unit.registered", unit="u", name="Đơn vị"), key).submission()), 401,
            "bad-login"))  # fmt: skip
    return cases


def run_statements(w: World, figures: Figures, path: str, entry: str) -> None:
    tally = figures.tally(entry)
    for name, data, status, slug in statement_cases(w, path):
        _post(w, figures, tally, entry, name, path, data, status, problem(slug))
    # Stateful cases: a replay, and a revoked key.
    login = path.endswith("/tokens")
    key = w.scenario.key(REGISTRAR)
    if login:
        first = w.signed(REGISTRAR, "auth.token", audience=w.ledger.log_key.name)
    else:
        first = w.newcomer(f"moi.bad.replay.{w.rng.randrange(10**9)}")
    answer = w.http.post(path, content=body(first.submission()), headers=JSON)
    if answer.status_code not in (200, 201):
        figures.problems.append(f"{entry}: a valid input was refused: {answer.text[:300]}")
    replay_status, replay_slug = (401, "bad-login") if login else (409, "nonce-reused")
    changed = {**first.statement, "name": "Khác"} if not login else {**first.statement}
    if login:  # the same login used twice
        _post(w, figures, tally, entry, "login replayed", path, body(first.submission()),
              replay_status, problem(replay_slug))  # fmt: skip
    else:
        replay = sign_statement(changed, key).submission()
        _post(w, figures, tally, entry, "same nonce, other content", path, body(replay),
              replay_status, problem(replay_slug))  # fmt: skip
    revoked = w.scenario.panel[-1]
    statement = (
        w.statement(revoked, "auth.token", audience=w.ledger.log_key.name)
        if login
        else w.statement(revoked, "unit.registered", unit="u", name="Đơn vị")
    )
    _post(w, figures, tally, entry, "key revoked before signing", path,
          body(sign_statement(statement, w.scenario.key(revoked)).submission()), 403,
          problem("key-revoked"))  # fmt: skip


def _post(
    w: World,
    figures: Figures,
    tally: Tally,
    entry: str,
    name: str,
    path: str,
    data: bytes,
    status: int,
    type_: str,
) -> None:
    before = w.tables()
    answer = w.http.post(path, content=data, headers=JSON)
    got = _type(answer)
    _judge(w, figures, tally, entry, name, (answer.status_code, got), (status, type_), before)


def _type(answer: Any) -> str | None:
    try:
        found = answer.json()
    except ValueError:
        return None
    return found.get("type") if isinstance(found, dict) else None


def _judge(
    w: World,
    figures: Figures,
    tally: Tally,
    entry: str,
    name: str,
    got: tuple[int, str | None],
    owed: tuple[int, str | None],
    before: dict[str, int] | None,
) -> None:
    tally.tried += 1
    if got[0] >= 500:
        tally.server_errors += 1
    if got == owed:
        tally.as_specified += 1
    else:
        figures.problems.append(f"{entry}: {name}: got {got}, owed {owed}")
    if before is not None:
        after = w.tables()
        changed = {t: (before.get(t), n) for t, n in after.items() if before.get(t) != n}
        if changed:
            tally.stored += 1
            figures.problems.append(f"{entry}: {name}: stored something: {changed}")
    alive = w.http.get("/v1/log/checkpoint")
    if alive.status_code != 200:
        figures.problems.append(f"{entry}: {name}: the service stopped answering")


def run_parameters(w: World, figures: Figures) -> None:
    """Query parameters of the read endpoints."""
    tally = figures.tally("GET query parameters")
    size = w.ledger.size()
    # Pydantic's lax integers read ' 1', '1.0' and '1_0' as numbers ('+' in a query is a
    # space): harmless, answered 200, and listed as such.
    hostile = ["-2", "-5", "²", "١", "", "1e3", "0x10", "NaN", "९", "--1", "1" * 30]
    invalid = (400, problem("invalid-request"))
    out_of_range = (400, problem("invalid-range"))
    cases: list[tuple[str, str, tuple[int, str | None]]] = []
    for value in hostile:
        cases += [
            (f"entries start={value!r}", f"/v1/log/entries?start={value}", invalid),
            (f"entries limit={value!r}", f"/v1/log/entries?limit={value}", invalid),
            (f"events after={value!r}", f"/v1/events?after={value}", invalid),
        ]
        # The proofs' parameters take any integer and answer a range they cannot prove.
        owed = out_of_range if value == "1" * 30 else invalid
        cases += [
            (f"inclusion index={value!r}", f"/v1/log/proof/inclusion?index={value}&size=2",
             owed),
            (f"consistency from={value!r}", f"/v1/log/proof/consistency?from={value}&to=2",
             owed),
        ]  # fmt: skip
    for lenient in (" 1", "1.0", "1_0"):
        cases.append(
            (f"entries start={lenient!r}", f"/v1/log/entries?start={lenient}", (200, None))
        )
    cases += [
        ("entries -1 is allowed only for after", "/v1/log/entries?after=-2", invalid),
        ("inclusion beyond the log", f"/v1/log/proof/inclusion?index=1&size={size + 1}",
         out_of_range),
        ("inclusion index ≥ size", "/v1/log/proof/inclusion?index=5&size=5", out_of_range),
        ("inclusion huge within int64", f"/v1/log/proof/inclusion?index=0&size={2**62}",
         out_of_range),
        ("consistency backwards", "/v1/log/proof/consistency?from=5&to=3", out_of_range),
        ("start and after", "/v1/log/entries?start=1&after=1",
         (400, problem("conflicting-parameters"))),
    ]  # fmt: skip
    for name, url, wanted in cases:
        answer = w.http.get(url, headers=w.auth)
        _judge(w, figures, tally, "GET query parameters", name,
               (answer.status_code, _type(answer)), wanted, None)  # fmt: skip


def run_witness(w: World, figures: Figures) -> None:
    """C2SP tlog-witness ``add-checkpoint``: statuses only (plain-text bodies)."""
    entry = "witness add-checkpoint"
    tally = figures.tally(entry)
    key = SignerKey.from_seed("witness.drill", b"\x05" * 32)
    log_signer = SignerKey.parse((w.workdir / "keys" / "log.key").read_text())
    state = WitnessState(w.workdir / "witness.db")
    witness = Witness(key, [(w.ledger.log_key.name, w.ledger.log_key)], state)
    note = w.ledger.checkpoint()
    size = int(note.split("\n")[1])
    origin = w.ledger.log_key.name
    impostor = SignerKey.from_seed(origin, b"\x06" * 32)
    forged = note.replace(note.split("\n")[2], base64.b64encode(bytes(32)).decode())
    text = note[: note.index("\n\n") + 1]
    from ledger.note import sign

    by_impostor = sign(text, impostor)
    good = AddCheckpoint(0, (), note).body()
    huge_old = f"old {10**30}\n\n".encode() + note.encode()
    cases: list[tuple[str, bytes, int]] = [
        ("empty", b"", 400),
        ("not UTF-8", b"old 0\n\n\xff\xfe", 400),
        ("no blank line", b"old 0\n" + note.encode(), 400),
        ("old is not a number", b"old x\n\n" + note.encode(), 400),
        ("old is '²'", "old ²\n\n".encode() + note.encode(), 400),
        ("old has a leading zero", b"old 01\n\n" + note.encode(), 400),
        ("old -1", b"old -1\n\n" + note.encode(), 400),
        ("old beyond the checkpoint", huge_old, 400),
        ("64 proof lines", b"old 0\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\n"
         + note.encode(), 400),
        ("proof line not base64", b"old 0\n!!\n\n" + note.encode(), 400),
        ("proof hash of 31 bytes", b"old 0\n" + base64.b64encode(bytes(31)) + b"\n\n"
         + note.encode(), 400),
        ("oversized", b"old 0\n\n" + b"x" * 70_000, 413),
        ("unknown origin", b"old 0\n\nother.example/log\n1\n" + b"A" * 44 + b"\n\n", 404),
        ("note without signatures", b"old 0\n\n" + text.encode(), 400),
        ("checkpoint junk, signed", b"old 0\n\n" + origin.encode() + b"\n\xe1\xba\xa1\n\n", 400),
        ("signature not ASCII", b"old 0\n\n" + text.encode() + "\n— x chữký\n".encode(), 400),
        ("signed by an impostor", b"old 0\n\n" + by_impostor.encode(), 403),
        ("root changed under the log's signature", b"old 0\n\n" + forged.encode(), 403),
        ("wrong old size", AddCheckpoint(1, (bytes(32),), note).body(), 409),
        ("proof from size 0", AddCheckpoint(0, (bytes(32),), note).body(), 422),
    ]  # fmt: skip
    _ = size, log_signer
    with TestClient(create_witness_app(witness), raise_server_exceptions=False) as http:
        for name, data, status in cases:
            before = state.heads()
            answer = http.post("/add-checkpoint", content=data)
            _judge(w, figures, tally, entry, name, (answer.status_code, None), (status, None),
                   None)  # fmt: skip
            if state.heads() != before:
                tally.stored += 1
                figures.problems.append(f"{entry}: {name}: the witness recorded a head")
        # The genuine request is cosigned: the drill's witness is not refusing everything.
        if http.post("/add-checkpoint", content=good).status_code != 200:
            figures.problems.append(f"{entry}: the genuine checkpoint was not cosigned")
    state.close()


def run_bundles(w: World, figures: Figures) -> None:
    """``cadreledger verify BUNDLE`` on hostile files: exit 1 or 2 and a message, no traceback."""
    entry = "verify BUNDLE"
    tally = figures.tally(entry)
    cycle = w.scenario.cycle
    genuine = write(export(w.ledger, cycle))
    doc = json.loads(genuine)
    proof_tampered = json.loads(genuine)
    first = proof_tampered["events"][0]
    first["proof"][0] = base64.b64encode(bytes(32)).decode()
    envelope_tampered = json.loads(genuine)
    envelope_tampered["events"][1]["envelope"] = envelope_tampered["events"][1]["envelope"].replace(
        '"v":1', '"v":2', 1
    )
    deep = b"[" * 5000 + b"]" * 5000
    cases: list[tuple[str, bytes, int]] = [
        ("genuine", genuine, 0),
        ("truncated", genuine[: len(genuine) // 2], 2),
        ("empty", b"", 2),
        ("not UTF-8", b"\xff\xfe\x00", 2),
        ("wrong format string", body({**doc, "format": "cadreledger-bundle/9"}), 2),
        ("a list", b"[]", 2),
        ("10,000-deep", b"[" * 10_000 + b"]" * 10_000, 2),
        ("deep in a section", body({**doc, "evaluation": "@"}).replace(b'"@"', deep), 2),
        ("huge (20 MB of padding)", body({**doc, "pad": "x" * 20_000_000}), 0),
        ("events not a list", body({**doc, "events": 5}), 2),
        ("a size of Infinity", body({**doc, "consistency": [{"from": "@", "to": 1, "proof": []}]})
         .replace(b'"@"', b"Infinity"), 2),
        ("an event listed twice", body({**doc, "events": [*doc["events"], doc["events"][0]]}), 1),
        ("an event without proof", body({**doc, "events": [{"index": 0, "envelope": "{}"}]}), 2),
        ("proof not base64", body({**doc, "events": [{**doc["events"][0], "proof": ["!"]}]}), 2),
        ("index is a string", body({**doc, "events": [{**doc["events"][0], "index": "x"}]}), 2),
        ("log key malformed", body({**doc, "log_key": "x"}), 2),
        ("served is a list", body({**doc, "evaluation": {**doc["evaluation"], "served": [1]}}),
         2),
        ("served documents a string", body({**doc, "evaluation": {**doc["evaluation"],
         "served": {"position": 1, "documents": "x"}}}), 2),
        ("root keys a number", body({**doc, "evaluation": {**doc["evaluation"],
         "root_keys": 5}}), 2),
        ("root keys strangers'", body({**doc, "evaluation": {**doc["evaluation"],
         "root_keys": ["abc"]}}), 1),
        ("a tampered inclusion proof", body(proof_tampered), 1),
        ("a tampered envelope", body(envelope_tampered), 1),
        ("checkpoint is a number", body({**doc, "checkpoint": 5}), 1),
    ]  # fmt: skip
    runner = CliRunner()
    for name, data, code in cases:
        path = w.workdir / "hostile.json"
        path.write_bytes(data)
        result = runner.invoke(main, ["verify", str(path)])
        raised = result.exception is not None and not isinstance(result.exception, SystemExit)
        tally.tried += 1
        if raised:
            tally.server_errors += 1
            figures.problems.append(
                f"{entry}: {name}: {type(result.exception).__name__}: {result.exception}"
            )
        elif result.exit_code == code and (code == 0 or result.output.strip()):
            tally.as_specified += 1
        else:
            figures.problems.append(
                f"{entry}: {name}: exit {result.exit_code}, owed {code}: {result.output[-300:]}"
            )


HOSTILE_HOOKS: list[tuple[str, dict[str, Any]]] = [
    ("javascript URL", {"url": "javascript:alert(1)"}),
    ("no host", {"url": "http:///x"}),
    ("ftp", {"url": "ftp://example.org/"}),
    ("URL of 3,000 characters", {"url": "https://example.org/" + "a" * 3000}),
    ("URL is a number", {"url": 5}),
    ("URL is a list", {"url": ["https://example.org/"]}),
    ("URL missing", {}),
    ("filter is a list", {"url": "https://example.org/", "filter": ["decision.issued"]}),
    ("filter has extra members", {"url": "https://example.org/", "filter": {"x": 1}}),
    ("filter.types a string", {"url": "https://example.org/", "filter": {"types": "a"}}),
    ("filter.types of numbers", {"url": "https://example.org/", "filter": {"types": [1]}}),
    ("filter.cycle an object", {"url": "https://example.org/", "filter": {"cycle": {"a": 1}}}),
    ("filter.unit a number", {"url": "https://example.org/", "filter": {"unit": 7}}),
]


def run_webhooks(w: World, figures: Figures) -> None:
    """Hostile registrations are refused at intake (400), or, where stored, recorded by
    the dispatcher as invalid."""
    entry = "webhook registrations"
    tally = figures.tally(entry)
    integrator = w.scenario.panel[0]
    start = w.ledger.size() - 1
    hashes: dict[str, str] = {}
    for name, fields in HOSTILE_HOOKS:
        signed = w.signed(integrator, "webhook.registered", **fields)
        answer = w.http.post("/v1/statements", content=body(signed.submission()), headers=JSON)
        tally.tried += 1
        if answer.status_code >= 500:
            tally.server_errors += 1
        if answer.status_code in (200, 201):
            hashes[name] = answer.json()["event_hash"]
        elif answer.status_code != 400:
            figures.problems.append(f"{entry}: {name}: {answer.status_code} {answer.text[:200]}")
        else:
            tally.as_specified += 1  # refused at intake, specifically: fine too
    feed = Feed(w.ledger)
    page = feed.read(start, 1000, FeedFilter(), None)
    dispatcher = Dispatcher(w.ledger, feed, WebhookKeys(b"\x07" * 32))
    if page.events:  # (the service refuses malformed targets at intake: maybe none stored)
        dispatcher._ingest(page.events)  # what the running dispatcher does with each page
    endpoints = dispatcher.db.endpoints()
    for name, event_hash in hashes.items():
        endpoint = endpoints.get(event_hash)
        if endpoint is not None and endpoint.state == "invalid" and endpoint.reason:
            tally.as_specified += 1
        else:
            figures.problems.append(f"{entry}: {name}: recorded as {endpoint}")


def grant_and_revoke(ledger: Ledger, world: Scenario) -> None:
    """The integrator role for the webhook registrant; a panel member's key revoked."""
    integrator, revoked = world.panel[0], world.panel[-1]
    ledger.append(world.sign("root", "role.granted", person=integrator, role="integrator"))
    ledger.append(
        world.sign(
            REGISTRAR,
            "key.revoked",
            person=revoked,
            key=str(world.key(revoked).verifier),
            reason="Mất thiết bị.",  # effective: from now (no act of the key to disown)
        )
    )


def run(url: str, workdir: Path) -> Figures:
    import time

    started = time.monotonic()
    figures = Figures()
    keys = Keys(workdir / "keys")
    world = build(url, keys, cadres=6, decided=2, newcomers=4, seed=5)
    settings = keys.settings(url)
    with Ledger(settings) as ledger:
        grant_and_revoke(ledger, world)
        ledger.projector.catch_up()
        w = World(ledger, world, workdir)
        with w.http:
            run_statements(w, figures, "/v1/statements", "POST /v1/statements")
            run_statements(w, figures, "/v1/auth/tokens", "POST /v1/auth/tokens")
            run_parameters(w, figures)
            run_witness(w, figures)
            run_webhooks(w, figures)
        ledger.projector.catch_up()
        run_bundles(w, figures)
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def print_figures(data: dict[str, Any]) -> None:
    print(f"bad-input drill ({data['seconds']} s):")
    print(f"  {'entry point':<26} {'tried':>5} {'as specified':>12} {'5xx':>4} {'stored':>6}")
    for name, t in data["entries"].items():
        print(
            f"  {name:<26} {t['tried']:>5} {t['as_specified']:>12} {t['server_errors']:>4}"
            f" {t['stored']:>6}"
        )
    for p in data["problems"]:
        print(f"  ✗ {p[:500]}")
