"""Properties of the model: replay is deterministic, and judging in batches (as the
sequencer does, with drafts) ends in exactly the state of judging one act at a time."""

from __future__ import annotations

import contextlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.acts import Act
from domain.model import Model
from ledger.errors import Rejected
from projections.views import digest, documents
from tests.conftest import examples
from tests.evaluation import ADVISORY, AUTHORITY, CADRES, CHAIR, CYCLE, PANEL, World

LEVELS = ["HTXS", "HTT", "HT", "KHT"]
moves = st.lists(
    st.one_of(
        st.tuples(
            st.just("score"),
            st.sampled_from([*PANEL, CADRES[0]]),
            st.sampled_from(CADRES),
            st.integers(0, 32),
            st.integers(0, 72),
        ),
        st.tuples(
            st.just("amend"),
            st.sampled_from(PANEL),
            st.sampled_from(CADRES),
            st.integers(0, 30),
            st.integers(0, 70),
        ),
        st.tuples(st.just("tally"), st.sampled_from(CADRES), st.booleans()),
        st.tuples(st.just("propose"), st.sampled_from(CADRES), st.sampled_from(LEVELS)),
        st.tuples(st.just("decide"), st.sampled_from(CADRES), st.sampled_from(LEVELS)),
        st.tuples(st.just("discipline"), st.sampled_from(CADRES)),
    ),
    max_size=40,
)


def acts_for(world: World, plan: list[tuple[Any, ...]]) -> list[Act]:
    """The acts of a set-up cycle and then ``plan``, recorded as the world plays them."""
    recorded: list[Act] = []
    handle = world.model.handle

    def record(act: Act) -> None:
        recorded.append(act)
        with contextlib.suppress(Rejected):
            handle(act)

    world.model.handle = record  # type: ignore[method-assign]
    world.open()
    world.roster(collective=False)
    world.review()
    for move in plan:
        kind, *args = move
        ev = world.model.cycles[CYCLE].evaluations
        if kind == "score":
            scorer, cadre, general, tasks = args
            world.on(scorer, "score.submitted", cadre=cadre, general=general, tasks=tasks)
        elif kind == "amend":
            scorer, cadre, general, tasks = args
            ballot = ev[cadre].ballots.get(scorer)
            amends = ballot.event if ballot else "0" * 64
            world.on(
                scorer,
                "score.amended",
                cadre=cadre,
                amends=amends,
                general=general,
                tasks=tasks,
                reason="Đối chiếu lại.",
            )
        elif kind == "tally":
            cadre, correct = args
            totals = [b.total for b in ev[cadre].ballots.values()] or [0]
            mean = Decimal(sum(totals)) / len(totals)
            total = int(mean.quantize(Decimal(1), rounding=ROUND_HALF_UP)) + (0 if correct else 1)
            world.on(
                CHAIR,
                "tally.recorded",
                cadre=cadre,
                ballots=len(ev[cadre].ballots),
                total=f"{total // 100}.{total % 100:02d}",
            )
        elif kind == "propose":
            world.on(ADVISORY, "appraisal.proposed", cadre=args[0], level=args[1], reason="…")
        elif kind == "decide":
            world.on(AUTHORITY, "decision.issued", cadre=args[0], level=args[1], reason="…")
        else:
            world.on(
                AUTHORITY,
                "evidence.recorded",
                cadre=args[0],
                kind="discipline",
                form="khien_trach",
                duty_related=True,
                decided="2026-03-01",
                text="…",
            )
    return recorded


def state(model: Model) -> str:
    docs = dict(documents(model))
    docs.pop("refused", None)
    return digest(docs)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=moves, cuts=st.lists(st.integers(1, 8), min_size=1, max_size=10))
def test_batches_one_by_one_and_replay_agree(plan: list[tuple[Any, ...]], cuts: list[int]) -> None:
    world = World()
    root = str(world.keys["root"].verifier)
    acts = acts_for(world, plan)

    one_by_one = Model([root])
    for act in acts:
        one_by_one.replay(act)

    batched, admitted, i = Model([root]), [], 0
    while i < len(acts):
        draft = batched.begin()
        for act in acts[i : i + cuts[i % len(cuts)]]:
            try:
                draft.handle(act)
                admitted.append(act)
            except Rejected:
                pass
        draft.commit()
        i += cuts[i % len(cuts)]

    only_admitted = Model([root])
    for act in admitted:
        assert only_admitted.replay(act) is None  # what was admitted stays admissible

    assert state(one_by_one) == state(batched) == state(only_admitted) == state(world.model)
    assert {v.position for v in one_by_one.refused} == {a.position for a in acts} - {
        a.position for a in admitted
    }

    again = Model([root])
    for act in acts:
        again.replay(act)
    assert digest(documents(again)) == digest(documents(one_by_one))
