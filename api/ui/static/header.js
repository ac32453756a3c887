// What every page shares: the header (navigation, the log's signed checkpoint, the
// language switch, who is signed in) and the page's start-up.
import { h, clear, byId } from "./dom.js";
import { t, lang, setLang, onLanguage, applyStatic } from "./i18n.js";
import { getText, getJSON, ApiError, problemText } from "./api.js";
import { parseKey, openCheckpoint, supported, fromBase64, verifyConsistency } from "./verify.js";
import { count } from "./format.js";

const PIN = "cadreledger.logKey";
const SEEN = "cadreledger.checkpoints"; // + the log key: the greatest checkpoint seen under it
let loading = null;
let page = "overview";
let lastCheckpoint = null;
let checkpointError = null;
let session = undefined; // undefined: not asked yet; null: auth is off; {person,name} | "anonymous"

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

/** Change the page's URL parameters without reloading (so that a link shares the view). */
export function setParams(values) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === undefined) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  history.replaceState(history.state, "", url);
}

/** The latest checkpoint, its signature checked with the log's key in this browser. */
export function checkpoint() {
  loading ??= readCheckpoint().then(
    (cp) => {
      lastCheckpoint = cp;
      checkpointError = null;
      renderHeader();
      return cp;
    },
    (e) => {
      checkpointError = problemText(e);
      renderHeader();
      throw e;
    },
  );
  return loading;
}

/** Read the checkpoint again (the log grew since the page was opened). */
export function refreshCheckpoint() {
  loading = null;
  return checkpoint();
}

async function readCheckpoint() {
  const [keyText, note] = await Promise.all([getText("/v1/log/key"), getText("/v1/log/checkpoint")]);
  if (!(await supported())) {
    const [origin, size, root] = note.split("\n");
    return { origin, size: Number(size), rootBase64: root, verified: null, keyText: keyText.trim() };
  }
  const key = await parseKey(keyText);
  const cp = await openCheckpoint(note, key);
  cp.keyText = key.text;
  cp.keyChanged = pinned(key.text);
  cp.forked = null;
  cp.consistentWith = null;
  if (cp.verified && !cp.keyChanged) await consistent(cp);
  // What the replay may build on: signed by the key this browser knows, and a
  // continuation of every checkpoint it has seen under that key.
  cp.trusted = Boolean(cp.verified && !cp.keyChanged && !cp.forked);
  return cp;
}

function remembered(keyText) {
  try {
    const seen = JSON.parse(localStorage.getItem(`${SEEN}.${keyText}`) || "null");
    return seen && Number.isInteger(seen.size) && typeof seen.root === "string" ? seen : null;
  } catch {
    return null;
  }
}

function remember(keyText, cp) {
  try {
    localStorage.setItem(`${SEEN}.${keyText}`, JSON.stringify({ size: cp.size, root: cp.rootBase64, note: cp.note }));
  } catch {
    // nothing to remember it in: each visit then stands alone
  }
}

/** Is `cp` a continuation of the greatest checkpoint this browser saw under the same
 * key (RFC 9162 consistency proof)? A log that rewrote its history and signed the
 * new one with its own key fails here. */
async function consistent(cp) {
  const seen = remembered(cp.keyText);
  if (!seen) return remember(cp.keyText, cp);
  let fits = false;
  if (seen.size === cp.size) fits = seen.root === cp.rootBase64;
  else if (seen.size < cp.size && seen.size > 0) {
    try {
      const answer = await getJSON(`/v1/log/proof/consistency?from=${seen.size}&to=${cp.size}`, { quiet: true });
      fits = await verifyConsistency(seen.size, cp.size, answer.proof.map(fromBase64), fromBase64(seen.root), cp.root);
    } catch {
      fits = false;
    }
  } else fits = seen.size === 0; // a smaller log than one seen: never a continuation
  if (!fits) {
    cp.forked = seen;
    return;
  }
  cp.consistentWith = seen.size;
  if (cp.size > seen.size) remember(cp.keyText, cp);
}

// Trust on first use: the key this browser first saw for this service, so that a
// different key later (another log, or a substituted one) is said out loud.
function pinned(keyText) {
  try {
    const seen = localStorage.getItem(PIN);
    if (!seen) {
      localStorage.setItem(PIN, keyText);
      return null;
    }
    return seen === keyText ? null : seen;
  } catch {
    return null;
  }
}

function navLink(name, href) {
  return h("a", { href, class: "nav-link", "aria-current": page === name ? "page" : null }, t(`nav.${name}`));
}

function checkpointBox() {
  const cp = lastCheckpoint;
  if (checkpointError) return h("div", { class: "checkpoint bad" }, t("cp.error", { detail: checkpointError }));
  if (!cp) return h("div", { class: "checkpoint" }, t("loading"));
  const status =
    cp.verified === null
      ? "unchecked"
      : cp.keyChanged
        ? "keyChanged"
        : !cp.verified
          ? "bad"
          : cp.forked
            ? "forked"
            : cp.consistentWith !== null
              ? "consistent"
              : "ok";
  const root = cp.rootBase64 || "";
  return h(
    "div",
    {
      class: "checkpoint",
      id: "checkpoint",
      title: t("cp.title", { size: cp.size, root, key: cp.keyText }),
      dataset: { size: String(cp.size), root, status },
    },
    h("span", { class: "cp-label" }, `${t("cp.label")} ${cp.origin}`),
    " · ",
    h("span", { class: "cp-size" }, t("cp.size", { n: count(cp.size) })),
    " · ",
    h("span", { class: "cp-root" }, `${t("cp.root")} `, h("code", {}, `${root.slice(0, 16)}…`)),
    " · ",
    h(
      "span",
      { class: `cp-status ${status === "ok" || status === "consistent" ? "good" : status === "unchecked" ? "" : "bad"}` },
      t(`cp.${status}`, { key: cp.keyChanged || "", size: count(cp.forked?.size ?? cp.consistentWith ?? 0) }),
    ),
  );
}

/** A changed log key or a rewritten history stops the page: nothing of the server's is
 * shown under it, and there is no button to accept it (docs/ui.md). */
function stopBox() {
  const cp = lastCheckpoint;
  const main = byId("main");
  const stop = cp && cp.verified !== null && (cp.keyChanged || cp.forked);
  if (main) main.hidden = Boolean(stop);
  if (!stop) return null;
  const [title, body] = cp.keyChanged
    ? [t("stop.keyChanged"), t("stop.keyChangedBody", { old: cp.keyChanged, new: cp.keyText })]
    : [
        t("stop.forked"),
        t("stop.forkedBody", { size: count(cp.size), seen: count(cp.forked.size), root: cp.forked.root }),
      ];
  return h(
    "section",
    { class: "card stop", id: "stop", role: "alert", dataset: { reason: cp.keyChanged ? "keyChanged" : "forked" } },
    h("h1", {}, `✗ ${title}`),
    h("p", {}, body),
  );
}

function sessionBox() {
  if (session === undefined || session === null) return null;
  if (session === "anonymous") {
    return h("a", { href: `/ui/login.html?next=${encodeURIComponent(location.pathname + location.search)}` }, t("nav.session"));
  }
  return h("a", { href: "/ui/login.html", class: "session" }, t("nav.signedIn", { name: session.name || session.person }));
}

export function renderHeader() {
  const el = byId("header");
  if (!el) return;
  const cycle = param("cycle");
  const q = cycle ? `?cycle=${encodeURIComponent(cycle)}` : "";
  clear(el).append(
    h(
      "div",
      { class: "bar" },
      h("a", { href: `/ui/${q}`, class: "brand" }, t("app.name")),
      h(
        "nav",
        { "aria-label": t("app.name") },
        navLink("overview", `/ui/${q}`),
        navLink("replay", `/ui/replay.html${q}`),
        navLink("charts", `/ui/charts.html${q}`),
      ),
      h(
        "div",
        { class: "tools" },
        sessionBox(),
        h(
          "button",
          {
            type: "button",
            id: "lang-switch",
            class: "lang",
            title: t("nav.languageTitle"),
            lang: lang === "en" ? "vi" : "en",
            onclick: () => setLang(lang === "en" ? "vi" : "en"),
          },
          t("nav.language"),
        ),
      ),
    ),
    checkpointBox(),
    // (Element.append would write a null as the text "null".)
    ...[stopBox()].filter(Boolean),
  );
}

async function whoami() {
  try {
    session = await getJSON("/v1/auth/whoami", { quiet: true });
  } catch (e) {
    session = e instanceof ApiError && e.status === 401 ? "anonymous" : null;
  }
  renderHeader();
}

/** Start a page: labels, header, the checkpoint, and re-rendering on a language switch. */
export function startPage(name, render) {
  page = name;
  applyStatic();
  renderHeader();
  checkpoint().catch(() => {}); // shown in the header
  whoami();
  onLanguage(() => {
    renderHeader();
    render();
  });
  render();
}

