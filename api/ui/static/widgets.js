// Small pieces the pages share: sections, tables, people's names, notices.
import { h } from "./dom.js";
import { t, lang } from "./i18n.js";
import { personName, problemText } from "./api.js";

/** A card of what the server says (its projections): marked as such, since this
 * browser did not check it. Only the replay's signed steps are checked here. */
export function section(titleKey, ...children) {
  // The title's key names the section (its id), for links and for the tests.
  const id = titleKey.replace(/^\w+\./, "");
  return h("section", { class: "card", id }, h("h2", {}, t(titleKey)), fromServer(), ...children);
}

/** A card whose content this browser checked itself (no "from the server" mark). */
export function checkedSection(titleKey, ...children) {
  const id = titleKey.replace(/^\w+\./, "");
  return h("section", { class: "card", id }, h("h2", {}, t(titleKey)), ...children);
}

/** "From the server, not checked here — run cadreledger verify": never a ✓. */
export function fromServer() {
  return h(
    "p",
    { class: "from-server", dataset: { checked: "no" } },
    t("vf.fromServer"),
    " ",
    h("code", {}, "cadreledger verify"),
  );
}

export function hint(key, vars) {
  return h("p", { class: "hint" }, t(key, vars));
}

export function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : null }, text);
}

export function failure(error) {
  return notice(t("error.load", { detail: problemText(error) }), "error");
}

/** A person's registered name (their id until it arrives; the id in a tooltip). */
export function person(id) {
  const span = h("span", { class: "person", title: id, dataset: { person: id } }, id);
  personName(id).then((name) => {
    span.textContent = name;
  });
  return span;
}

/** A sign to examine (fairness finding) by its kind's name; an unknown kind as given. */
export function findingKind(kind) {
  const key = `fair.${kind}`;
  const text = t(key);
  return text === key ? String(kind ?? "") : text;
}

/** A finding's summary in the reader's language, whatever else the report carries. */
export function findingSummary(x) {
  const own = lang === "en" ? x?.summary_en : x?.summary_vi;
  return own || x?.summary_vi || x?.summary_en || x?.summary || "";
}

/** A table: columns [{key, label, num?, sort?}], rows of cells (nodes or text).
 * @param {{columns: any[], rows: any, caption?: string, sort?: {key: string, dir: number}, onSort?: (key: string) => void, className?: string}} spec */
export function table({ columns, rows, caption, sort, onSort, className = "" }) {
  const head = h(
    "tr",
    {},
    columns.map((c) => {
      const active = sort && sort.key === c.key;
      const label = t(c.label);
      return h(
        "th",
        {
          scope: "col",
          class: c.num ? "num" : null,
          // Every sortable heading says how it sorts; the active one which way.
          "aria-sort": active ? (sort.dir > 0 ? "ascending" : "descending") : onSort && c.sort !== false ? "none" : null,
          dataset: { col: c.key },
        },
        onSort && c.sort !== false
          ? h("button", { type: "button", class: "sort", onclick: () => onSort(c.key) }, label, active ? (sort.dir > 0 ? " ▲" : " ▼") : "")
          : label,
      );
    }),
  );
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption || t(columns[0]?.label ?? "") },
    h(
      "table",
      { class: className },
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, head),
      h("tbody", {}, rows),
    ),
  );
}

export function cell(col, content, { num = false, className = "", title = null } = {}) {
  return h("td", { class: [num ? "num" : "", className].join(" ").trim() || null, dataset: { col }, title }, content);
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

export function cadreHref(cycle, cadre) {
  return `/ui/cadre.html?cycle=${encodeURIComponent(cycle)}&cadre=${encodeURIComponent(cadre)}`;
}

/** A scorer's page: their ballots against the panel and the signs about them. */
export function scorerHref(cycle, scorer) {
  return `/ui/scorer.html?cycle=${encodeURIComponent(cycle)}&scorer=${encodeURIComponent(scorer)}`;
}

/** The replay at `position`; with `cadre`, that cadre's own (the steps that touched
 * them, through the endpoints a cadre or complainant may read). */
export function replayHref(cycle, position, cadre = null) {
  const at = position === undefined || position === null ? "" : `&at=${position}`;
  const who = cadre ? `&cadre=${encodeURIComponent(cadre)}` : "";
  return `/ui/replay.html?cycle=${encodeURIComponent(cycle)}${at}${who}`;
}
