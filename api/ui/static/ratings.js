// Reading the ratings documents the API serves (projections/views.py).

export const STATUS_ORDER = [
  "listed",
  "self-assessed",
  "reviewed",
  "scoring",
  "tallied",
  "proposed",
  "decided",
  "re-decided",
];

export const LEVEL_RANK = { HTXS: 4, HTT: 3, HT: 2, KHT: 1, KXL: 0 };
export const LEVELS = ["HTXS", "HTT", "HT", "KHT", "KXL"];

/** The subjects of a cycle or ratings document, each with its id. */
export function subjectsOf(doc) {
  return Object.entries(doc.subjects || {}).map(([id, s]) => ({ id, ...s }));
}
