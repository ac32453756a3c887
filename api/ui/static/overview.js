// Cycle overview (tổng quan): the cycles; for one, its ratings, quota, progress,
// complaints and fairness evidence.
import { h, byId, clear } from "./dom.js";
import { t, lang } from "./i18n.js";
import { getJSON, getAll, cycleUrl, forbidden } from "./api.js";
import { startPage, param } from "./header.js";
import { day, points, level, count, groupName, regimeName, knowRegimes } from "./format.js";
import { findingKind, findingSummary, section, fromServer, hint, notice, failure, person, table, cell, link, cadreHref, replayHref, scorerHref } from "./widgets.js";
import { STATUS_ORDER, LEVEL_RANK, subjectsOf } from "./ratings.js";

const state = { cycles: null, doc: null, fairness: null, error: null, sort: { key: "name", dir: 1 }, filter: "" };

async function load() {
  try {
    const [cycles, regimes] = await Promise.all([
      getAll("/v1/cycles", "cycles"),
      getJSON("/v1/regimes").catch(() => ({ regimes: [] })),
    ]);
    knowRegimes(regimes.regimes);
    state.cycles = cycles.cycles;
    const chosen = param("cycle") || state.cycles[0]?.cycle;
    if (chosen) {
      const [doc, fairness] = await Promise.all([
        getJSON(cycleUrl(chosen)),
        getJSON(cycleUrl(chosen, "/fairness")).catch((e) => ({ error: e })),
      ]);
      state.doc = doc;
      state.fairness = fairness;
      const unit = await getJSON(`/v1/units/${encodeURIComponent(doc.unit)}`, { quiet: true }).catch(() => null);
      state.unitName = unit?.name || null;
    }
  } catch (e) {
    state.error = e;
  }
  render();
}

function render() {
  const main = clear(byId("main"));
  document.title = `${t("title.overview")} — ${t("app.name")}`;
  if (state.error) return main.append(failure(state.error));
  if (!state.cycles) return main.append(notice(t("loading")));
  if (!state.cycles.length) return main.append(notice(t("error.noCycles")));
  main.append(cyclesList());
  if (state.doc) main.append(...cycleDetail(state.doc).filter(Boolean));
}

function cyclesList() {
  const current = state.doc?.cycle;
  const columns = [
    { key: "cycle", label: "col.cycle" },
    { key: "unit", label: "col.unit" },
    { key: "year", label: "col.year", num: true },
    { key: "regime", label: "col.regime" },
    { key: "phase", label: "col.phase" },
    { key: "deadline", label: "col.deadline" },
    { key: "published", label: "col.published" },
  ];
  const rows = state.cycles.map((c) =>
    h(
      "tr",
      { class: c.cycle === current ? "current" : null, dataset: { cycle: c.cycle } },
      cell("cycle", link(`/ui/?cycle=${encodeURIComponent(c.cycle)}`, c.cycle)),
      cell("unit", c.unit),
      cell("year", String(c.year), { num: true }),
      cell("regime", regimeName(c.regime)),
      cell("phase", t(`status.${c.phase}`)),
      cell("deadline", day(c.deadline)),
      cell("published", c.published ? day(c.published.date) : t("none")),
    ),
  );
  return section("ov.cycles", table({ columns, rows }));
}

function cycleDetail(doc) {
  const subjects = subjectsOf(doc);
  return [
    h(
      "section",
      { class: "card lead" },
      h("h1", {}, state.unitName ? `${state.unitName} · ${doc.year}` : doc.cycle),
      fromServer(),
      h(
        "dl",
        { class: "facts" },
        fact("col.cycle", h("code", {}, doc.cycle)),
        fact("col.unit", state.unitName ? `${state.unitName} (${doc.unit})` : doc.unit),
        fact("col.year", String(doc.year)),
        fact("col.regime", regimeName(doc.regime)),
        fact("col.phase", h("strong", { id: "phase" }, t(`status.${doc.phase}`))),
        fact("col.deadline", day(doc.deadline)),
        fact("col.published", doc.published ? day(doc.published.date) : t("none")),
      ),
      progress(subjects),
      h("p", { class: "hint" }, t("ov.asOf", { n: count(doc.position) })),
      h(
        "p",
        { class: "actions" },
        link(replayHref(doc.cycle), t("ov.replayLink"), { class: "button" }),
        " ",
        link(`/ui/charts.html?cycle=${encodeURIComponent(doc.cycle)}`, t("ov.chartsLink"), { class: "button" }),
      ),
    ),
    ratings(doc, subjects),
    quota(doc),
    complaints(doc, subjects),
    fairnessSummary(doc),
    roles(doc),
  ];
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, t(label)), h("dd", {}, value));
}

function progress(subjects) {
  const total = subjects.length;
  const decided = subjects.filter((s) => s.decision).length;
  const byStatus = new Map();
  for (const s of subjects) byStatus.set(s.status, (byStatus.get(s.status) || 0) + 1);
  return h(
    "div",
    { class: "progress" },
    h("h3", {}, t("ov.progress")),
    h("progress", { max: String(Math.max(total, 1)), value: String(decided), id: "progress" }),
    " ",
    h("span", {}, t("ov.decidedOf", { n: decided, total })),
    h(
      "ul",
      { class: "chips" },
      STATUS_ORDER.filter((st) => byStatus.has(st)).map((st) =>
        h("li", { class: `chip status-${st}` }, `${t(`status.${st}`)}: ${byStatus.get(st)}`),
      ),
    ),
  );
}

function flagsFor(cadre) {
  const found = state.fairness?.findings;
  return found ? found.filter((f) => f.cadre === cadre).length : null;
}

const SORTS = {
  name: (s) => s.name,
  group: (s) => s.group,
  status: (s) => STATUS_ORDER.indexOf(s.status),
  general: (s) => (s.score?.general == null ? -1 : Number(s.score.general)),
  tasks: (s) => (s.score?.tasks == null ? -1 : Number(s.score.tasks)),
  total: (s) => (s.score?.total == null ? -1 : Number(s.score.total)),
  level: (s) => LEVEL_RANK[s.level] ?? -1,
  complaints: (s) => s.complaints.length,
  amended: (s) => s.amended_ballots,
  flags: (s) => flagsFor(s.id) ?? 0,
};

/** Text for a search that ignores case and diacritics ("vu van quan" finds Vũ Văn Quân). */
function folded(text) {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[đĐ]/g, "d")
    .toLowerCase();
}

function ratings(doc, subjects) {
  const { key, dir } = state.sort;
  const value = SORTS[key];
  const shown = subjects
    .filter((s) => !state.filter || folded(`${s.name} ${s.id}`).includes(folded(state.filter)))
    .sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const order = typeof x === "string" ? x.localeCompare(y, "vi") : x - y;
      return dir * order || a.name.localeCompare(b.name, "vi");
    });
  const columns = [
    { key: "name", label: "col.name" },
    { key: "group", label: "col.group" },
    { key: "status", label: "col.status" },
    { key: "general", label: "col.general", num: true },
    { key: "tasks", label: "col.tasks", num: true },
    { key: "total", label: "col.total", num: true },
    { key: "level", label: "col.level" },
    { key: "complaints", label: "col.complaints", num: true },
    { key: "amended", label: "col.amended", num: true },
    { key: "flags", label: "col.flags", num: true },
  ];
  const rows = shown.map((s) => {
    const flags = flagsFor(s.id);
    return h(
      "tr",
      { dataset: { cadre: s.id } },
      cell("name", link(cadreHref(doc.cycle, s.id), s.name), { title: s.id }),
      cell("group", groupName(s.group), { title: s.group }),
      cell("status", t(`status.${s.status}`)),
      cell("general", points(s.score?.general), { num: true }),
      cell("tasks", points(s.score?.tasks), { num: true }),
      cell("total", points(s.score?.total), { num: true }),
      cell("level", level(s.level)),
      cell("complaints", s.complaints.length ? String(s.complaints.length) : "", {
        num: true,
        className: s.complaints.length ? "attention" : "",
      }),
      cell("amended", s.amended_ballots ? String(s.amended_ballots) : "", {
        num: true,
        className: s.amended_ballots ? "attention" : "",
      }),
      cell("flags", flags ? String(flags) : "", { num: true, className: flags ? "attention" : "" }),
    );
  });
  const filter = h("input", {
    type: "search",
    id: "filter",
    value: state.filter,
    placeholder: t("ov.filter"),
    "aria-label": t("ov.filter"),
    oninput: (e) => {
      state.filter = e.target.value;
      const again = byId("ratings");
      again.replaceWith(ratings(doc, subjects));
      const input = byId("filter");
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    },
  });
  const card = section(
    "ov.ratings",
    hint("ov.ratingsHint"),
    filter,
    table({
      columns,
      rows,
      className: "ratings",
      sort: state.sort,
      onSort: (k) => {
        state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : 1 };
        byId("ratings").replaceWith(ratings(doc, subjects));
      },
    }),
  );
  return card;
}

function quota(doc) {
  const groups = doc.groups.groups;
  const columns = [
    { key: "group", label: "col.group" },
    { key: "members", label: "col.members", num: true },
    { key: "htxs", label: "col.htxsDecided", num: true },
    { key: "current", label: "col.htxsCurrent", num: true },
    { key: "levels", label: "col.levels" },
    { key: "quota", label: "col.quota" },
  ];
  const rows = Object.entries(groups).map(([name, g]) => {
    const decided = g.decided.HTXS || 0;
    const current = g.current.HTXS || 0;
    const cap = g.htxs_cap;
    const over = !g.within_quota;
    const overProposed = !over && cap !== null && current > cap;
    const status = over ? "quota.over" : overProposed ? "quota.overProposed" : "quota.within";
    return h(
      "tr",
      { class: over ? "over" : overProposed ? "warn" : null, dataset: { group: name } },
      cell("group", groupName(name), { title: name }),
      cell("members", String(g.members), { num: true }),
      cell("htxs", `${decided} / ${cap === null ? t("noCap") : cap}`, { num: true }),
      cell("current", String(current), { num: true }),
      cell(
        "levels",
        // By rank, best first, whatever order the server lists them in.
        Object.entries(g.decided)
          .sort(([a], [b]) => (LEVEL_RANK[b] ?? -1) - (LEVEL_RANK[a] ?? -1))
          .map(([lv, n]) => h("span", { class: `chip level-${lv}`, title: t(`level.${lv}`) }, `${lv} ${n}`)),
      ),
      cell("quota", [
        h("span", { class: over || overProposed ? "warn" : null }, t(status)),
        g.quota_exception ? h("div", { class: "hint" }, t("quota.exception", { reason: g.quota_exception.reason ?? "" })) : null,
      ]),
    );
  });
  const heads = doc.groups.heads.map((x) =>
    h(
      "li",
      { class: x.ok ? null : "warn" },
      person(x.head),
      ` (${x.head_level ?? "—"}) · `,
      x.collective,
      ` (${x.collective_level ?? "—"}): `,
      t(x.ok ? "ov.headOk" : "ov.headBad"),
    ),
  );
  return section(
    "ov.quota",
    hint("ov.quotaHint"),
    table({ columns, rows, className: "quota" }),
    heads.length ? [h("h3", {}, t("ov.heads")), h("ul", { class: "plain" }, heads)] : null,
  );
}

function complaints(doc, subjects) {
  const all = subjects.flatMap((s) => s.complaints.map((c) => ({ ...c, cadre: s.id, name: s.name })));
  const byStatus = new Map();
  for (const c of all) byStatus.set(c.status, (byStatus.get(c.status) || 0) + 1);
  return section(
    "ov.complaints",
    h("p", { id: "complaints-count" }, t("ov.complaintsCount", { n: all.length })),
    all.length
      ? h(
          "ul",
          { class: "plain" },
          all.map((c) =>
            h(
              "li",
              {},
              link(cadreHref(doc.cycle, c.cadre), c.name),
              ` — ${t(`complaint.${c.status}`)} · ${t("cd.filed", { date: day(c.filed) })}`,
            ),
          ),
        )
      : null,
  );
}

function fairnessSummary(doc) {
  const f = state.fairness;
  if (!f) return null;
  if (f.error) return section("ov.fairness", forbidden(f.error) ? notice(t("error.forbidden")) : failure(f.error));
  const names = new Map(subjectsOf(doc).map((s) => [s.id, s.name]));
  // Tolerant of the report's shape: findings and counts may grow new fields or kinds.
  const findings = Array.isArray(f.findings) ? f.findings : [];
  const counts = f.counts && typeof f.counts === "object" ? f.counts : {};
  const rows = findings.map((x) =>
    h(
      "tr",
      { dataset: { kind: x.kind } },
      cell("kind", findingKind(x.kind)),
      cell("name", !x.cadre || x.cadre === "*" ? t("none") : link(cadreHref(doc.cycle, x.cadre), names.get(x.cadre) || x.cadre)),
      cell("scorer", x.scorer ? link(scorerHref(x.cycle === "*" ? doc.cycle : x.cycle, x.scorer), person(x.scorer)) : t("none")),
      cell("summary", findingSummary(x)),
    ),
  );
  return section(
    "ov.fairness",
    hint("fair.note"),
    h(
      "ul",
      { class: "chips" },
      Object.entries(counts).map(([kind, n]) => h("li", { class: "chip" }, `${findingKind(kind)}: ${n}`)),
    ),
    findings.length
      ? h(
          "details",
          {},
          h("summary", {}, `${t("col.summary")} (${findings.length})`),
          table({
            columns: [
              { key: "kind", label: "col.kind" },
              { key: "name", label: "col.name" },
              { key: "scorer", label: "col.scorer" },
              { key: "summary", label: "col.summary" },
            ],
            rows,
          }),
        )
      : notice(t("fair.none")),
  );
}

function roles(doc) {
  return section(
    "ov.roles",
    h(
      "dl",
      { class: "facts" },
      Object.entries(doc.roles).map(([role, people]) =>
        h("div", {}, h("dt", {}, t(`role.${role}`)), h("dd", {}, people.flatMap((p, i) => (i ? [", ", person(p)] : [person(p)])))),
      ),
    ),
  );
}

startPage("overview", render);
load();
