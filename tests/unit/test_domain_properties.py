"""Properties of the model: replay is deterministic, and judging in batches (as the
sequencer does, with drafts) ends in exactly the state of judging one act at a time."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.acts import Act
from domain.model import Draft, Model
from ledger.errors import Rejected
from projections.views import digest, documents
from tests.conftest import examples
from tests.evaluation import ADVISORY, AUTHORITY, CADRES, CHAIR, CYCLE, PANEL, World

LEVELS = ["HTXS", "HTT", "HT", "KHT"]
move = st.one_of(
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
)
moves = st.lists(move, max_size=40)
# At a review meeting still in session: comments (by attendees, by people who did not
# attend, about cadres or someone off the roster), its minutes, and the moves above.
review_moves = st.lists(
    st.one_of(
        st.tuples(
            st.just("comment"),
            st.sampled_from([CHAIR, *PANEL, *CADRES, ADVISORY]),
            st.sampled_from([*CADRES, "nobody"]),
        ),
        st.tuples(st.just("comment"), st.sampled_from(PANEL), st.sampled_from(CADRES)),
        st.tuples(st.just("minutes")),
        move,
    ),
    max_size=60,
)


def acts_for(world: World, plan: list[tuple[Any, ...]], *, in_session: bool = False) -> list[Act]:
    """The acts of a set-up cycle and then ``plan``, recorded as the world plays them;
    ``in_session``: the review meeting is held but its minutes not yet adopted."""
    recorded: list[Act] = []
    handle = world.model.handle

    def record(act: Act) -> None:
        recorded.append(act)
        with contextlib.suppress(Rejected):
            handle(act)

    world.model.handle = record  # type: ignore[method-assign]
    world.open()
    world.roster(collective=False)
    if in_session:
        for cadre in CADRES:
            world.on(cadre, "self_assessment.submitted", cadre=cadre, report="Tự đánh giá.")
        meeting = world.on(
            CHAIR, "meeting.held", date="2026-11-02", attendees=[CHAIR, *PANEL, *CADRES]
        )
    else:
        meeting = world.review()
    for move in plan:
        kind, *args = move
        ev = world.model.cycles[CYCLE].evaluations
        if kind == "comment":
            by, about = args
            world.on(by, "comment.made", cadre=about, meeting=meeting, text="Cần cố gắng hơn.")
        elif kind == "minutes":
            made = world.model.cycles[CYCLE].meetings[meeting].comments
            world.on(CHAIR, "minutes.adopted", meeting=meeting, comments=made, text="Biên bản.")
        elif kind == "score":
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


def snapshot(model: Model) -> Any:
    """All the model's state, read field by field into plain values (``asdict``: not
    through the copies a draft makes, whose correctness is what is tested)."""
    cycles = {}
    for cid, cycle in model.cycles.items():
        fields = asdict(cycle)
        fields.pop("_shared")  # a fork's bookkeeping, not state
        cycles[cid] = fields
    registry = model.registry
    return (
        cycles,
        {pid: asdict(person) for pid, person in registry.people.items()},
        {uid: asdict(unit) for uid, unit in registry.units.items()},
        dict(model.violations_seen),
        dict(model.last_use),
        model.position,
    )


def verdict(model: Model, act: Act) -> str | None:
    try:
        model.handle(act)
    except Rejected as e:
        return e.problem.slug
    return None


def judged_alone(plan: list[tuple[Any, ...]]) -> tuple[World, str, list[Act], Model, list[Any]]:
    """A review's acts for ``plan``; the model that judged them one at a time, and its
    verdicts."""
    world = World()
    root = str(world.keys["root"].verifier)
    acts = acts_for(world, plan, in_session=True)
    alone = Model([root])
    return world, root, acts, alone, [verdict(alone, act) for act in acts]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=review_moves, cuts=st.lists(st.integers(1, 8), min_size=1, max_size=10))
def test_a_draft_judges_as_the_model_and_an_abandoned_one_changes_nothing(
    plan: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    """The writer's drafts (copy-on-write of the cycle, its evaluations and meetings,
    and the registry) give each act the verdict the model alone gives it, one act at
    a time; a draft never committed (its batch failed to store) leaves the model
    exactly as it was, however many acts it admitted or refused midway."""
    world, root, acts, alone, expected = judged_alone(plan)

    batched, verdicts, i = Model([root]), [], 0
    while i < len(acts):
        batch = acts[i : i + cuts[i % len(cuts)]]
        before = snapshot(batched)
        abandoned = batched.begin()
        first = [verdict(abandoned, act) for act in batch]
        assert snapshot(batched) == before
        draft = batched.begin()
        then = [verdict(draft, act) for act in batch]
        assert then == first
        assert snapshot(batched) == before  # not yet: only on commit
        draft.commit()
        verdicts += then
        i += len(batch)

    assert verdicts == expected
    assert snapshot(batched) == snapshot(alone) == snapshot(world.model)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=review_moves, cuts=st.lists(st.integers(1, 8), min_size=1, max_size=10))
def test_a_draft_on_a_draft_still_committing_judges_as_the_model(
    plan: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    """The pipelined writer lays each batch out on the draft of the batch still
    committing, and commits them in order: every act gets the verdict the model alone
    gives it, the model ends as if the batches came one after the other, and until a
    draft is committed (were its commit to fail, both are dropped) nothing changes."""
    world, root, acts, alone, expected = judged_alone(plan)

    batched, verdicts, i = Model([root]), [], 0
    committing: Draft | None = None
    while i < len(acts):
        batch = acts[i : i + cuts[i % len(cuts)]]
        before = snapshot(batched)
        draft = (committing or batched).begin()
        verdicts += [verdict(draft, act) for act in batch]
        assert snapshot(batched) == before
        if committing is not None:
            committing.commit()
        committing = draft
        i += len(batch)
    if committing is not None:
        committing.commit()

    assert verdicts == expected
    assert snapshot(batched) == snapshot(alone) == snapshot(world.model)
