// Ballots from a timeline (score.submitted / score.amended acts): each scorer's
// original and current ballot and every amendment, in hundredths of a point
// (docs/SPEC.md §7.2: an integer n is 100·n, a string "d.dd" is read exactly).

export function hundredths(value) {
  if (typeof value === "number") return value * 100;
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(value));
  if (!match) return NaN;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

export function asPoints(h) {
  return (h / 100).toFixed(2);
}

function ballot(act) {
  const general = hundredths(act.fields.general);
  const tasks = hundredths(act.fields.tasks);
  return { general, tasks, total: general + tasks, event: act.event, position: act.position, at: act.issued_at };
}

/** cadre → scorer → {original, current, amendments: [{from, to, reason, …}]}. */
export function ballotsByCadre(acts) {
  const byEvent = new Map();
  const found = new Map();
  for (const act of acts) {
    if (act.type !== "score.submitted" && act.type !== "score.amended") continue;
    if (act.refused) continue;
    const cadre = act.cadre;
    if (!found.has(cadre)) found.set(cadre, new Map());
    const scorers = found.get(cadre);
    const value = ballot(act);
    byEvent.set(act.event, value);
    if (act.type === "score.submitted") {
      scorers.set(act.actor, { scorer: act.actor, original: value, current: value, amendments: [] });
      continue;
    }
    const record = scorers.get(act.actor);
    if (!record) continue;
    const from = byEvent.get(act.fields.amends) || record.current;
    record.amendments.push({ from, to: value, reason: act.fields.reason, scorer: act.actor, act });
    record.current = value;
  }
  return found;
}

export function mean(values) {
  return values.length ? Math.round(values.reduce((a, b) => a + b, 0) / values.length) : null;
}

/** Per amended cadre: the panel's mean ballot total before any amendment and now. */
export function amendmentEffects(acts) {
  const out = [];
  for (const [cadre, scorers] of ballotsByCadre(acts)) {
    const records = [...scorers.values()];
    const amendments = records.reduce((n, r) => n + r.amendments.length, 0);
    if (!amendments) continue;
    out.push({
      cadre,
      amendments,
      before: mean(records.map((r) => r.original.total)),
      after: mean(records.map((r) => r.current.total)),
    });
  }
  return out;
}
