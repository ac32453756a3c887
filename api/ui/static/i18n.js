// Vietnamese by default; English when asked (?lang=en, or the switch), remembered in
// this browser's localStorage. Pages re-render in place when the language changes.
import { TEXT } from "./texts.js";

const KEY = "cadreledger.lang";
const listeners = [];

export let lang = initial();

function initial() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "vi" || asked === "en") {
    remember(asked);
    return asked;
  }
  try {
    return localStorage.getItem(KEY) === "en" ? "en" : "vi";
  } catch {
    return "vi";
  }
}

function remember(value) {
  try {
    localStorage.setItem(KEY, value);
  } catch {
    // Private windows may refuse storage: the choice then lasts for this page only.
  }
}

/** The label `key` in the current language, with {name} replaced from `vars`. */
export function t(key, vars = {}) {
  const entry = TEXT[key];
  const text = entry ? entry[lang === "en" ? 1 : 0] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function has(key) {
  return key in TEXT;
}

export function setLang(value) {
  lang = value === "en" ? "en" : "vi";
  remember(lang);
  const url = new URL(location.href);
  if (url.searchParams.has("lang")) {
    url.searchParams.delete("lang");
    history.replaceState(history.state, "", url);
  }
  applyStatic();
  for (const listener of listeners) listener();
}

export function onLanguage(listener) {
  listeners.push(listener);
}

/** Fill every element marked data-i18n (its text) or data-i18n-ATTR (an attribute). */
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.getAttribute("data-i18n"));
  for (const attr of ["title", "placeholder", "aria-label"]) {
    const data = `data-i18n-${attr}`;
    for (const el of root.querySelectorAll(`[${data}]`)) el.setAttribute(attr, t(el.getAttribute(data)));
  }
}
