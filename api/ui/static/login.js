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

function tokenInput(typed) {
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  input.value = typed; // a property, so that the token never becomes an attribute of the page
  return input;
}

function render() {
  // The page renders again when the session check answers or the language changes:
  // what was typed by then must survive it.
  const typed = byId("token")?.value ?? "";
  const main = clear(byId("main"));
  document.title = `${t("title.login")} — ${t("app.name")}`;
  const card = h("section", { class: "card" }, h("h1", {}, t("title.login")));
  if (state.session === "off") card.append(notice(t("lg.off")));
  if (state.session && state.session !== "off") {
    card.append(
      h("p", {}, t("nav.signedIn", { name: state.session.name || state.session.person })),
      h("button", { type: "button", id: "sign-out", onclick: signOut }, t("lg.signOut")),
    );
  }
  card.append(
    h("p", { class: "hint" }, t("lg.intro")),
    h(
      "form",
      { class: "login", onsubmit: signIn },
      h("label", { for: "token" }, t("lg.token")),
      tokenInput(typed),
      h("div", {}, h("button", { type: "submit", id: "sign-in" }, t("lg.submit"))),
    ),
  );
  // (Element.append writes a null as the text "null": only a message that exists.)
  if (state.message) card.append(notice(state.message, state.kind));
  main.append(card);
}

startPage("session", render);
whoami();
