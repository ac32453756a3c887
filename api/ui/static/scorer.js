// A scorer's page (người chấm): how their ballots stood against the rest of the panel
// in a cycle — ballots, mean deviation, the cadres they marked up or down — and the
// signs to examine about them, each linked to the replay step of every event behind it.
// All of it is the server's (its fairness report), not checked here: the page says so.
import { h, byId, clear } from "./dom.js";
import { t, lang } from "./i18n.js";
import { getJSON, cycleUrl, forbidden } from "./api.js";
import { startPage, param } from "./header.js";
import { points, count } from "./format.js";
import { findingKind, findingSummary, section, hint, notice, failure, person, link, cadreHref, replayHref } from "./widgets.js";

const cycle = param("cycle");
const scorer = param("scorer");
const state = { fairness: null, error: null };

async function load() {
  try {
    state.fairness = await getJSON(cycleUrl(cycle, "/fairness"));
  } catch (e) {
    state.error = e;
  }
  render();
}

function render() {
  const main = clear(byId("main"));
  document.title = `${t("title.scorer")} — ${t("app.name")}`;
  if (!cycle || !scorer) return main.append(notice(t("error.noCycle")));
  if (state.error) return main.append(forbidden(state.error) ? notice(t("error.forbidden")) : failure(state.error));
  if (!state.fairness) return main.append(notice(t("loading")));
  main.append(lead(), profile(), findings());
}

function lead() {
  return h(
    "section",
    { class: "card lead" },
    h("p", {}, link(`/ui/?cycle=${encodeURIComponent(cycle)}`, t("cd.back"))),
    h("h1", { id: "scorer-name" }, t("sc.heading"), " ", person(scorer)),
    h("dl", { class: "facts" }, h("div", {}, h("dt", {}, t("col.cycle")), h("dd", {}, cycle)), h("div", {}, h("dt", {}, t("col.id")), h("dd", {}, h("code", {}, scorer)))),
  );
}

/** "+1.20" (points, signed) as the reader's language writes it. */
function signedPoints(text) {
  const match = /^([+-]?)(\d+(?:\.\d+)?)$/.exec(String(text ?? ""));
  if (!match) return String(text ?? t("none"));
  return `${match[1] === "-" ? "−" : "+"}${points(match[2])}`;
}

function cadres(of, id) {
  const entries = Object.entries(of || {});
  if (!entries.length) return notice(t("sc.nobody"));
  return h(
    "ul",
    { class: "plain", id },
    entries.map(([cadre, n]) => h("li", { dataset: { cadre } }, link(cadreHref(cycle, cadre), person(cadre)), " — ", t("sc.times", { n: count(n) }))),
  );
}

function profile() {
  const profiles = state.fairness.scorers;
  const mine = profiles && typeof profiles === "object" ? profiles[scorer] : null;
  if (!mine) return section("sc.profile", notice(t("sc.noProfile")));
  return section(
    "sc.profile",
    hint("sc.profileHint"),
    h(
      "dl",
      { class: "facts", id: "scorer-profile" },
      h("div", {}, h("dt", {}, t("sc.ballots")), h("dd", { dataset: { ballots: mine.ballots } }, count(mine.ballots))),
      h("div", {}, h("dt", {}, t("sc.meanDeviation")), h("dd", { dataset: { mean: mine.mean_deviation } }, t("sc.points", { n: signedPoints(mine.mean_deviation) }))),
    ),
    h("h3", {}, t("sc.favours")),
    cadres(mine.favours, "scorer-favours"),
    h("h3", {}, t("sc.marksDown")),
    cadres(mine.marks_down, "scorer-marks-down"),
  );
}

function findings() {
  const f = state.fairness;
  const mine = (Array.isArray(f.findings) ? f.findings : []).filter((x) => x.scorer === scorer);
  return section(
    "sc.fairness",
    hint("fair.note"),
    hint("sc.crossCycle"),
    mine.length
      ? mine.map((x) => {
          const kind = (f.kinds || {})[x.kind];
          const where = x.cycle === "*" ? cycle : x.cycle;
          return h(
            "div",
            { class: "finding", dataset: { kind: x.kind, severity: x.severity, id: x.id } },
            h("strong", {}, findingKind(x.kind)),
            x.severity ? ` (${t(`fair.severity.${x.severity}`)})` : "",
            ": ",
            findingSummary(x),
            x.cadre && x.cadre !== "*" ? h("p", { class: "hint" }, t("sc.about"), " ", link(cadreHref(where, x.cadre), person(x.cadre))) : null,
            kind ? h("p", { class: "hint" }, lang === "en" ? kind.explanation_en : kind.explanation_vi) : null,
            h(
              "p",
              { class: "hint" },
              t("fair.events"),
              " ",
              (x.positions || []).flatMap((p, i) => [i ? ", " : "", link(replayHref(where, p), `#${p}`)]),
            ),
          );
        })
      : notice(t("fair.none")),
  );
}

startPage("scorer", () => {
  if (state.fairness || state.error) render();
});
load();
