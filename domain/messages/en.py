"""The rules' messages in English (``domain.messages`` formats the values)."""

from __future__ import annotations

TERMS: dict[str, dict[str, str]] = {
    "role": {
        "authority": "the authority",
        "advisory": "the advisory body",
        "chair": "the chair",
        "panel": "the scoring panel",
        "inspection": "the inspection committee",
        "subject": "the subject (or the head of the collective)",
        "complainant": "the subject themselves",
        "attendee": "an attendee of the meeting",
        "registrar": "registrar",
        "organiser": "organiser",
        "inspector": "inspector",
        "auditor": "auditor",
        "integrator": "integrator",
        "admin": "admin",
        "root": "root of trust",
    },
    "act": {},  # statement types are their own names in English
    "field": {},  # so are field names
    "evidence": {
        "low_confidence": "low confidence",
    },
    "rule": {},
    "stage": {
        "filing": "filing",
        "accept": "acceptance",
        "resolve": "resolution",
        "appeal": "appeal",
    },
}

MESSAGES: dict[str, str] = {
    # fields
    "field": "The field {field} {problem}.",
    "field.missing": "is missing",
    "field.code": "must be a lower-case code",
    "field.codes": "must be a list of codes",
    "field.bad_code": "holds an invalid code {code}",
    "field.repeated_code": "repeats a code",
    "field.event": "must be an event hash (64 hex)",
    "field.events": "must be a list of event hashes",
    "field.bad_event": "holds an invalid event hash",
    "field.repeated_event": "repeats an event hash",
    "field.day": "must be a date YYYY-MM-DD",
    "field.level": "must be one of {levels}",
    "field.choice": "must be one of {options}",
    "field.object": "must be an object",
    "field.points": 'must be an integer or a decimal string with at most 2 places ("27.5")',
    "field.text": 'must be text or {{"sealed": …}}',
    "field.text_length": "must be text of at most {maximum} characters",
    "field.integer": "must be an integer {low}–{high}",
    "field.flag": "must be true or false",
    "field.time": "must be an RFC 3339 UTC time",
    "unknown_type": "The statement type {type} is not in the catalogue.",
    "cycle.unknown": "No evaluation cycle {cycle}.",
    "cycle.exists": "the cycle {cycle}",
    "regime.unknown": "is an unknown profile (known: {known})",
    "regime.hash": "does not match profile {regime} v{version} ({hash})",
    "regime.superseded": "Profile {regime} v{version} was superseded by v{current} on "
    "{since}: a new cycle must pin the version in force.",
    "setting.unknown": "has an invalid setting: {setting}",
    "relation.self": "must be another person",
    "relation.exists": "the relation between {person} and {related}",
    "webhook.url": "must be an http(s)://host/… URL of at most {maximum} characters",
    "webhook.filter": "must be an object of types (a list of statement types), cycle, unit",
    "setting.type": "has a setting of the wrong type: {setting}",
    "setting.rounding": "has quota_rounding other than floor, round or ceil",
    "person.unknown": "No person {person} in the registry.",
    "person.exists": "person {person}",
    "key.name": "must be named {person}",
    "key.exists": "this key",
    "key.unknown": "{person} has no such key.",
    "key.revoked_exists": "this key's revocation",
    "stream.no_cycle": "A statement about a cadre must name its evaluation cycle (cycle).",
    "stream.identifier": (
        "The field {field} must be a lower-case code (a-z, 0-9, . _ -), at most 64 long."
    ),
    "key.not_registered": "The key {signer} is not registered to {actor}.",
    "key.revoked": "{actor}'s key was revoked (event {event}).",
    "key.not_yet_valid": "The key is valid only from {since}.",
    "key.disowns": "must be a list of 1–{most} distinct event hashes (64 hex digits)",
    "key.effective_late": "may not be after the revocation itself",
    "key.revocation_backdated": (
        "The key signed an act (event {event}) logged at {used}, at or after the effective time "
        "{effective}: name those acts in 'disowns' (event hashes), or give a later effective time."
    ),
    "key.format": "must be a C2SP Ed25519 verifier key name+keyid+base64",
    # A key every Ed25519 verifier treats alike (docs/SPEC.md §2, ledger/ed25519.py).
    "key.weak.small-order": (
        "The key in '{field}' is a point of small order: anyone could sign as it. "
        "Generate a new key."
    ),
    "key.weak.mixed-order": (
        "The key in '{field}' is not in the prime-order group (it has a small-order "
        "component), so verifiers could disagree on its signatures. Generate a new key."
    ),
    "key.weak.non-canonical": (
        "The key in '{field}' is not canonically encoded (y ≥ 2²⁵⁵−19). Generate a new key."
    ),
    "key.weak.not-on-curve": "The key in '{field}' is not a point of the Ed25519 curve.",
    "standing_role.exists": "the role {role}",
    "standing_role.not_held": "{person} does not hold the role {role}.",
    "unit.exists": "unit {unit}",
    "unit.no_parent": "No parent unit {unit}.",
    "score_out_of_range": "Score {field} = {score} is outside 0–{maximum}.",
    # roles, phases, references
    "registry.not_authorised": "{actor} lacks the role needed ({needed}) for {act}.",
    "not_authorised": "{actor} has no role to {act} (needs: {needed}).",
    "self_evaluation": "{actor} may not {act} for their own evaluation.",
    "conflict_of_interest": "{actor} declared a conflict of interest with {subject}.",
    "roles_apart": "{people}: the authority may not also be the advisory body.",
    "roles.unknown": "has unknown roles {roles}",
    "roles.missing": "must name {role}",
    "role.not_held": "{person} is not {role}.",
    "role.held": "{person} as {role}",
    "role.last": "A cycle needs {role}.",
    "no_roster": "The cycle has no roster yet.",
    "roster.exists": "this cycle's roster",
    "roster.empty": "must be a non-empty list",
    "roster.not_object": "holds a non-object",
    "roster.repeated": "repeats {subject}",
    "roster.head_of": "{subject}: head_of must name a collective",
    "not_on_roster": "{subject} is not on the roster of {cycle}.",
    "not_on_roster_many": "Not on the roster: {subjects}.",
    "exception.no_deadline": "has acts with no deadline: {acts}",
    "quota_exception.exists": "a quota exception for {group}",
    # self-assessment, meetings, minutes
    "self_assessment.after_meeting": "Self-assessment must come before the review meeting.",
    "meeting.unassessed": "Not yet self-assessed before the meeting: {subjects}.",
    "meeting.not_reviewing": "This meeting does not review {subject}.",
    "meeting.unknown": "No such meeting.",
    "minutes.adopted": "The meeting's minutes are adopted; nothing can be added or changed.",
    "minutes.not_current": "supersedes must name this meeting's current minutes.",
    "minutes.comments": "The minutes must list exactly the meeting's comments ({missing} "
    "missing, {foreign} not of this meeting).",
    # ballots, tallies
    "conflict.exists": "this declaration",
    "ballot.exists": "a ballot from this scorer (use score.amended)",
    "ballot.not_latest": "amends must name the scorer's own latest ballot or amendment.",
    "confidence.exists": "a confidence tally",
    "tally.exists": "a tally",
    "tally.mismatch": "The tally says {stated_count} ballots, total {stated_total}; the ballots "
    "give {count}, {total}.",
    "ballots_missing": "{needed} ballots are needed; there are {count}.",
    "ballots_missing_from": "{needed} ballots are needed; there are {count}; not yet cast by: "
    "{missing}.",
    "reopen.no_tally": "There is no tally to reopen.",
    "reopen.rated": "A level is already proposed or decided: scoring cannot reopen.",
    "scoring.before_minutes": "Scoring starts once the review meeting's minutes are adopted.",
    "scoring.after_tally": "The tally is recorded: ballots can no longer be cast or changed.",
    "not_points": "The {regime} regime rates by criteria, without points.",
    # evidence
    "no_mitigation": "This regime has no mitigation.",
    "evidence.unknown": "The cited evidence is unknown.",
    "not_mitigable": "Evidence of kind {kind} cannot be mitigated.",
    # appraisal, decisions
    "appraisal.decided": "Already decided; a change needs a re-classification (decision.revised).",
    "appraisal.no_tally": "There is no tally yet.",
    "appraisal.no_minutes": "The review meeting has no minutes yet.",
    "decision.exists": "a decision for this subject (change it with decision.revised)",
    "decision.no_proposal": "The advisory body has not proposed a level yet.",
    "decision.differs": "A decision that differs from the proposal must give a reason.",
    "revision.not_current": "supersedes must name this subject's current decision.",
    "revision.no_cause": "cause must be an upheld complaint resolution or an inspection finding "
    "that the result was wrong, about this subject.",
    "against_complainant": "An upheld complaint cannot lead to a lower level ({level} < "
    "{current}).",
    "notice.undecided": "Nothing decided to notify.",
    "publication.date": "The publication's day is the day the log admits it; leave out date.",
    "publication.undecided": "{count} subjects are not decided yet: {subjects}…",
    "publication.exists": "the publication",
    "decision.outdated": "The decision {level} on {subject} no longer follows from the record "
    "as it stands — {cause} Re-classify (with a cause) before publishing.",
    "grounds.mitigated": "The level was lowered on evidence of kind {kind} that a mitigation "
    "now softens.",
    # the level rule
    "level.forced": "The rules force {level}: {why}.",
    "level.above": "{level} is above {highest}, the most the results allow.",
    "level.none": "{level} needs its legal ground (under six months worked…); {subject} has none.",
    "level.lowered_reason": "Rating {level} below the {highest} the score gives needs a reason.",
    "task_conditions_unmet": "The recorded task figures do not meet the conditions of {level}; "
    "the most they allow is {highest}.",
    "grounds.unknown": "evidence must cite evidence recorded about this subject.",
    "grounds.kind": "Evidence of kind {kind} is not a ground to lower a level under {regime}.",
    "grounds.quota_level": "The quota only lowers {high} to {low}.",
    "grounds.not_head": "{subject} heads no collective.",
    "grounds.none": "Rating {level}, below {highest}, must cite recorded evidence (evidence) "
    "or a full quota (quota); a free-text reason is not a ground.",
    "grounds.quota_not_full": "{subject}: lowered to {level} for the quota, but group {group}'s "
    "HTXS quota is not full.",
    "grounds.collective": "{subject}: lowered to the collective's level, but the collective is "
    "{cap}.",
    "grounds.collective_unrated": "{subject}: lowered to the collective's level, but the "
    "collective is not rated.",
    "quota_exceeded": "Group {group}: {htxs} HTXS exceeds the cap of {cap} ({base} HTT; "
    "exception: {exception}).",
    "head_first": "The collective must be rated before its head.",
    "head_above_collective": "The head {head} cannot be rated {level}, above their "
    "collective's {cap}.",
    # deadlines and complaints
    "deadline_passed": "Past the deadline {deadline}, with no recorded exception.",
    "window_passed": "More than {days} days after {since} ({stage}).",
    "complaint.against": "against must be a decision about the complainant.",
    "complaint.first_unknown": "No such first complaint.",
    "appeal_not_open": "The first complaint is unresolved and its time limit ({limit}) has not "
    "passed.",
    "complaint.unpublished": "The result has not been published yet.",
    "complaint.accepted_exists": "this complaint's acceptance",
    "complaint.not_accepted": "The complaint is not accepted yet.",
    "complaint.resolved_exists": "this complaint's resolution",
    "complaint.unknown": "No such complaint.",
    "reason_required": "A reason must be given (field {field}).",
    "exists": "{what} already exists.",
}


# What each problem type means, served by GET /problems/{slug}.
EXPLANATIONS: dict[str, str] = {
    "decision-outdated": (
        "Publication judges every decision again on the final record: the tally (less "
        "the ballots of those who declared a conflict), the evidence, and conflicts its "
        "proposer or decider declared. A decision that no longer follows is re-classified"
        " before the result is published."
    ),
    "profile-superseded": (
        "A new cycle may pin only the regime profile version in force at the log's time "
        "of its opening. Older versions remain only to replay the cycles opened before "
        "they were superseded."
    ),
    "weak-key": (
        "The registry takes only Ed25519 keys that every verifier treats alike: the "
        "canonical encoding of a point of the prime-order group, as an honest key "
        "generator makes. A small-order key lets anyone sign as its holder; a mixed-order "
        "or non-canonical one lets verifiers disagree (docs/SPEC.md §2)."
    ),
    "date-from-log": (
        "Every rule's time is the time the log admits the statement, never a date the "
        "signer wrote. A publication carries no date: the 90-day complaint window runs "
        "from the day the log admitted it."
    ),
    "ungrounded-level": (
        "A level below what the score allows must cite typed grounds: recorded evidence "
        "of a kind the regime counts, the confidence tally, a full HTXS quota, or the "
        "level of the collective one heads. A free-text reason is not a ground. KXL (not "
        "rated) needs its legal ground (under six months worked…)."
    ),
    "not-mitigable": (
        "A mitigation (a fault found and fixed by oneself) cannot soften a conclusion of "
        "degradation, or of corruption."
    ),
    "against-complainant": (
        "A re-classification following an upheld complaint may not give a lower level "
        "than the one complained against."
    ),
    "roles-apart": (
        "The authority decides on what the advisory body proposes: nobody holds both "
        "roles in one cycle."
    ),
    "ballots-missing": (
        "A tally waits for a ballot from every panel member present at the review meeting"
        " (less the subject and those who declared a conflict), unless the regime or "
        "cycle sets a minimum number."
    ),
    "task-conditions-unmet": (
        "Each level has task conditions (share of tasks done, on time, exceeding "
        "requirements, late) under the regime; the subject's recorded figures do not meet"
        " this level's."
    ),
    "appeal-not-open": (
        "A second complaint may be filed once the first is resolved, or once its time "
        "limit has passed unresolved."
    ),
    "quota-exceeded": (
        "The HTXS count of a group stays within its share of the HTT count; it is checked"
        " again at every decision and at publication, so later decisions cannot break "
        "what an earlier one respected."
    ),
    "head-above-collective": (
        "A head is not rated above the collective they lead; checked again when the "
        "collective is re-classified."
    ),
}
