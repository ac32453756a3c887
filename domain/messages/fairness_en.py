"""Signs to examine (fairness findings) in English: each kind's title and explanation,
and the findings' summaries (``domain.messages`` formats the values)."""

from __future__ import annotations

# Kind → (title, explanation).
KINDS: dict[str, tuple[str, str]] = {
    "ballot-deviation": (
        "A ballot apart from the rest of the panel",
        "One scorer's ballot stands further from the median of the rest of the panel (its "
        "own ballot left out) than the minimum effect and than several times the panel's "
        "usual spread, after removing that scorer's own habit of marking everyone high or "
        "low.",
    ),
    "scorer-bias": (
        "A scorer's systematic bias",
        "The same scorer deviates the same way for the same cadre in several cycles, more "
        "often than chance allows.",
    ),
    "amendments": (
        "Ballot amendments",
        "The amendments changed the level the score gives, or a reason is thin or says it "
        "was done 'as directed'; a sealed reason the verifier cannot read is marked 'not "
        "judged: text sealed'.",
    ),
    "late-change": (
        "Late change",
        "An act changed the record after the tally, the publication or a complaint; a "
        "re-classification says its direction (up/down) and the old and new level.",
    ),
    "retaliation": (
        "Signs of retaliation against a complainant",
        "After a person complained: new adverse evidence, a lowered score, a lower "
        "decision, or no remedy after an upheld complaint — in the same cycle or the next "
        "(against how everyone else's result changed between the two cycles).",
    ),
    "decision-departure": (
        "A decision apart from the proposal or the score",
        "The decided level differs from the advisory body's proposal, or is below what the "
        "score gives without evidence that forces it, the HTXS quota or the collective's "
        "level; with the grounds stated. Evidence cited that forces nothing (5 % of tasks "
        "failed, say) is no explanation.",
    ),
    "panel-change": (
        "Panel manipulation",
        "A scorer added after the meeting who then scores; a member who scores and is then "
        "withdrawn; a member who scores and then declares a conflict; a tally closed before "
        "every panel member at the meeting scored; a partial panel.",
    ),
    "formalism": (
        "Signs of formalism (hình thức, nể nang)",
        "The whole cycle: everyone's ballots identical, meetings with no comment (minutes "
        "that record nothing), every cadre at the same level.",
    ),
    "deadline": (
        "Close to or past the deadline",
        "Acts done after the cycle's deadline (under an exception) or in its last days.",
    ),
    "complaint-unanswered": (
        "A complaint past its time limit, unanswered",
        "A complaint not accepted or not resolved once its legal time limit had passed (as "
        "later events in the log show).",
    ),
    "late-publication": (
        "Late publication",
        "The results were published long after the last decision.",
    ),
    "not-notified": (
        "Not notified",
        "Decided, but the person has not been notified.",
    ),
    "not-published": (
        "Not published",
        "Everyone is decided but the results are not published.",
    ),
    "quota-breach": (
        "HTXS quota exceeded",
        "The decided HTXS in a group exceed the cap (also a V8 failure).",
    ),
    "head-above-collective": (
        "Head rated above the collective",
        "The head is rated above the collective they lead (also a V8 failure).",
    ),
    "undeclared-conflict": (
        "An undeclared conflict of interest",
        "The same person on both sides: the one whose decision is complained against, or "
        "who scored the complainant, accepts or resolves that complaint; or, by the "
        "registry, a scorer who is the subject's direct manager, subordinate, spouse or "
        "relative, or a proposer or decider who is their spouse or relative, who declared "
        "no conflict.",
    ),
}

TERMS: dict[str, dict[str, str]] = {
    "marked": {"up": "up", "down": "down"},
    "moved": {"up": "up", "down": "down", "same": "same level"},
    "milestone": {"tally": "the tally", "publication": "publication", "complaint": "a complaint"},
    "step": {
        "accept": "accepted",
        "resolve": "resolved",
        "accepted": "accepted",
        "resolved": "resolved",
    },
    "sign": {
        "identical-ballots": "identical ballots",
        "silent-meetings": "silent meetings",
        "uniform-levels": "uniform levels",
    },
    "relation": {
        "manager": "direct manager",
        "subordinate": "direct subordinate",
        "spouse": "spouse",
        "relative": "relative",
    },
    "side": {"scorer": "scorer", "proposer": "proposer", "decider": "decider"},
}

MESSAGES: dict[str, str] = {
    "ballot.deviation": "{scorer} marked {cadre} {way} by {points} points against the rest "
    "of the panel",
    "ballot.pivotal": " — it changed the level",
    "bias": "{scorer} marked {cadre} {way} against the panel in {cycles} of {met} cycles (by "
    "{points} points on average)",
    "amend": "{n} ballot amendment(s), net effect {points} points",
    "amend.level": " — they changed the level {before} → {after}",
    "amend.directed": "; {n} reason(s) say it was directed",
    "amend.thin": "; {n} thin reason(s)",
    "amend.sealed": "; {n} reason(s) not judged: text sealed",
    "late": "an act {act} ({actor}) after {after}",
    "late.revised": "re-classified {old} → {new} ({way}, {actor}) after {after}",
    "retaliation.figures": "task figures recorded after the complaint lower the level they "
    "allow: {old} → {new}",
    "retaliation.evidence": "adverse evidence ({evidence}) recorded after the complaint",
    "retaliation.lowered": "a ballot lowered after the complaint",
    "retaliation.revised": "re-classified lower ({old} → {new}) after the complaint",
    "retaliation.kept": "the complaint was upheld, yet the level stays {level}",
    "retaliation.next": "after complaining in {before}, the result in {after} fell",
    "retaliation.next.points": "after complaining in {before}, the result in {after} fell "
    "{points} points against everyone else",
    "retaliation.next.level": "after complaining in {before}, the level in {after} fell "
    "{old} → {new} on new adverse evidence (the total did not fall against everyone else)",
    "panel.conflict": "{scorer} scored {cadre}, then declared a conflict of interest: the "
    "ballot is taken out",
    "panel.tally": "tallied on {n} ballots; not scored though at the meeting: {who}",
    "panel.added": "{scorer} joined the panel after the meeting, then scored {n}",
    "panel.withdrawn": "{scorer} scored {n} and was then withdrawn from the panel",
    "panel.partial": "{n} tallies without {who} (not at the meeting): a partial panel",
    "decision.below_proposal": "decided {level}, below the proposed {proposal}",
    "decision.above_proposal": "decided {level}, above the proposed {proposal}",
    "decision.below_score": "rated {level}, below the {highest} of the score, with no "
    "evidence that forces it",
    "quota": "group {group}: {n} HTXS, over the cap of {cap} ({base} HTT)",
    "head": "the head is rated {level}, above the collective's {collective}",
    "formalism": "signs of formalism: {signs}",
    "complaint.late": "complaint not {step} {days} days on (limit {limit} days)",
    "publication.late": "published {days} days after the last decision",
    "deadline": "{past} acts after the deadline {deadline} (under an exception), {close} "
    "settling acts in its last {days} days",
    "not_notified": "decided, but the person has not been notified",
    "not_published": "everyone is decided but the results are not published",
    "conflict.decider": "{who} made the decision complained against and {step} the complaint",
    "conflict.scorer": "{who} scored the complainant and {step} the complaint",
    "conflict.related": "{who} ({owner}'s {relation}) acted as {side} without declaring a "
    "conflict of interest",
}
