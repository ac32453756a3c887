// The JSON API under /v1, as this browser's signed-in person (the session cookie).
import { lang, t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** GET (or another method) `path`; JSON back unless `text`. A 401 sends the reader to
 * the sign-in page and back here afterwards, unless `quiet`.
 * @param {string} path
 * @param {{method?: string, body?: any, text?: boolean, quiet?: boolean}} [options] */
export async function request(path, { method = "GET", body, text = false, quiet = false } = {}) {
  const headers = { accept: text ? "text/plain" : "application/json", "accept-language": lang };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  for (let attempt = 0; ; attempt++) {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // Rate-limited: wait as long as the service asks (the replay checks hundreds of
    // proofs, and would rather go slower than fail).
    if (response.status !== 429 || attempt >= 5) break;
    const wait = Math.min(30, Number(response.headers.get("retry-after")) || 1);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    if (response.status === 401 && !quiet) {
      const back = location.pathname + location.search;
      location.assign(`/ui/login.html?next=${encodeURIComponent(back)}`);
    }
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  return text ? response.text() : response.json();
}

export const getJSON = (path, options) => request(path, options);
export const getText = (path) => request(path, { text: true });

/** A refusal in words, in the reader's language (RFC 9457 detail_vi / detail_en). */
export function problemText(error) {
  if (error instanceof ApiError) {
    if (error.status === 403) return t("error.forbidden");
    const p = error.problem || {};
    return (lang === "en" ? p.detail_en : p.detail_vi) || p.detail || p.title || error.message;
  }
  return error?.message || String(error);
}

export function forbidden(error) {
  return error instanceof ApiError && error.status === 403;
}

/** Names of people (the registry's), fetched once each. */
const names = new Map();
export function personName(id) {
  if (!names.has(id)) {
    names.set(
      id,
      getJSON(`/v1/people/${encodeURIComponent(id)}`, { quiet: true })
        .then((p) => p.name || id)
        .catch(() => id),
    );
  }
  return names.get(id);
}

export function cycleUrl(cycle, suffix = "", params = {}) {
  const query = new URLSearchParams(params).toString();
  return `/v1/cycles/${encodeURIComponent(cycle)}${suffix}${query ? `?${query}` : ""}`;
}

/** Every item of a paged list (`limit`, `after`, `next`: api/paging.py). */
export async function getAll(path, key) {
  const items = [];
  let after = null;
  let first = null;
  for (;;) {
    const url = new URL(path, location.origin);
    url.searchParams.set("limit", "1000");
    if (after !== null) url.searchParams.set("after", String(after));
    const page = await getJSON(url.pathname + url.search);
    first ??= page;
    items.push(...page[key]);
    if (page.next === null || page.next === undefined) break;
    after = page.next;
  }
  return { ...first, [key]: items, next: null };
}
