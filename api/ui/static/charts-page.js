// Charts (biểu đồ) of one cycle: the score distribution per criterion, levels by group
// against the HTXS cap, and the effect of amendments (before → after).
import { h, byId, clear } from "./dom.js";
import { t } from "./i18n.js";
import { getJSON, getAll, cycleUrl, forbidden } from "./api.js";
import { startPage, param } from "./header.js";
import { points, groupName } from "./format.js";
import { section, hint, notice, failure, table, cell, link, cadreHref } from "./widgets.js";
import { subjectsOf, LEVELS } from "./ratings.js";
import { amendmentEffects, asPoints } from "./ballots.js";
import { histogram, dumbbell, stackedBars } from "./charts.js";

const cycle = param("cycle");
const state = { doc: null, profile: null, acts: null, error: null };

async function load() {
  if (!cycle) {
    const cycles = await getAll("/v1/cycles", "cycles").catch((e) => ({ error: e }));
    const first = cycles.cycles?.[0]?.cycle;
    if (first) return location.replace(`/ui/charts.html?cycle=${encodeURIComponent(first)}`);
    state.error = cycles.error || new Error(t("error.noCycles"));
    return render();
  }
  try {
    const [doc, regimes, timeline] = await Promise.all([
      getJSON(cycleUrl(cycle)),
      getJSON("/v1/regimes"),
      getAll(cycleUrl(cycle, "/timeline", { type: "score.submitted,score.amended" }), "timeline").catch((e) => ({ error: e })),
    ]);
    state.doc = doc;
    state.profile = regimes.regimes.find((r) => r.id === doc.regime.id && r.version === doc.regime.version)?.profile;
    state.acts = timeline;
  } catch (e) {
    state.error = e;
  }
  render();
}

function render() {
  const main = clear(byId("main"));
  document.title = `${t("title.charts")} — ${t("app.name")}`;
  if (state.error) return main.append(failure(state.error));
  if (!state.doc) return main.append(notice(t("loading")));
  main.append(
    h("section", { class: "card" }, h("h1", {}, `${t("title.charts")}: ${cycle}`)),
    distribution(),
    levels(),
    amendments(),
  );
}

function thresholdMarks() {
  return Object.entries(state.profile?.thresholds || {}).map(([lv, at]) => ({ at, label: lv }));
}

function levelAt(total) {
  const marks = Object.entries(state.profile?.thresholds || {}).sort((a, b) => b[1] - a[1]);
  for (const [lv, at] of marks) if (total >= at) return lv;
  return "KHT";
}

function distribution() {
  const scoring = state.profile?.scoring;
  if (!scoring || scoring.kind !== "points") return section("ch.distribution", notice(t("ch.criteriaRegime")));
  const scored = subjectsOf(state.doc).filter((s) => s.score && s.score.general !== null);
  const criteria = [
    { key: "general", max: scoring.general_max, bin: scoring.general_max <= 30 ? 2 : 5 },
    { key: "tasks", max: scoring.tasks_max, bin: 5 },
    { key: "total", max: scoring.general_max + scoring.tasks_max, bin: 5, thresholds: thresholdMarks(), byLevel: true },
  ];
  const charts = criteria.map((c) => {
    const values = scored.map((s) => Number(s.score[c.key]));
    const label = `${t("ch.distribution")} — ${t(`col.${c.key}`)}`;
    return h(
      "figure",
      { class: "chart-box", dataset: { criterion: c.key } },
      h("figcaption", {}, h("strong", {}, t(`col.${c.key}`)), ` (0–${c.max} ${t("ch.points")}, ${t("ch.subjects", { n: values.length })})`),
      histogram({
        values,
        min: 0,
        max: c.max,
        bin: c.bin,
        thresholds: c.thresholds || [],
        label,
        xLabel: t("ch.points"),
        yLabel: t("ch.people"),
        classFor: c.byLevel ? (start) => `level-${levelAt(start)}` : () => "",
      }),
    );
  });
  const rows = scored.map((s) =>
    h(
      "tr",
      {},
      cell("name", link(cadreHref(cycle, s.id), s.name)),
      cell("general", points(s.score.general), { num: true }),
      cell("tasks", points(s.score.tasks), { num: true }),
      cell("total", points(s.score.total), { num: true }),
    ),
  );
  return section(
    "ch.distribution",
    hint("ch.distributionHint"),
    h("ul", { class: "legend" }, ["HTXS", "HTT", "HT", "KHT"].map((lv) => h("li", {}, h("span", { class: `swatch level-${lv}` }), `${lv} — ${t(`level.${lv}`)}`)), h("li", {}, h("span", { class: "swatch threshold" }), t("col.level"))),
    h("div", { class: "charts-grid" }, charts),
    h(
      "details",
      {},
      h("summary", {}, t("ch.data")),
      table({
        columns: [
          { key: "name", label: "col.name" },
          { key: "general", label: "col.general", num: true },
          { key: "tasks", label: "col.tasks", num: true },
          { key: "total", label: "col.total", num: true },
        ],
        rows,
      }),
    ),
  );
}

function levels() {
  const groups = Object.entries(state.doc.groups.groups).map(([name, g]) => ({ label: groupName(name), counts: g.decided, cap: g.htxs_cap }));
  return section(
    "ch.levels",
    hint("ch.levelsHint"),
    h("ul", { class: "legend" }, LEVELS.map((lv) => h("li", {}, h("span", { class: `swatch level-${lv}` }), `${lv} — ${t(`level.${lv}`)}`))),
    stackedBars({ groups, levels: LEVELS, label: t("ch.levels"), capLabel: t("col.htxsDecided") }),
  );
}

function amendments() {
  if (state.acts?.error) {
    return section("ch.amendments", forbidden(state.acts.error) ? notice(t("error.forbidden")) : failure(state.acts.error));
  }
  const names = new Map(subjectsOf(state.doc).map((s) => [s.id, s.name]));
  const effects = amendmentEffects(state.acts.timeline);
  if (!effects.length) return section("ch.amendments", notice(t("ch.noAmendments")));
  const rows = effects.map((e) => {
    const from = levelAt(e.before / 100);
    const to = levelAt(e.after / 100);
    return {
      label: names.get(e.cadre) || e.cadre,
      title: e.cadre,
      before: e.before / 100,
      after: e.after / 100,
      beforeText: points(asPoints(e.before)),
      afterText: points(asPoints(e.after)),
      note: from !== to && state.profile?.thresholds ? t("ch.changedLevel", { from, to }) : "",
      delta: `${e.after >= e.before ? "+" : "−"}${points(asPoints(Math.abs(e.after - e.before)))}`,
      cadre: e.cadre,
      count: e.amendments,
    };
  });
  // Zoomed to the moved totals (amendments move points, not tens of points).
  const low = Math.min(...rows.map((r) => Math.min(r.before, r.after)));
  const high = Math.max(...rows.map((r) => Math.max(r.before, r.after)));
  return section(
    "ch.amendments",
    hint("ch.amendmentsHint"),
    dumbbell({
      rows,
      min: Math.max(0, Math.floor(low / 5) * 5 - 5),
      max: Math.min(100, Math.ceil(high / 5) * 5 + 5),
      thresholds: thresholdMarks().filter((m) => m.at >= low - 5 && m.at <= high + 5),
      label: t("ch.amendments"),
      beforeLabel: t("ch.before"),
      afterLabel: t("ch.after"),
    }),
    h(
      "details",
      {},
      h("summary", {}, t("ch.data")),
      table({
        columns: [
          { key: "name", label: "col.name" },
          { key: "count", label: "cd.amendments", num: true },
          { key: "before", label: "ch.before", num: true },
          { key: "after", label: "ch.after", num: true },
        ],
        rows: rows.map((r) =>
          h(
            "tr",
            { dataset: { cadre: r.cadre } },
            cell("name", link(cadreHref(cycle, r.cadre), r.label)),
            cell("count", String(r.count), { num: true }),
            cell("before", r.beforeText, { num: true }),
            cell("after", r.afterText, { num: true }),
          ),
        ),
      }),
    ),
  );
}

startPage("charts", () => {
  if (state.doc || state.error) render();
});
load();
