// RegSync's status page: loads server-rendered fragments (ui/matrix, ui/cell, ui/plan) and calls the API
// (approve, sync) with the function key (and, on the local stack, the principal) as headers. Every
// fragment is HTML the server escaped; this script adds no markup of its own from data.
"use strict";

(() => {
  const API = new URL("../../", document.currentScript.src); // .../api/
  const POLL_MS = 10000;
  const KEY = "regsync.key";
  const PRINCIPAL = "regsync.principal";
  const FILTERS = ["tenant", "workspace", "kind", "state", "search", "after"];
  const $ = (id) => document.getElementById(id);
  let filters = new URLSearchParams();
  let openCell = null; // the query of the cell whose detail is shown
  let timer = null;

  function headers(json) {
    const sent = { "x-functions-key": sessionStorage.getItem(KEY) || "" };
    const principal = sessionStorage.getItem(PRINCIPAL);
    if (principal) sent["X-MS-CLIENT-PRINCIPAL"] = principal;
    if (json) sent["Content-Type"] = "application/json";
    return sent;
  }

  async function call(path, body) {
    const options = { headers: headers(body !== undefined), cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) Object.assign(options, { method: "POST", body: JSON.stringify(body) });
    const response = await fetch(new URL(path, API), options);
    const text = await response.text();
    if (response.status === 401) {
      signIn("Sign in: the key or the principal was not accepted.");
      throw new Error("not signed in");
    }
    if (!response.ok) throw new Error(reason(text, response.status));
    return text;
  }

  function reason(text, status) {
    try {
      return JSON.parse(text).error.message;
    } catch {
      return `the app answered ${status}`;
    }
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html; // server-escaped; scripts in a template never run, and the CSP forbids inline ones
    return template.content;
  }

  function say(text) {
    $("notice").textContent = text;
  }

  function complain(error) {
    $("problem").textContent = error.message === "not signed in" ? "" : error.message;
  }

  function signIn(message) {
    $("sign-in").hidden = false;
    $("matrix").replaceChildren();
    for (const id of ["detail", "plan"]) $(id).hidden = true;
    for (const id of ["refresh", "sign-out"]) $(id).hidden = true;
    $("problem").textContent = message || "";
    $("key").focus();
  }

  async function loadMatrix(wholly) {
    const query = new URLSearchParams();
    for (const name of FILTERS) if (filters.get(name)) query.set(name, filters.get(name));
    const fragment = parse(await call(`ui/matrix?${query}`));
    if (wholly || !$("grid")) {
      $("matrix").replaceChildren(fragment);
    } else {
      // A refresh keeps where the person is: the focused cell and the matrix's scroll position.
      const active = document.activeElement;
      const cell = $("grid").contains(active) && active.classList.contains("cell") ? active : null;
      const where = cell && [cell.closest("tr").dataset.asset, cell.dataset.target];
      const scrolled = $("grid").querySelector(".scroll");
      const [left, top] = scrolled ? [scrolled.scrollLeft, scrolled.scrollTop] : [0, 0];
      $("grid").replaceWith(fragment.getElementById("grid"));
      const scroll = $("grid").querySelector(".scroll");
      if (scroll) Object.assign(scroll, { scrollLeft: left, scrollTop: top });
      if (where) {
        const selector = `tr[data-asset="${CSS.escape(where[0])}"] button.cell[data-target="${CSS.escape(where[1])}"]`;
        $("grid").querySelector(selector)?.focus();
      }
    }
    $("problem").textContent = "";
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  async function loadDetail(query) {
    openCell = query;
    const panel = $("detail");
    panel.replaceChildren(parse(await call(`ui/cell?${query}`)));
    panel.hidden = false;
  }

  async function refresh(polled) {
    clearTimeout(timer);
    try {
      await loadMatrix(false);
      const panel = $("detail");
      // A poll leaves the panel alone while the keyboard is on one of its controls (it would lose focus).
      const inside = panel.contains(document.activeElement) && document.activeElement !== panel;
      if (openCell && !panel.hidden && !(polled && inside)) await loadDetail(openCell);
    } catch (error) {
      complain(error);
    }
    if (sessionStorage.getItem(KEY)) timer = setTimeout(poll, POLL_MS);
  }

  function poll() {
    if (document.hidden) timer = setTimeout(poll, POLL_MS);
    else refresh(true);
  }

  async function show(query, wholly) {
    filters = query;
    const shown = query.toString();
    history.replaceState(null, "", shown ? `?${shown}` : location.pathname);
    try {
      await loadMatrix(wholly);
    } catch (error) {
      complain(error);
      $("matrix").replaceChildren();
    }
  }

  function scopeOf(button) {
    const scope = { scope: button.dataset.scope };
    if (button.dataset.tenant) scope.tenant = button.dataset.tenant;
    if (button.dataset.workspace) scope.workspace = button.dataset.workspace;
    return scope;
  }

  async function act(button) {
    const action = button.dataset.action;
    if (action === "next" || action === "first") {
      const query = new URLSearchParams(filters);
      if (action === "next") query.set("after", button.dataset.after);
      else query.delete("after");
      await show(query, false);
      $("grid").querySelector(".scroll, #empty")?.focus();
    } else if (action === "clear") {
      await show(new URLSearchParams(), true);
    } else if (action === "close") {
      $(button.dataset.panel).hidden = true;
      if (button.dataset.panel === "detail") openCell = null;
    } else if (action === "plan") {
      const panel = $("plan");
      panel.replaceChildren(parse(await call(`ui/plan?${new URLSearchParams(scopeOf(button))}`)));
      panel.hidden = false;
      panel.focus();
    } else if (action === "sync") {
      const scope = scopeOf(button);
      if (!confirm(`Sync ${scope.scope} ${scope.workspace || scope.tenant || ""} now?`)) return;
      const reply = JSON.parse(await call("sync", scope));
      const done = reply.scheduled !== undefined ? `${reply.scheduled} reconcile messages queued` : `${reply.outcomes.length} outcomes`;
      say(`Sync of ${reply.scope}: ${done} (correlation ${reply.correlation_id}).`);
      await refresh(false);
    } else if (action === "approve") {
      const d = button.dataset;
      const what = `${d.kind} ${d.name}:${d.version} to ${d.workspace}`;
      if (!confirm(`Approve the push of ${what}?`)) return;
      const body = { workspace: d.workspace, kind: d.kind, name: d.name, version: d.version };
      const reply = JSON.parse(await call("approve", body));
      say(`Approved ${what}: ${reply.outcome.status} (${reply.outcome.reason}).`);
      await refresh(false);
    }
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    try {
      if (button.classList.contains("cell")) {
        const asset = button.closest("tr").dataset;
        const cell = { kind: asset.kind, name: asset.name, version: asset.version, target: button.dataset.target };
        await loadDetail(new URLSearchParams(cell));
        $("detail").focus();
      } else if (button.dataset.action) {
        await act(button);
      }
    } catch (error) {
      complain(error);
    }
  });

  document.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (form.id === "sign-in") {
      sessionStorage.setItem(KEY, form.elements.key.value);
      const principal = form.elements.principal.value.trim();
      // A principal may be pasted as its JSON; the header carries it base64-encoded, as App Service does.
      const encoded = principal.startsWith("{") ? btoa(principal) : principal;
      if (encoded) sessionStorage.setItem(PRINCIPAL, encoded);
      else sessionStorage.removeItem(PRINCIPAL);
      form.reset();
      start();
    } else if (form.id === "filters") {
      const query = new URLSearchParams();
      for (const [name, value] of new FormData(form)) if (value) query.set(name, String(value));
      await show(query, true);
      $("filters")?.querySelector("button[type=submit]").focus();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("detail").hidden) {
      $("detail").hidden = true;
      openCell = null;
    }
  });

  $("refresh").addEventListener("click", () => refresh(false));
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(PRINCIPAL);
    clearTimeout(timer);
    signIn("Signed out.");
  });

  async function start() {
    $("sign-in").hidden = true;
    for (const id of ["refresh", "sign-out"]) $(id).hidden = false;
    const query = new URLSearchParams(location.search);
    for (const name of [...query.keys()]) if (!FILTERS.includes(name)) query.delete(name);
    await show(query, true);
    timer = setTimeout(poll, POLL_MS);
  }

  if (sessionStorage.getItem(KEY)) start();
  else signIn("");
})();
