// Sign in (đăng nhập): a token into the HttpOnly session cookie, and back to the page
// that asked; or sign out.
import { h, byId, clear } from "./dom.js";
import { t } from "./i18n.js";
import { request, getJSON, ApiError, problemText } from "./api.js";
import { startPage, param } from "./header.js";
import { notice } from "./widgets.js";

const state = { message: null, kind: "info", session: undefined };

// Only a page of this UI: never an address elsewhere (an open redirect).
function next() {
  const wanted = param("next") || "/ui/";
  return wanted.startsWith("/ui/") && !wanted.startsWith("//") ? wanted : "/ui/";
}

async function whoami() {
  try {
    state.session = await getJSON("/v1/auth/whoami", { quiet: true });
  } catch (e) {
    state.session = e instanceof ApiError && e.status === 404 ? "off" : null;
  }
  render();
}

async function signIn(event) {
  event.preventDefault();
  const token = byId("token").value.trim();
  if (!token) return;
  try {
    const who = await request("/v1/auth/session", { method: "POST", body: { token }, quiet: true });
    state.message = t("lg.welcome", { name: who.person });
    state.kind = "info";
    render();
    location.assign(next());
  } catch (e) {
    state.message = e instanceof ApiError && e.status === 404 ? t("lg.off") : t("lg.bad", { detail: problemText(e) });
    state.kind = "error";
    render();
  }
}

async function signOut() {
  try {
    await request("/v1/auth/session", { method: "DELETE", quiet: true });
    state.message = t("lg.signedOut");
    state.kind = "info";
    state.session = null;
  } catch (e) {
    state.message = problemText(e);
    state.kind = "error";
  }
  render();
}

// Built once, then only updated: the page is rendered again when its session check
// answers or the language changes, and a form built anew then would take the focus
// from the token field, or lose a click begun on the old button (a mouse-down on one,
// the mouse-up on the other). What the check says goes below the form, so that the
// button does not move under a click either.
let view = null;

function build() {
  const title = h("h1", {});
  const session = h("div", {});
  const intro = h("p", { class: "hint" });
  const label = h("label", { for: "token" });
  const token = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  const button = h("button", { type: "submit", id: "sign-in" });
  const form = h("form", { class: "login", onsubmit: signIn }, label, token, h("div", {}, button));
  const message = h("div", {});
  clear(byId("main")).append(h("section", { class: "card" }, title, intro, form, session, message));
  return { title, session, intro, label, button, message };
}

function render() {
  document.title = `${t("title.login")} — ${t("app.name")}`;
  view ??= build();
  view.title.textContent = t("title.login");
  view.intro.textContent = t("lg.intro");
  view.label.textContent = t("lg.token");
  view.button.textContent = t("lg.submit");
  clear(view.session);
  if (state.session === "off") view.session.append(notice(t("lg.off")));
  if (state.session && state.session !== "off") {
    view.session.append(
      h("p", {}, t("nav.signedIn", { name: state.session.name || state.session.person })),
      h("button", { type: "button", id: "sign-out", onclick: signOut }, t("lg.signOut")),
    );
  }
  // (Element.append writes a null as the text "null": only a message that exists.)
  clear(view.message);
  if (state.message) view.message.append(notice(state.message, state.kind));
}

startPage("session", render);
whoami();
