// Replay (phát lại): a cycle's acts one by one — the ratings after each, what changed,
// who signed it, and whether its signature and inclusion in the log verify.
import { h, byId, clear } from "./dom.js";
import { t, has } from "./i18n.js";
import { getJSON, getAll, cycleUrl, forbidden } from "./api.js";
import { startPage, param, setParams, checkpoint, refreshCheckpoint } from "./header.js";
import { dateTime, day, points, level, actLabel, shortHash, text, groupName, count } from "./format.js";
import { checkedSection, fromServer, hint, notice, failure, person, cell, cadreHref } from "./widgets.js";
import { StepChecker, CHECKS, fetchEntries } from "./steps.js";
import { subjectsOf } from "./ratings.js";
import { findOmitted, LIMIT } from "./completeness.js";

const cycle = param("cycle");
// A cadre's (or complainant's) own replay: the steps that touched their result, read
// through the endpoints they may use (their timeline, their page as of a step).
const cadre = param("cadre");
const state = {
  steps: null,
  index: 0,
  error: null,
  unlisted: [], // positions of envelopes given but left off the timeline
  completeness: null, // events of the cycle's streams the log holds but the timeline omits
  own: null, // the signed-in person, offered their own replay when the cycle's is refused
  checker: null,
  names: new Map(), // cadre id → name, from the latest state seen
  shown: null, // {after, before, index} of the table on screen
  onlyChanged: false,
};
const states = new Map(); // position → ratings document as of it (a promise)
const EMPTY = { subjects: {}, groups: { groups: {}, heads: [] } };
let sequence = 0;
const items = new Map(); // position → its item in the step list (no search per result)
let debounce = null;

function stateAt(position) {
  if (position === null) return Promise.resolve(EMPTY);
  if (!states.has(position)) {
    const loading = cadre
      ? getJSON(cycleUrl(cycle, `/cadres/${encodeURIComponent(cadre)}`, { at: position })).then((page) => ({
          subjects: { [cadre]: page.rating },
          groups: { groups: {}, heads: [] },
        }))
      : getJSON(cycleUrl(cycle, "/ratings", { at: position }));
    loading.catch(() => states.delete(position));
    states.set(position, loading);
  }
  return states.get(position);
}

async function load() {
  if (!cycle) {
    const cycles = await getJSON("/v1/cycles").catch((e) => ({ error: e }));
    const first = cycles.cycles?.[0]?.cycle;
    if (first) {
      location.replace(`/ui/replay.html?cycle=${encodeURIComponent(first)}`);
      return;
    }
    state.error = cycles.error || new Error(t("error.noCycles"));
    return render();
  }
  try {
    // The envelopes load while the timeline does (a long cycle's both take seconds).
    const fetched = fetchEntries(cycle, cadre);
    fetched.catch(() => {}); // a refusal is the checker's to report, step by step
    const timeline = await getAll(
      cadre ? cycleUrl(cycle, `/cadres/${encodeURIComponent(cadre)}/timeline`) : cycleUrl(cycle, "/timeline"),
      "timeline",
    );
    state.steps = timeline.timeline;
    // Names from the roster as signed, so that the timeline reads before any state loads.
    for (const step of state.steps) {
      if (step.type !== "cycle.roster" || !Array.isArray(step.fields.subjects)) continue;
      for (const s of step.fields.subjects) if (s && s.id && s.name) state.names.set(s.id, s.name);
    }
    const last = state.steps.length ? state.steps[state.steps.length - 1].position : -1;
    let cp = await checkpoint();
    if (cp.size <= last) cp = await refreshCheckpoint();
    state.checker = new StepChecker(
      cycle,
      state.steps,
      async () => {
        const now = await checkpoint();
        return now.size > last ? now : refreshCheckpoint();
      },
      { cadre, fetched },
    );
    state.checker.onResult(onChecked);
    const at = Number(param("at"));
    if (param("at") !== null && Number.isInteger(at)) {
      const found = state.steps.findLastIndex((s) => s.position <= at);
      state.index = Math.max(0, found);
    }
  } catch (e) {
    state.error = e;
    // The whole cycle is its insiders'; a cadre or complainant may still replay the
    // steps that touched their own result.
    if (!cadre && forbidden(e)) {
      const me = await getJSON("/v1/auth/whoami", { quiet: true }).catch(() => null);
      if (me?.person) state.own = me.person;
    }
  }
  render();
  if (state.steps?.length) {
    state.checker.checkAll(state.steps[state.index]);
    state.checker
      .unlisted()
      .then((positions) => {
        state.unlisted = positions;
        byId("verify-summary")?.replaceWith(verificationSummary());
      })
      .catch(() => {}); // envelopes refused: each step says so
    checkCompleteness();
  }
}

/** Omission: the log's own entries from the cycle's first step to the checkpoint, held
 * to its signed tree, against the timeline (completeness.js). */
async function checkCompleteness() {
  state.completeness = { status: "running" };
  const prefix = `cycle/${cycle}`;
  // The registry's events the server gave (each checked, at its position, before any
  // key is trusted): a later one it kept back — a key's revocation — is an omission too.
  const given = await state.checker
    .loadEntries()
    .then(({ registry }) => new Set(registry.map((e) => e.index)))
    .catch(() => null);
  const cycleStream = cadre
    ? (stream) => stream === prefix || stream === `${prefix}/cadre/${cadre}`
    : (stream) => stream === prefix || stream.startsWith(`${prefix}/cadre/`);
  const wanted = (stream) => cycleStream(stream) || (given !== null && stream === "registry");
  try {
    const cp = await state.checker.checkpoint();
    if (!cp.trusted) {
      state.completeness = { status: "untrusted" };
    } else {
      const steps = state.steps.map((s) => s.position);
      const first = Math.min(...steps);
      const listed = new Set([...steps, ...(given ?? [])]);
      state.completeness = await findOmitted({ first, checkpoint: cp, listed, wanted });
    }
  } catch (e) {
    state.completeness = { status: "unavailable", detail: String(e?.message || e) };
  }
  const summary = byId("verify-summary");
  if (!summary) return;
  const open = summary.querySelector("details")?.open;
  const fresh = verificationSummary();
  if (open) fresh.querySelector("details").open = true;
  summary.replaceWith(fresh);
}

/** What the omission check found, in words, with ✓ only when it read everything. */
function completenessLine() {
  const c = state.completeness;
  if (!c) return null;
  const status = c.status;
  const cls = status === "complete" ? "good" : status === "omitted" || status === "mismatch" || status === "untrusted" ? "bad" : "";
  const vars = {
    n: count(status === "omitted" ? c.omitted.length : c.read ?? 0),
    positions: (c.omitted || []).slice(0, 10).join(", "),
    from: count(c.from ?? 0),
    to: count(c.to ?? 0),
    at: c.at ?? "",
    limit: count(LIMIT),
    detail: c.detail ?? "",
  };
  return h("p", { id: "completeness", class: cls, dataset: { status } }, t(`vf.omit.${status}`, vars));
}

function render() {
  const main = clear(byId("main"));
  document.title = `${t("title.replay")} — ${t("app.name")}`;
  if (state.error) {
    main.append(failure(state.error));
    if (state.own) {
      main.append(
        h(
          "p",
          { class: "notice" },
          h("a", { id: "own-replay", href: `/ui/replay.html?cycle=${encodeURIComponent(cycle)}&cadre=${encodeURIComponent(state.own)}` }, t("rp.ownReplay")),
        ),
      );
    }
    return;
  }
  if (!state.steps) return main.append(notice(t("loading")));
  if (!state.steps.length) return main.append(notice(t("rp.noSubjects")));
  main.append(
    h(
      "section",
      { class: "card" },
      h("h1", {}, `${t("title.replay")}: ${cycle}`),
      cadre
        ? h("p", { id: "replay-cadre" }, h("a", { href: cadreHref(cycle, cadre) }, t("rp.forCadre", { name: state.names.get(cadre) || cadre })))
        : null,
      controls(),
      hint("rp.keys"),
      verificationSummary(),
    ),
    h(
      "div",
      { class: "replay-grid" },
      checkedSection("rp.timeline", timelineList()),
      h("div", {}, h("section", { class: "card", id: "step" }), stateCard()),
    ),
  );
  show(state.index, { fetchNow: true });
}

function controls() {
  const n = state.steps.length;
  const button = (id, key, target) =>
    h("button", { type: "button", id, onclick: () => go(target()) }, t(key));
  return h(
    "div",
    { class: "replay-controls" },
    button("first", "rp.first", () => 0),
    button("prev", "rp.prev", () => state.index - 1),
    h("input", {
      type: "range",
      id: "scrub",
      min: "0",
      max: String(n - 1),
      value: String(state.index),
      "aria-label": t("rp.slider"),
      oninput: (e) => go(Number(e.target.value), { fromSlider: true }),
    }),
    button("next", "rp.next", () => state.index + 1),
    button("last", "rp.last", () => n - 1),
    h("span", { class: "step-counter", id: "counter", "aria-live": "polite" }),
  );
}

function go(index, { fromSlider = false } = {}) {
  const n = state.steps.length;
  const target = Math.max(0, Math.min(n - 1, index));
  if (target === state.index && !fromSlider) return;
  state.index = target;
  show(target, { fetchNow: !fromSlider });
}

// Keys: ← → a step, Home/End the ends (the slider, when focused, moves by itself).
document.addEventListener("keydown", (e) => {
  if (!state.steps || e.altKey || e.ctrlKey || e.metaKey) return;
  const target = e.target;
  if (target instanceof HTMLInputElement && target.type !== "checkbox") return;
  const moves = { ArrowLeft: -1, ArrowRight: 1 };
  if (e.key in moves) go(state.index + moves[e.key]);
  else if (e.key === "Home") go(0);
  else if (e.key === "End") go(state.steps.length - 1);
  else return;
  e.preventDefault();
});

function show(index, { fetchNow }) {
  const step = state.steps[index];
  const n = state.steps.length;
  setParams({ at: step.position });
  byId("scrub").value = String(index);
  byId("first").disabled = byId("prev").disabled = index === 0;
  byId("next").disabled = byId("last").disabled = index === n - 1;
  byId("counter").textContent = `${t("rp.step", { i: count(index + 1), n: count(n) })} · ${t("rp.position", { p: count(step.position) })}`;
  markCurrent(index);
  renderStep(step);
  state.checker.check(step);
  clearTimeout(debounce);
  if (fetchNow) loadState(index);
  else debounce = setTimeout(() => loadState(index), 150);
}

async function loadState(index) {
  const token = ++sequence;
  const step = state.steps[index];
  const previous = index > 0 ? state.steps[index - 1].position : null;
  try {
    const [after, before] = await Promise.all([stateAt(step.position), stateAt(previous)]);
    if (token !== sequence) return; // the reader has moved on
    state.shown = { after, before, index };
    for (const s of subjectsOf(after)) state.names.set(s.id, s.name);
    renderState();
    // Neighbours next, so that stepping on is instant.
    if (index + 1 < state.steps.length) stateAt(state.steps[index + 1].position);
  } catch (e) {
    if (token === sequence) clear(byId("state-body")).append(failure(e));
  }
}

// -- the timeline ---------------------------------------------------------------------

function timelineList() {
  items.clear();
  return h(
    "ol",
    // Focusable: the list scrolls, and ← → Home End move through it from the keyboard.
    { class: "timeline", id: "step-list", tabindex: "0", "aria-label": t("rp.timeline") },
    state.steps.map((step, i) => {
      const item = h(
        "li",
        { dataset: { index: String(i), position: String(step.position) }, onclick: () => go(i) },
        h("span", { class: "pos" }, String(step.position)),
        mark(state.checker.settled.get(step.position)),
        h(
          "span",
          {},
          actLabel(step.type),
          h("span", { class: "who" }, step.cadre ? state.names.get(step.cadre) || step.cadre : step.actor),
        ),
      );
      items.set(step.position, item);
      return item;
    }),
  );
}

function mark(result) {
  if (!result) return h("span", { class: "mark mark-wait", title: t("vf.pending") }, "…");
  if (result.ok === true) return h("span", { class: "mark mark-ok", title: t("vf.title") }, "✓");
  if (result.ok === false) return h("span", { class: "mark mark-bad", title: t("vf.title") }, "✗");
  return h("span", { class: "mark mark-wait", title: t("vf.unsupported") }, "?");
}

function markCurrent(index) {
  const list = byId("step-list");
  list.querySelector("li.current")?.classList.remove("current");
  const item = /** @type {HTMLElement} */ (list.children[index]);
  item.classList.add("current");
  item.setAttribute("aria-current", "step");
  // Keep it in view inside the list, without moving the page.
  if (item.offsetTop < list.scrollTop || item.offsetTop + item.offsetHeight > list.scrollTop + list.clientHeight) {
    list.scrollTop = item.offsetTop - list.clientHeight / 2;
  }
}

let summaryTimer = null;
function onChecked(step, result) {
  items.get(step.position)?.querySelector(".mark")?.replaceWith(mark(result));
  if (state.steps[state.index] === step) renderChecks(step);
  // The summary counts every result: a few times a second is enough, and the last
  // result always lands.
  summaryTimer ??= setTimeout(() => {
    summaryTimer = null;
    const summary = byId("verify-summary");
    if (!summary) return;
    const open = summary.querySelector("details")?.open;
    const fresh = verificationSummary();
    if (open) fresh.querySelector("details").open = true;
    summary.replaceWith(fresh);
  }, 200);
}

/** Whether the omission check found the server out. */
function omission() {
  return ["omitted", "mismatch", "untrusted"].includes(state.completeness?.status);
}

function verificationSummary() {
  const results = [...state.checker.settled.values()];
  const good = results.filter((r) => r.ok === true).length;
  const badCount = results.filter((r) => r.ok === false).length;
  const done = results.length;
  const n = state.steps.length;
  return h(
    "div",
    { id: "verify-summary", class: "verify-summary", dataset: { done: String(done), ok: String(good), bad: String(badCount), n: String(n) } },
    h("strong", {}, `${t("vf.title")}: `),
    h(
      "span",
      { class: badCount || state.unlisted.length || omission() ? "bad" : good === n ? "good" : "" },
      t("vf.summary", {
        done: count(done),
        n: count(n),
        ok: count(good),
        bad: count(badCount),
        unknown: count(done - good - badCount),
      }),
    ),
    done < n ? ` — ${t("vf.running")}` : "",
    state.unlisted.length
      ? h(
          "p",
          { class: "bad", id: "unlisted" },
          t("vf.unlisted", { n: count(state.unlisted.length), positions: state.unlisted.slice(0, 10).join(", ") }),
        )
      : null,
    completenessLine(),
    h(
      "details",
      {},
      h("summary", {}, t("vf.what")),
      h("ul", {}, ["vf.explain1", "vf.explain5", "vf.explain2", "vf.explain3", "vf.explain4", "vf.explain6", "vf.explain7"].map((k) => h("li", {}, t(k, { limit: count(LIMIT) })))),
    ),
  );
}

// -- this step ------------------------------------------------------------------------

function renderStep(step) {
  const card = clear(byId("step"));
  // The fields as the API gives them: sealed texts opened for the reader (the checks
  // compare them, resealed, with what was signed).
  const fields = Object.entries(step.fields);
  card.dataset.position = String(step.position);
  card.append(
    h("h2", {}, `${t("rp.thisStep")}: `, h("span", { id: "step-type" }, actLabel(step.type))),
    h(
      "dl",
      { class: "detail" },
      h("dt", {}, t("rp.signedBy")),
      h("dd", { id: "step-actor" }, person(step.actor), " ", h("code", {}, step.actor)),
      h("dt", {}, t("rp.key")),
      h("dd", {}, h("code", { id: "step-key" }, step.signer)),
      h("dt", {}, t("rp.signedAt")),
      h("dd", {}, dateTime(step.issued_at)),
      step.cadre
        ? [h("dt", {}, t("rp.subject")), h("dd", {}, h("a", { href: cadreHref(cycle, step.cadre) }, state.names.get(step.cadre) || step.cadre))]
        : null,
      h("dt", {}, t("rp.event")),
      h("dd", {}, h("code", { title: step.event }, shortHash(step.event, 24))),
      h("dt", {}, t("rp.stream")),
      h("dd", {}, h("code", {}, step.stream)),
      h("dt", {}, t("rp.rules")),
      h(
        "dd",
        { id: "step-rules", class: step.refused ? "warn" : null, dataset: { checked: "no" } },
        step.refused ? t("rp.refused", { problem: step.refused }) : t("rp.admitted"),
      ),
    ),
    h("h3", {}, t("vf.title")),
    h("ul", { class: "checks", id: "checks" }),
    h("h3", {}, t("rp.content")),
    h(
      "dl",
      { class: "detail fields" },
      fields.flatMap(([k, v]) => [
        h("dt", { title: k }, has(`field.${k}`) ? t(`field.${k}`) : k),
        h("dd", { dataset: { field: k } }, fieldValue(k, v, amended(step))),
      ]),
    ),
  );
  renderChecks(step);
}

const POINTS = new Set(["general", "tasks", "total", "low"]);

/** An amendment's ballot before it: the step it amends (its signed fields). */
function amended(step) {
  if (step.type !== "score.amended" || typeof step.fields.amends !== "string") return null;
  return state.steps.find((s) => s.event === step.fields.amends)?.fields ?? null;
}

/** A signed field as a reader reads it: points, levels, dates, yes/no, a link to the
 * step an event hash names; an amendment's scores as old → new. */
function fieldValue(key, value, before) {
  if (value && typeof value === "object" && "sealed" in value) return text(value);
  if (POINTS.has(key) && (typeof value === "number" || typeof value === "string")) {
    const old = before?.[key];
    if (old !== undefined && old !== null && String(old) !== String(value)) {
      return h("span", { class: "old-new" }, h("del", {}, points(old)), " → ", h("strong", {}, points(value)));
    }
    return points(value);
  }
  if (key === "level" && typeof value === "string") return level(value);
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  if (typeof value === "string" && /^[0-9a-f]{64}$/.test(value)) {
    const target = state.steps.findIndex((s) => s.event === value);
    const code = h("code", { title: value }, shortHash(value, 16));
    if (target < 0) return code;
    return [code, " ", h("button", { type: "button", class: "small link", onclick: () => go(target) }, t("rp.goTo", { p: state.steps[target].position }))];
  }
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return day(value);
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) return dateTime(value);
  if (typeof value === "string" || typeof value === "number") return String(value);
  return h("code", {}, JSON.stringify(value));
}

function renderChecks(step) {
  const list = byId("checks");
  if (!list || byId("step").dataset.position !== String(step.position)) return;
  const result = state.checker.settled.get(step.position);
  clear(list).append(
    ...CHECKS.map((name) => {
      const check = result?.checks?.[name];
      const status = !check ? "wait" : check.ok === true ? "ok" : check.ok === false ? "bad" : "wait";
      return h(
        "li",
        { dataset: { check: name, status } },
        h("span", { class: "check-name" }, t(`vf.${name}`)),
        h("span", { class: `mark-${status}` }, check ? t(check.key, check.vars) : t("vf.pending")),
      );
    }),
  );
}

// -- the state after the step ---------------------------------------------------------

function stateCard() {
  return h(
    "section",
    { class: "card", id: "state" },
    h("h2", {}, t("rp.state")),
    fromServer(),
    h("p", { class: "hint" }, h("span", { class: "legend-changed" }), t("rp.stateHint")),
    h(
      "label",
      {},
      h("input", {
        type: "checkbox",
        id: "only-changed",
        checked: state.onlyChanged,
        onchange: (e) => {
          state.onlyChanged = e.target.checked;
          renderState();
        },
      }),
      " ",
      t("rp.onlyChanged"),
    ),
    h("div", { id: "state-body" }, notice(t("loading"))),
  );
}

const COLUMNS = [
  { key: "status", label: "col.status", value: (s) => s.status, show: (v) => t(`status.${v}`) },
  { key: "ballots", label: "col.ballots", num: true, value: (s) => String(s.ballots), show: (v) => v },
  { key: "amended", label: "col.amended", num: true, value: (s) => String(s.amended_ballots), show: (v) => v },
  { key: "general", label: "col.general", num: true, value: (s) => s.score?.general ?? null, show: points },
  { key: "tasks", label: "col.tasks", num: true, value: (s) => s.score?.tasks ?? null, show: points },
  { key: "total", label: "col.total", num: true, value: (s) => s.score?.total ?? null, show: points },
  { key: "proposal", label: "col.proposal", value: (s) => s.proposal?.level ?? null, show: (v) => (v ? v : t("none")) },
  { key: "level", label: "col.level", value: (s) => s.level, show: level },
  {
    key: "complaints",
    label: "col.complaints",
    value: (s) => s.complaints.map((c) => c.status).join(",") || null,
    show: (v) => (v ? v.split(",").map((x) => t(`complaint.${x}`)).join(", ") : ""),
  },
];

function renderState() {
  const body = byId("state-body");
  if (!body || !state.shown) return;
  const { after, before } = state.shown;
  const was = new Map(subjectsOf(before).map((s) => [s.id, s]));
  const subjects = subjectsOf(after);
  clear(body);
  if (!subjects.length) return body.append(notice(t("rp.noSubjects")));
  let changes = 0;
  const rows = [];
  for (const s of subjects) {
    const old = was.get(s.id);
    const cells = COLUMNS.map((c) => {
      const now = c.value(s);
      const then = old ? c.value(old) : undefined;
      const changed = old !== undefined && now !== then;
      if (changed) changes++;
      const content = changed
        ? [h("del", {}, then === null ? t("none") : c.show(then)), " ", c.show(now)]
        : now === null
          ? t("none")
          : c.show(now);
      return cell(c.key, content, { num: c.num, className: changed ? "changed" : "" });
    });
    const rowChanged = !old || cells.some((td) => td.classList.contains("changed"));
    if (state.onlyChanged && !rowChanged) continue;
    rows.push(
      h(
        "tr",
        { class: !old ? "added" : rowChanged ? "changed-row" : null, dataset: { cadre: s.id } },
        cell("name", h("a", { href: cadreHref(cycle, s.id) }, s.name), { title: s.id }),
        cells,
      ),
    );
  }
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, t("col.name")),
    COLUMNS.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, t(c.label))),
  );
  const wrap = h("div", { class: "state-wrap", id: "state-wrap" }, h("table", { class: "state" }, h("thead", {}, head), h("tbody", {}, rows)));
  body.append(changes || subjects.length !== was.size ? "" : notice(t("rp.noChange")), wrap, groupsTable(after, before));
  const first = wrap.querySelector("td.changed, tr.added");
  if (first) {
    const row = first.closest("tr");
    wrap.scrollTop = Math.max(0, row.offsetTop - wrap.clientHeight / 3);
  }
}

function groupsTable(after, before) {
  const was = before.groups?.groups || {};
  const rows = Object.entries(after.groups?.groups || {}).map(([name, g]) => {
    const old = was[name];
    const cap = g.htxs_cap === null ? t("noCap") : String(g.htxs_cap);
    const text = `${g.decided.HTXS || 0} / ${cap}`;
    const oldText = old ? `${old.decided.HTXS || 0} / ${old.htxs_cap === null ? t("noCap") : old.htxs_cap}` : text;
    const changed = text !== oldText;
    return h(
      "tr",
      { class: g.within_quota ? null : "over" },
      cell("group", groupName(name), { title: name }),
      cell("members", String(g.members), { num: true }),
      cell("htxs", changed ? [h("del", {}, oldText), " ", text] : text, { num: true, className: changed ? "changed" : "" }),
      cell("quota", h("span", { class: g.within_quota ? null : "warn" }, t(g.within_quota ? "quota.within" : "quota.over"))),
    );
  });
  if (!rows.length) return "";
  return h(
    "div",
    {},
    h("h3", {}, t("rp.groups")),
    h(
      "table",
      { class: "quota" },
      h(
        "thead",
        {},
        h("tr", {}, ["col.group", "col.members", "col.htxsDecided", "col.quota"].map((k) => h("th", { scope: "col" }, t(k)))),
      ),
      h("tbody", {}, rows),
    ),
  );
}

startPage("replay", () => {
  if (state.steps || state.error) render();
});
load();
