// A cadre's page (hồ sơ đánh giá): the score by criterion and by scorer, amendments
// (old → new, who, why), fairness evidence, the level and why, complaints, history.
import { h, byId, clear } from "./dom.js";
import { t, lang, has } from "./i18n.js";
import { getJSON, cycleUrl, forbidden, personName } from "./api.js";
import { startPage, param } from "./header.js";
import { dateTime, day, points, level, levelName, actLabel, text, plain, groupName } from "./format.js";
import { findingKind, findingSummary, section, fromServer, hint, notice, failure, person, table, cell, link, replayHref, scorerHref } from "./widgets.js";
import { ballotsByCadre, asPoints, hundredths } from "./ballots.js";
import { dumbbell } from "./charts.js";

const cycle = param("cycle");
const cadre = param("cadre");
const state = { page: null, fairness: null, regimes: null, names: new Map(), error: null, me: null };

async function load() {
  try {
    const [page, fairness, regimes, me] = await Promise.all([
      getJSON(cycleUrl(cycle, `/cadres/${encodeURIComponent(cadre)}`)),
      getJSON(cycleUrl(cycle, "/fairness", { cadre })).catch((e) => ({ error: e })),
      getJSON("/v1/regimes").catch(() => ({ regimes: [] })),
      // Who is signed in: to call the personal bundle "mine" on one's own page.
      getJSON("/v1/auth/whoami", { quiet: true }).catch(() => null),
    ]);
    state.me = me?.person ?? null;
    state.page = page;
    state.fairness = fairness;
    state.regimes = regimes.regimes;
    const scorers = [...new Set(page.timeline.filter((a) => a.type === "score.submitted").map((a) => a.actor))];
    state.names = new Map(await Promise.all(scorers.map(async (id) => /** @type {[string, string]} */ ([id, await personName(id)]))));
  } catch (e) {
    state.error = e;
  }
  render();
}

function profileOf() {
  const acts = state.page.timeline;
  const opened = acts.find((a) => a.type === "cycle.opened");
  const pin = opened?.fields?.regime;
  return state.regimes?.find((r) => pin && r.id === pin.id && r.version === pin.version)?.profile || null;
}

function render() {
  const main = clear(byId("main"));
  document.title = `${t("title.cadre")} — ${t("app.name")}`;
  if (!cycle || !cadre) return main.append(notice(t("error.noCycle")));
  if (state.error) return main.append(failure(state.error));
  if (!state.page) return main.append(notice(t("loading")));
  const rating = state.page.rating;
  const acts = state.page.timeline;
  const scorers = ballotsByCadre(acts).get(cadre) || new Map();
  const profile = profileOf();
  main.append(
    ...[
      lead(rating),
      breakdown(rating, profile),
      perScorer(scorers),
      amendments(scorers),
      fairness(),
      decision(rating),
      complaints(rating, acts),
      evidence(rating),
      history(acts),
    ].filter(Boolean),
  );
  document.title = `${rating.name} — ${t("title.cadre")}`;
}

function lead(r) {
  return h(
    "section",
    { class: "card lead" },
    h("p", {}, link(`/ui/?cycle=${encodeURIComponent(cycle)}`, t("cd.back"))),
    h("h1", { id: "cadre-name" }, r.name),
    fromServer(),
    h("p", { class: "big-level", id: "cadre-level" }, level(r.level)),
    h(
      "dl",
      { class: "facts" },
      fact("col.cycle", cycle),
      fact("col.id", h("code", {}, cadre)),
      fact("col.group", groupName(r.group)),
      fact("col.kind", t(`cd.kind.${r.kind}`) + (r.leader ? ` · ${t("cd.leader")}` : "")),
      fact("col.status", t(`status.${r.status}`)),
      r.head_of ? fact("col.unit", t("cd.headOf", { unit: r.head_of })) : null,
    ),
    personalBundle(),
    bundle(),
  );
}

/** The cadre's own record to check offline (docs/SPEC.md §10.1): only the events that
 * touched this result, with their proofs and the registry's. The cadre themselves and
 * complaint handlers get it; anyone else is told so. */
function personalBundle() {
  const href = cycleUrl(cycle, `/cadres/${encodeURIComponent(cadre)}/personal-bundle`);
  const hint = h("span", { class: "hint", id: "personal-bundle-hint" }, t("cd.personalHint"));
  const download = async () => {
    const answer = await fetch(href, { credentials: "same-origin" });
    if (!answer.ok) {
      hint.textContent = t("cd.personalRefused");
      return;
    }
    const a = h("a", { href: URL.createObjectURL(await answer.blob()), download: `${cycle}-${cadre}.personal.json` });
    a.click();
    URL.revokeObjectURL(a.href);
    hint.textContent = t("cd.personalSaved");
  };
  const label = state.me === cadre ? "cd.personalMine" : "cd.personal";
  const button = h("button", { id: "personal-bundle", class: "button", type: "button" }, t(label));
  button.addEventListener("click", download);
  return h("p", {}, button, " ", hint);
}

/** Once published: the case bundle to download and check offline (cadreledger verify).
 * Oversight and complaint handlers get it; anyone else is told who does. */
function bundle() {
  if (!state.page.timeline.some((a) => a.type === "result.published")) return null;
  const href = cycleUrl(cycle, `/cadres/${encodeURIComponent(cadre)}/bundle`);
  const hint = h("span", { class: "hint" }, t("cd.bundleHint"));
  const download = async () => {
    const answer = await fetch(href, { credentials: "same-origin" });
    if (!answer.ok) {
      hint.textContent = t("cd.bundleRefused");
      return;
    }
    const a = h("a", { href: URL.createObjectURL(await answer.blob()), download: `${cycle}-${cadre}.bundle.json` });
    a.click();
    URL.revokeObjectURL(a.href);
  };
  const button = h("button", { id: "bundle", class: "button", type: "button" }, t("cd.bundle"));
  button.addEventListener("click", download);
  return h("p", {}, button, " ", hint);
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, t(label)), h("dd", {}, value));
}

/** The tallied score; a total a revised decision replaced shows the tally's total
 * (general + tasks) struck through before it. */
function panelPoints(score, k) {
  if (k !== "total" || !score.corrected_by || score.general === null || score.tasks === null) return points(score[k]);
  const original = asPoints(hundredths(score.general) + hundredths(score.tasks));
  if (original === score.total) return points(score.total);
  return h(
    "span",
    { class: "old-new", id: "corrected-total", title: t("cd.correctedBy") },
    h("del", {}, points(original)),
    " → ",
    h("ins", {}, points(score.total)),
  );
}

function breakdown(r, profile) {
  const scoring = profile?.scoring;
  if (scoring && scoring.kind !== "points") return section("cd.breakdown", notice(t("ch.criteriaRegime")));
  const maxima = { general: scoring?.general_max, tasks: scoring?.tasks_max };
  maxima.total = maxima.general !== undefined && maxima.tasks !== undefined ? maxima.general + maxima.tasks : undefined;
  const self = r.self_score;
  const selfTotal = self ? asPoints(hundredths(self.general) + hundredths(self.tasks)) : null;
  const rows = ["general", "tasks", "total"].map((k) =>
    h(
      "tr",
      { dataset: { criterion: k } },
      cell("criterion", h("strong", {}, t(`col.${k}`))),
      cell("self", self ? points(k === "total" ? selfTotal : self[k]) : t("none"), { num: true }),
      cell("panel", r.score ? panelPoints(r.score, k) : t("none"), { num: true }),
      cell("max", maxima[k] === undefined ? t("none") : points(maxima[k]), { num: true }),
    ),
  );
  return section(
    "cd.breakdown",
    table({
      columns: [
        { key: "criterion", label: "col.criterion" },
        { key: "self", label: "cd.selfScore", num: true },
        { key: "panel", label: "cd.panelScore", num: true },
        { key: "max", label: "col.max", num: true },
      ],
      rows,
    }),
    r.score ? null : notice(t("cd.noScore")),
    r.score?.corrected_by ? hint("cd.correctedBy") : null,
    profile?.thresholds
      ? h(
          "p",
          { class: "hint", id: "thresholds" },
          `${t("cd.thresholds")}: `,
          Object.entries(profile.thresholds)
            .sort((a, b) => b[1] - a[1])
            .map(([lv, at]) => `${levelName(lv)} (${lv}) ≥ ${points(at)}`)
            .join(" · "),
        )
      : null,
  );
}

function perScorer(scorers) {
  if (!scorers.size) return null;
  const flagsBy = new Map();
  for (const f of Array.isArray(state.fairness?.findings) ? state.fairness.findings : []) {
    const scorer = f.scorer;
    if (!scorer) continue;
    if (!flagsBy.has(scorer)) flagsBy.set(scorer, []);
    flagsBy.get(scorer).push(f);
  }
  const valueCell = (col, r, key) => {
    const before = r.original[key];
    const now = r.current[key];
    if (before === now) return cell(col, points(asPoints(now)), { num: true });
    return cell(col, h("span", { class: "old-new" }, h("del", {}, points(asPoints(before))), " → ", h("ins", {}, points(asPoints(now)))), {
      num: true,
      className: "amended",
    });
  };
  const rows = [...scorers.values()].map((r) =>
    h(
      "tr",
      { dataset: { scorer: r.scorer }, class: r.amendments.length ? "amended-row" : null },
      cell("scorer", link(scorerHref(cycle, r.scorer), person(r.scorer))),
      valueCell("general", r, "general"),
      valueCell("tasks", r, "tasks"),
      valueCell("total", r, "total"),
      cell("flags", (flagsBy.get(r.scorer) || []).map((f) => h("span", { class: "chip", title: findingSummary(f) }, findingKind(f.kind)))),
    ),
  );
  const chartRows = [...scorers.values()].map((r) => ({
    label: state.names.get(r.scorer) || r.scorer,
    title: r.scorer,
    before: r.original.total / 100,
    after: r.current.total / 100,
    beforeText: points(asPoints(r.original.total)),
    afterText: points(asPoints(r.current.total)),
  }));
  return section(
    "cd.perScorer",
    hint("cd.perScorerHint"),
    table({
      columns: [
        { key: "scorer", label: "col.scorer" },
        { key: "general", label: "col.general", num: true },
        { key: "tasks", label: "col.tasks", num: true },
        { key: "total", label: "col.total", num: true },
        { key: "flags", label: "col.flags" },
      ],
      rows,
      className: "scorers",
    }),
    h("h3", {}, t("cd.ballotsChart")),
    dumbbell({
      rows: chartRows,
      min: Math.max(0, Math.floor(Math.min(...chartRows.map((r) => Math.min(r.before, r.after))) / 10) * 10 - 10),
      max: 100,
      label: t("cd.ballotsChart"),
      beforeLabel: t("ch.before"),
      afterLabel: t("ch.after"),
    }),
  );
}

function amendments(scorers) {
  const all = [...scorers.values()].flatMap((r) => r.amendments).sort((a, b) => a.act.position - b.act.position);
  // A sealed reason's words are not in the ledger, so the evidence cannot say whether it
  // is thin (thin_reason: null); the reader here has it opened and can.
  const limit = state.fairness?.settings?.thin_reason_chars ?? 15;
  const judged = new Map(
    (state.fairness?.findings || [])
      .filter((f) => f.kind === "amendments")
      .flatMap((f) => f.detail.amendments || [])
      .map((a) => [a.event, a.thin_reason]),
  );
  const isThin = (a) => {
    const said = judged.get(a.act.event);
    if (said === true || said === false) return said;
    const words = plain(a.reason).trim();
    return a.reason?.text !== null && words.length < limit;
  };
  if (!all.length) return section("cd.amendments", notice(t("cd.noAmendments")));
  return section(
    "cd.amendments",
    all.map((a) =>
      h(
        "div",
        { class: "amendment", dataset: { event: a.act.event } },
        h("p", {}, h("strong", {}, person(a.scorer)), " · ", dateTime(a.act.issued_at), " · ", link(replayHref(cycle, a.act.position, cadre), t("cd.replayAt"))),
        h(
          "ul",
          { class: "plain old-new" },
          ["general", "tasks", "total"].map((k) =>
            h(
              "li",
              { dataset: { criterion: k } },
              `${t(`col.${k}`)}: `,
              h("del", {}, points(asPoints(a.from[k]))),
              " → ",
              h("ins", {}, points(asPoints(a.to[k]))),
            ),
          ),
        ),
        h(
          "p",
          { class: "reason" },
          `${t("col.reason")}: `,
          text(a.reason),
          isThin(a) ? h("span", { class: "chip bad thin-reason" }, t("cd.thinReason")) : null,
        ),
      ),
    ),
  );
}

function fairness() {
  const f = state.fairness;
  if (!f) return null;
  if (f.error) return section("cd.fairness", forbidden(f.error) ? notice(t("error.forbidden")) : failure(f.error));
  return section(
    "cd.fairness",
    hint("fair.note"),
    Array.isArray(f.findings) && f.findings.length
      ? f.findings.map((x) => {
          const kind = (f.kinds || {})[x.kind];
          return h(
            "div",
            { class: "finding", dataset: { kind: x.kind, severity: x.severity } },
            h("strong", {}, findingKind(x.kind)),
            x.severity ? ` (${t(`fair.severity.${x.severity}`)})` : "",
            ": ",
            findingSummary(x),
            x.scorer ? h("p", { class: "hint" }, t("fair.byLabel"), " ", person(x.scorer), " — ", link(scorerHref(x.cycle === "*" ? cycle : x.cycle, x.scorer), t("fair.scorerPage"))) : null,
            kind ? h("p", { class: "hint" }, lang === "en" ? kind.explanation_en : kind.explanation_vi) : null,
            h(
              "p",
              { class: "hint" },
              t("fair.events"),
              " ",
              (x.positions || []).flatMap((p, i) => [i ? ", " : "", link(replayHref(x.cycle === "*" ? cycle : x.cycle, p), `#${p}`)]),
            ),
          );
        })
      : notice(t("fair.none")),
  );
}

/** A rule behind a level (domain/judgement.py), in the reader's words. */
function whyText(w) {
  const rule = String(w.rule || "");
  if (rule === "thresholds") {
    const m = /^(\w+): total ([≥<]) (\d+(?:\.\d+)?)$/.exec(String(w.detail || ""));
    if (m) return t("why.thresholds", { level: `${m[1]} — ${levelName(m[1])}`, op: m[2], n: points(m[3]) });
  }
  if (rule.startsWith("forced_kht:")) {
    const kind = rule.slice("forced_kht:".length);
    return t("why.forced", { kind: has(`why.kind.${kind}`) ? t(`why.kind.${kind}`) : kind });
  }
  if (has(`why.${rule}`)) return t(`why.${rule}`);
  return w.detail ? `${rule}: ${w.detail}` : rule;
}

function outcomeItem(key, o) {
  if (!o) return null;
  return h(
    "li",
    {},
    h("strong", {}, `${t(key)}: `),
    level(o.level),
    h("ul", { class: "plain" }, (o.why || []).map((w) => h("li", { class: "hint", dataset: { rule: w.rule } }, whyText(w)))),
    o.reason ? h("p", {}, t("cd.reason", { reason: plain(o.reason) })) : null,
  );
}

function decision(r) {
  const allow = r.rules_allow;
  return section(
    "cd.decision",
    h(
      "p",
      {},
      allow.forced ? t("cd.forced", { level: `${allow.forced} — ${levelName(allow.forced)}` }) : t("cd.rulesAllow", { level: `${allow.highest} — ${levelName(allow.highest)}` }),
    ),
    h(
      "ul",
      { class: "plain" },
      outcomeItem("cd.proposal", r.proposal),
      ...r.superseded.map((o) => outcomeItem("cd.superseded", o)),
      outcomeItem("cd.decided", r.decision),
    ),
  );
}

function complaints(r, acts) {
  if (!r.complaints.length) return section("cd.complaints", notice(t("cd.noComplaints")));
  const byEvent = new Map(acts.map((a) => [a.event, a]));
  return section(
    "cd.complaints",
    r.complaints.map((c) => {
      const filed = byEvent.get(c.event);
      const resolution = c.resolution ? byEvent.get(c.resolution) : null;
      return h(
        "div",
        { class: "finding", dataset: { complaint: c.event, status: c.status } },
        h("p", {}, h("strong", { class: "complaint-status" }, t(`complaint.${c.status}`)), " · ", t("cd.filed", { date: day(c.filed) })),
        c.accepted ? h("p", { class: "hint" }, t("cd.acceptedOn", { date: day(c.accepted) })) : null,
        filed?.fields?.grounds ? h("p", {}, text(filed.fields.grounds)) : null,
        c.resolved ? h("p", { class: "hint" }, t("cd.resolvedOn", { date: day(c.resolved) })) : null,
        resolution?.fields?.finding ? h("p", {}, text(resolution.fields.finding)) : null,
      );
    }),
  );
}

function evidence(r) {
  if (!r.evidence.length && !r.conflicts.length) return null;
  return section(
    "cd.evidence",
    h(
      "ul",
      { class: "plain" },
      r.evidence.map((e) => h("li", {}, h("strong", {}, e.kind), ": ", text(e.text))),
    ),
    r.conflicts.length ? h("p", {}, t("cd.conflicts", { who: r.conflicts.join(", ") })) : null,
  );
}

function history(acts) {
  const mine = acts.filter((a) => a.cadre === cadre);
  const rows = mine.map((a) =>
    h(
      "tr",
      { dataset: { position: String(a.position) } },
      cell("time", dateTime(a.issued_at)),
      cell("act", actLabel(a.type)),
      cell("actor", person(a.actor)),
      cell("position", link(replayHref(cycle, a.position, cadre), String(a.position)), { num: true }),
    ),
  );
  return section(
    "cd.history",
    table({
      columns: [
        { key: "time", label: "col.time" },
        { key: "act", label: "col.act" },
        { key: "actor", label: "col.actor" },
        { key: "position", label: "col.position", num: true },
      ],
      rows,
    }),
  );
}

startPage("cadre", () => {
  if (state.page || state.error) render();
});
load();
