"""A replay from zero on every core (``projections.cores``) reaches exactly the state of
one model replaying the log in order: the same documents, refusals, one-year records
and cycle order — whichever worker each cycle went to — and a projector rebuilt that
way follows the log on as one rebuilt in one model does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadreledger.config import Settings
from cadreledger.service import Ledger
from domain.model import Model
from ledger.keys import SignerKey
from projections import cores
from projections.follower import Projector
from projections.source import admitted_acts
from projections.views import digest, documents, encoded
from tests.conftest import examples
from tests.evaluation import (
    ADVISORY,
    AUTHORITY,
    CADRES,
    CHAIR,
    CYCLE,
    OFFICIALS,
    PANEL,
    UNIT,
    World,
    WorldClock,
    pin,
)
from tests.service.test_audit_parts import (
    a_decision_filed_in_its_actors_stream,
    a_log_with_everything,
    discipline,
    stored_size,
    two_cycles,
)
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle


def in_one_model(ledger: Ledger) -> Model:
    model = Model(ledger.root_keys)
    for act in admitted_acts(ledger.store, 0, stored_size(ledger)):
        model.replay(act)
    return model


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_replay_on_every_core_reaches_the_state_of_one_model(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger], workers: int
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    a_log_with_everything(ledger, w, tmp_path)
    one = in_one_model(ledger)
    assert len(one.refused) == 1 and one.violations_seen  # the case is what it claims
    # Only a replay that knows last year's record admits this year's HTT decision.
    assert one.cycles[CYCLE].evaluations[CADRES[2]].decision is not None

    found = cores.replay_log(
        ledger.store, ledger.root_keys, stored_size(ledger), documents=True, workers=workers
    )
    assert found is not None
    model = found.model
    assert list(model.cycles) == list(one.cycles)  # the order the cycles opened in
    assert model.refused == one.refused
    assert model.violations_seen == one.violations_seen
    assert model.position == one.position == stored_size(ledger)
    assert model.registry.to_doc() == one.registry.to_doc()
    mine = encoded(documents(one))
    assert found.docs == {name: doc for name, doc in mine.items() if name.startswith("cycle/")}
    assert digest(documents(model)) == digest(documents(one))


def test_a_log_that_cannot_be_taken_apart_is_replayed_in_one_model(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A decision stored in its actor's stream, not its cycle's: no worker may judge it
    alone, so ``replay_log`` declines and the projector replays the log in one model."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    a_decision_filed_in_its_actors_stream(ledger, w, tmp_path)
    assert (
        cores.replay_log(
            ledger.store, ledger.root_keys, stored_size(ledger), documents=True, workers=2
        )
        is None
    )
    monkeypatch.setattr(cores, "FROM", 0)
    rebuilt = Projector(ledger.store, ledger.root_keys).rebuild()
    assert rebuilt == digest(documents(in_one_model(ledger)))


def test_a_projector_rebuilt_on_every_core_follows_on_as_one_rebuilt_in_one_model(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    two_cycles(ledger, w)
    monkeypatch.setattr(cores, "FROM", 0)
    projector = Projector(ledger.store, ledger.root_keys)
    rebuilt = projector.rebuild()
    assert isinstance(projector.model.cycles, cores.PackedCycles)
    assert rebuilt == projector.stored_digest() == digest(documents(in_one_model(ledger)))
    w.propose_and_decide(CADRES[3], "HT")  # into a cycle still pickled
    projector.catch_up()
    followed = projector.stored_digest()
    monkeypatch.setattr(cores, "FROM", 10**12)
    assert followed == Projector(ledger.store, ledger.root_keys).rebuild()
    # And a projector that starts on a read model replays up to it on every core.
    monkeypatch.setattr(cores, "FROM", 0)
    started = Projector(ledger.store, ledger.root_keys)
    assert digest(documents(started.model)) == followed


def test_a_worker_that_fails_is_reported_not_waited_for(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """A stored event that is no envelope (the store's bytes changed under it) fails its
    worker; the replay reports that worker's error rather than waiting for it."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    store = ledger.store
    ((_, stream, version, _),) = store.entries(stored_size(ledger) - 1, 1)
    store.execute(
        f"UPDATE {store.events_table} SET state = ?"
        " WHERE originator_id = ? AND originator_version = ?",
        (b"not an envelope", stream, version),
    )
    with pytest.raises(RuntimeError, match=r"(?s)replay worker.*EnvelopeError"):
        cores.replay_log(store, ledger.root_keys, stored_size(ledger), documents=True, workers=2)


# -- any log of cycles and disciplines, any number of workers ------------------------------

YEARS = [2024, 2025, 2026]
VIOLATIONS = ["vp-1", "vp-2"]


def opening(w: World, cycle: str, year: int) -> None:
    roles = {"authority": [AUTHORITY], "advisory": [ADVISORY], "chair": [CHAIR], "panel": PANEL}
    w.act(
        AUTHORITY,
        "cycle.opened",
        cycle=cycle,
        regime=pin(),
        year=year,
        unit=UNIT,
        deadline="2027-12-31",
        roles={**roles, "inspection": [AUTHORITY]},
    )


def listing(w: World, cycle: str) -> None:
    subjects = [{"id": c, "name": f"Cán bộ {c}", "group": "staff"} for c in CADRES]
    w.act(AUTHORITY, "cycle.roster", cycle=cycle, subjects=subjects)


@settings(
    max_examples=examples(12),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    years=st.lists(st.sampled_from(YEARS), min_size=2, max_size=4),
    records=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(CADRES[:2]), st.sampled_from(VIOLATIONS)),
        min_size=1,
        max_size=8,
    ),
    workers=st.integers(1, 3),
    data=st.data(),
)
def test_any_log_of_cycles_and_disciplines_replays_alike_on_any_number_of_workers(
    tmp_path: Path,
    years: list[int],
    records: list[tuple[int, str, str]],
    workers: int,
    data: st.DataObject,
) -> None:
    """The one-year rule reads across cycles (a violation counts in the year it was
    first recorded in only): however the cycles' acts interleave in the log and are
    dealt out to workers, each record is judged as one model judges it."""
    turns = [i % len(years) for i, _, _ in records]
    plan = [(i % len(years), cadre, violation) for i, cadre, violation in records]
    order = data.draw(st.permutations([*range(len(years)), *range(len(years)), *turns]))
    assert_alike(tmp_path, years, plan, order, workers)


def test_a_record_judged_by_another_cycles_record_on_its_worker_is_judged_again(
    tmp_path: Path,
) -> None:
    """Cycles 0 (2025) and 2 (2024) go to one worker, cycle 1 (2024) to the other. The
    log first records the violation in cycle 1: cycle 2's record counts against it in
    2024 again, whatever its worker saw cycle 0 record in 2025 before it."""
    plan = [(1, CADRES[0], "vp-1"), (0, CADRES[0], "vp-1"), (2, CADRES[0], "vp-1")]
    assert_alike(tmp_path, [2025, 2024, 2024], plan, [0, 1, 2, 0, 1, 2, 1, 0, 2], 2)


def assert_alike(
    tmp_path: Path,
    years: list[int],
    plan: list[tuple[int, str, str]],
    order: list[int],
    workers: int,
) -> None:
    """A ledger of cycles in ``years``, each opened and listed, then the discipline
    records of ``plan`` (cycle, cadre, violation); each cycle's acts in turn as
    ``order`` names the cycles: replayed on ``workers``, as in one model."""
    with tempfile.TemporaryDirectory(dir=tmp_path) as where:
        root = SignerKey.generate("root")
        (Path(where) / "root.key").write_text(f"{root}\n")
        clock = WorldClock()
        ledger = Ledger(
            Settings(
                db=f"sqlite:///{where}/ledger.db",
                log_key_file=f"{where}/log.key",
                root_key_file=f"{where}/root.key",
                rules=True,
            ),
            clock=clock,
        )
        with ledger:
            w = World(submit=lambda s: ledger.append(s).event_hash.hex(), root=root, clock=clock)
            w.enrol(*OFFICIALS, CHAIR, *PANEL, *CADRES)
            w.act("root", "role.granted", person=AUTHORITY, role="organiser")
            cycles = [f"{year}-qd366-c{i}" for i, year in enumerate(years)]
            acts: list[list[Callable[[], None]]] = [
                [partial(opening, w, cycle, year), partial(listing, w, cycle)]
                for cycle, year in zip(cycles, years, strict=True)
            ]
            for i, cadre, violation in plan:
                acts[i].append(partial(discipline, w, cycles[i], years[i], cadre, violation))
            for i in order:
                acts[i].pop(0)()
            one = in_one_model(ledger)
            found = cores.replay_log(
                ledger.store, ledger.root_keys, stored_size(ledger), documents=True, workers=workers
            )
            assert found is not None
            assert list(found.model.cycles) == list(one.cycles)
            assert found.model.violations_seen == one.violations_seen
            assert digest(documents(found.model)) == digest(documents(one))
