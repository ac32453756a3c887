// Dates in Vietnam time, points with the reader's decimal mark, levels by name.
import { lang, t } from "./i18n.js";
import { h } from "./dom.js";

const VIETNAM = "Asia/Ho_Chi_Minh";

function locale() {
  return lang === "en" ? "en-GB" : "vi-VN";
}

/** An RFC 3339 instant as a date and time in Vietnam. */
export function dateTime(iso) {
  if (!iso) return t("none");
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(), {
    timeZone: VIETNAM,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  }).format(when);
}

/** A calendar date (YYYY-MM-DD, already a Vietnamese day) as the reader writes it. */
export function day(iso) {
  if (!iso) return t("none");
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!match) return iso;
  const [, y, m, d] = match;
  return lang === "en" ? `${d}/${m}/${y}` : `${d}/${m}/${y}`;
}

/** Points given as "82.50" or 82, shown with two decimals. */
export function points(value) {
  if (value === null || value === undefined || value === "") return t("none");
  const number = Number(value);
  if (Number.isNaN(number)) return String(value);
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(number);
}

export function count(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

export function levelName(code) {
  return code ? t(`level.${code}`) : t("level.none");
}

/** A level as its code in a coloured badge and its full name. */
export function level(code) {
  if (!code) return h("span", { class: "level level-none" }, t("level.none"));
  return h(
    "span",
    { class: `level level-${code}`, title: levelName(code) },
    h("span", { class: "level-code" }, code),
    " ",
    h("span", { class: "level-name" }, levelName(code)),
  );
}

export function actLabel(type) {
  const key = `act.${type}`;
  const text = t(key);
  return text === key ? type : text;
}

export function shortHash(hex, n = 12) {
  return hex ? `${hex.slice(0, n)}…` : t("none");
}

/** A text from a statement: a plain string, or a sealed one as the API opened it
 * (`{sealed, text}` — or, erased or withheld, `{sealed, text: null, notice_vi, notice_en}`). */
export function text(value) {
  if (value === null || value === undefined) return t("none");
  if (typeof value === "string") return value;
  if (typeof value === "object" && "sealed" in value) {
    if (typeof value.text === "string") return value.text;
    const notice = lang === "en" ? value.notice_en : value.notice_vi;
    return h("em", { class: "erased", title: value.sealed }, notice || t("text.withheld"));
  }
  return JSON.stringify(value);
}

/** The same as plain text (for comparisons and sorting). */
export function plain(value) {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "sealed" in value) return value.text ?? "";
  return value === null || value === undefined ? "" : JSON.stringify(value);
}

/** A group of the roster by name: the known ones in words, any other as given. */
export function groupName(slug) {
  const key = `group.${slug}`;
  const text = t(key);
  return text === key ? String(slug) : text;
}

const regimes = new Map(); // "id@version" → profile, once /v1/regimes answered

export function knowRegimes(list) {
  for (const r of list || []) regimes.set(`${r.id}@${r.version}`, r.profile);
}

/** A regime by its title in the reader's language (id and version in words after). */
export function regimeName(pin) {
  if (!pin) return t("none");
  const profile = regimes.get(`${pin.id}@${pin.version}`);
  const title = profile ? (lang === "en" ? profile.title_en : profile.title_vi) : null;
  const version = t("regime.version", { id: pin.id, v: pin.version });
  return title ? `${title} (${version})` : version;
}
