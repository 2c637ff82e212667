// The tap-webhooks inspector: polls the JSON API under /api/ and shows what it says.
// Everything from the API is written as text (textContent), never parsed as HTML: a webhook
// body holding markup is shown, not run.
"use strict";

(function () {
  const POLL_MS = 1000;
  const HIDDEN_POLL_MS = 10000;
  const SLOW_EVERY = 3; // streams every 3 polls
  const TOKENS_EVERY = 10;
  const MAX_ROWS = 200;

  const state = {
    token: null,
    newestDelivery: null,
    newestRefusal: 0,
    deliveries: [],
    refusals: [],
    polls: 0,
    lastOk: 0,
    selected: null,
    loginShown: false,
    polling: false,
  };

  // --- small helpers -------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  // An element with attributes and children; strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function bytes(n) {
    if (n === null || n === undefined) return "–";
    if (n < 1000) return n + " B";
    if (n < 1e6) return (n / 1e3).toFixed(1) + " KB";
    if (n < 1e9) return (n / 1e6).toFixed(1) + " MB";
    return (n / 1e9).toFixed(2) + " GB";
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
    return Math.floor(seconds / 86400) + " d " + Math.floor((seconds % 86400) / 3600) + " h";
  }

  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "–";
    const pad = (n, w) => String(n).padStart(w || 2, "0");
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  // A table cell with the time of day; its milliseconds are hidden in a narrow window.
  function timeCell(iso) {
    const text = clock(iso);
    return el("td", { class: "mono", title: new Date(iso).toLocaleString() },
      text.slice(0, 8), el("span", { class: "ms", text: text.slice(8) }));
  }

  function ago(iso) {
    if (!iso) return "never";
    const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
    if (seconds < 1.5) return "just now";
    return duration(seconds) + " ago";
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many || one + "s");
  }

  function replaceChildren(node, children) {
    node.replaceChildren(...children.filter((c) => c));
  }

  // --- the API ---------------------------------------------------------------------------

  class Unauthorized extends Error {}

  async function api(path) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const response = await fetch("/api/" + path, { headers, cache: "no-store" });
    if (response.status === 401) throw new Unauthorized("the ops_token is needed");
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
    return body;
  }

  // --- header ------------------------------------------------------------------------------

  function showStatus(s) {
    $("tap-name").textContent = s.name;
    document.title = s.name + " · tap-webhooks inspector";
    $("tap-version").textContent = "tap-webhooks " + s.version + " · " + s.mode;
    $("ready-dot").className = "dot " + (s.ready ? "ok" : "bad");
    $("fact-ready").textContent = s.ready ? "ready" : "not ready: " + s.not_ready;
    $("fact-ready").className = s.ready ? "" : "error";
    $("fact-uptime").textContent = duration(s.uptime_seconds);
    const journal = s.journal;
    $("fact-journal").textContent =
      journal.kind + " · " + (journal.bytes === null ? "size unknown" : bytes(journal.bytes));
    $("fact-journal").title = journal.error || "";
    const emitter = s.emitter;
    $("fact-bookmark").textContent = emitter.bookmark ? clock(nanosToIso(emitter.bookmark)) : "none yet";
    $("fact-bookmark").title = emitter.bookmark
      ? "sequence " + emitter.bookmark + " (" + emitter.bookmark_of + ")"
      : emitter.bookmark_of;
    $("fact-lag").textContent = emitter.lag_seconds < 0.5 ? "caught up" : duration(emitter.lag_seconds);
    $("fact-counts").textContent =
      plural(s.deliveries_total, "delivery", "deliveries") + " · " + plural(s.refusals_total, "refusal");
  }

  // A sequence is nanoseconds since 1970, as a string (too large for a number).
  function nanosToIso(sequence) {
    const millis = Number(sequence.slice(0, -6));
    return new Date(millis).toISOString();
  }

  function showLive(ok, message) {
    const live = $("live");
    if (ok) {
      state.lastOk = Date.now();
      live.textContent = document.hidden ? "live (slowed: tab hidden)" : "live";
      live.className = "live ok";
    } else {
      live.textContent = message;
      live.className = "live bad";
    }
  }

  // --- streams ---------------------------------------------------------------------------

  function sparkline(rate) {
    const points = rate.points || [];
    const width = 180;
    const height = 32;
    // Scaled to the busiest step: the label beside it gives the numbers.
    const max = Math.max(0.001, ...points);
    const step = width / Math.max(1, points.length);
    const box = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "spark", role: "img" });
    const peak = Math.max(...points, 0);
    box.setAttribute("aria-label", "records per second, last " + Math.round((points.length * rate.step_seconds) / 60) + " minutes; peak " + peak.toFixed(1));
    box.append(svg("line", { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: "base" }));
    points.forEach((p, i) => {
      if (p <= 0) return;
      const h = Math.max(1.5, (p / max) * (height - 2));
      box.append(svg("rect", { x: i * step + 0.5, y: height - h, width: Math.max(1, step - 1), height: h, class: "bar" }));
    });
    const title = svg("title", {});
    title.textContent = "peak " + peak.toFixed(1) + " records/s over " + rate.step_seconds + " s";
    box.append(title);
    return box;
  }

  // Most recently active first; streams with nothing yet last.
  function byActivity(a, b) {
    const at = (s) => (s.last_delivery_at ? new Date(s.last_delivery_at).getTime() : 0);
    return at(b) - at(a) || a.name.localeCompare(b.name);
  }

  function showStreams(body) {
    const cards = body.streams.slice().sort(byActivity).map((s) => {
      const columns = s.columns || [];
      const provider = columns.filter((c) => !c.name.startsWith("_"));
      const tap = columns.filter((c) => c.name.startsWith("_"));
      const recent = Math.round(s.rate.points.reduce((a, b) => a + b, 0) * s.rate.step_seconds);
      const minutes = Math.round((s.rate.points.length * s.rate.step_seconds) / 60);
      return el("article", { class: "stream" },
        el("div", { class: "stream-head" },
          el("h3", { text: s.name }),
          el("span", { class: "count", text: plural(s.records, "record"), title: plural(s.deliveries, "delivery", "deliveries") + " since the tap started" })),
        el("div", { class: "stream-rate" },
          sparkline(s.rate),
          el("span", { class: "muted", text: recent + " in " + minutes + " min" })),
        el("p", { class: "muted small", text: "last delivery " + ago(s.last_delivery_at) }),
        el("details", { class: "columns" },
          el("summary", { text: plural(provider.length, "column") + (tap.length ? " + " + tap.length + " of the tap" : "") }),
          columns.length === 0
            ? el("p", { class: "muted small", text: "No column yet: a sync declares them as records are emitted." })
            : el("table", { class: "cols" },
              el("tbody", {}, ...columns.map((c) =>
                el("tr", { class: c.name.startsWith("_") ? "sdc" : "" },
                  el("td", { class: "mono" }, c.name, (s.key_properties || []).includes(c.name) ? el("span", { class: "key", text: "key" }) : null),
                  el("td", { class: "type", text: c.type })))))));
    });
    if (cards.length === 0) cards.push(el("p", { class: "empty", text: "No stream yet." }));
    const open = new Set([...document.querySelectorAll("#streams details[open]")].map((d) => d.closest(".stream").querySelector("h3").textContent));
    replaceChildren($("streams"), cards);
    for (const card of $("streams").querySelectorAll(".stream")) {
      if (open.has(card.querySelector("h3").textContent)) card.querySelector("details").open = true;
    }
  }

  // --- deliveries and refusals -------------------------------------------------------------

  function deliveryRow(d) {
    const stream = d.other_streams > 0 ? d.stream + " +" + d.other_streams : d.stream;
    const row = el("tr", { class: "clickable", tabindex: 0, "data-sequence": d.sequence, title: "sequence " + d.sequence },
      timeCell(d.received_at),
      el("td", {}, el("span", { class: "tag", text: stream })),
      el("td", { class: "num", text: d.records }),
      el("td", { class: "num", text: bytes(d.bytes) }),
      el("td", { class: "wide muted", text: d.content_type || "–" }),
      el("td", { class: "mono id", text: d.delivery_id || "–" }),
      el("td", { class: "wide mono muted", text: d.token_id || "–" }));
    const open = () => openDelivery(d);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
    if (state.selected === d.sequence) row.classList.add("selected");
    return row;
  }

  function refusalRow(r) {
    return el("tr", { class: "status-" + Math.floor(r.status / 100) + "xx" },
      timeCell(r.at),
      el("td", { class: "num" }, el("span", { class: "status", text: r.status })),
      el("td", { class: "reason", text: r.reason }),
      el("td", { class: "wide mono muted", text: r.remote_addr || "–" }),
      el("td", { class: "wide mono muted", text: r.token_id || "–" }),
      el("td", { class: "mono prefix", text: r.body_prefix === null ? (r.body_bytes === null ? "not read" : bytes(r.body_bytes) + " (hidden)") : r.body_prefix, title: r.body_bytes === null ? "" : bytes(r.body_bytes) }));
  }

  function merge(list, fresh, key) {
    const seen = new Set(list.map(key));
    const added = fresh.filter((item) => !seen.has(key(item)));
    return { list: added.concat(list).slice(0, MAX_ROWS), added: added.length };
  }

  function showDeliveries(fresh) {
    const merged = merge(state.deliveries, fresh, (d) => d.sequence);
    // Rows are rebuilt only when something came: a row being clicked stays put.
    if (merged.added === 0 && state.polls > 1) return;
    state.deliveries = merged.list;
    if (state.deliveries.length) state.newestDelivery = state.deliveries[0].sequence;
    const body = $("deliveries").tBodies[0];
    const rows = state.deliveries.map(deliveryRow);
    rows.slice(0, merged.added).forEach((r) => r.classList.add("fresh"));
    if (state.polls > 1) rows.slice(0, merged.added).forEach((r) => r.classList.add("flash"));
    replaceChildren(body, rows);
    $("deliveries-empty").hidden = state.deliveries.length > 0;
  }

  function showRefusals(fresh) {
    const merged = merge(state.refusals, fresh, (r) => r.id);
    if (merged.added === 0 && state.polls > 1) return;
    state.refusals = merged.list;
    if (state.refusals.length) state.newestRefusal = state.refusals[0].id;
    const rows = state.refusals.map(refusalRow);
    if (state.polls > 1) rows.slice(0, merged.added).forEach((r) => r.classList.add("flash"));
    replaceChildren($("refusals").tBodies[0], rows);
    $("refusals-empty").hidden = state.refusals.length > 0;
  }

  function showTokens(body) {
    const rows = body.tokens.map((t) =>
      el("tr", {},
        el("td", { class: "mono", text: t.id }),
        el("td", { text: t.created_at ? new Date(t.created_at).toLocaleString() : "(config)" }),
        el("td", { text: t.last_used_at ? ago(t.last_used_at) : "never" })));
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 3, class: "muted", text: "No active webhook URL: tap-webhooks token new makes one." })));
    replaceChildren($("tokens").tBodies[0], rows);
  }

  // --- one delivery ------------------------------------------------------------------------

  async function openDelivery(d) {
    state.selected = d.sequence;
    for (const row of document.querySelectorAll("#deliveries tr.selected")) row.classList.remove("selected");
    const row = document.querySelector('#deliveries tr[data-sequence="' + d.sequence + '"]');
    if (row) row.classList.add("selected");
    $("detail").hidden = false;
    document.body.classList.add("with-detail");
    $("detail-title").textContent = d.stream + " · " + plural(d.records, "record");
    replaceChildren($("detail-body"), [el("p", { class: "muted", text: "Reading it back from the journal…" })]);
    try {
      const detail = await api("deliveries/" + encodeURIComponent(d.sequence));
      if (state.selected === d.sequence) showDetail(detail);
    } catch (e) {
      if (state.selected === d.sequence) replaceChildren($("detail-body"), [el("p", { class: "error", text: e.message })]);
    }
  }

  function closeDelivery() {
    state.selected = null;
    $("detail").hidden = true;
    document.body.classList.remove("with-detail");
    for (const row of document.querySelectorAll("#deliveries tr.selected")) row.classList.remove("selected");
  }

  function showDetail(detail) {
    const facts = el("dl", { class: "kv" },
      el("dt", { text: "received" }), el("dd", { class: "mono", text: new Date(detail.received_at).toLocaleString() + " (" + ago(detail.received_at) + ")" }),
      el("dt", { text: "sequence" }), el("dd", { class: "mono", text: detail.sequence }),
      el("dt", { text: "size" }), el("dd", { text: bytes(detail.bytes) + " · " + plural(detail.records, "record") }),
      detail.path_name ? el("dt", { text: "path name" }) : null,
      detail.path_name ? el("dd", { class: "mono", text: detail.path_name }) : null,
      detail.query ? el("dt", { text: "query" }) : null,
      detail.query ? el("dd", { class: "mono", text: detail.query }) : null);
    const headers = el("table", { class: "headers" },
      el("tbody", {}, ...detail.headers.map((h) =>
        el("tr", {}, el("th", { class: "mono", text: h.name }), el("td", { class: "mono", text: h.value })))));
    const parts = [
      facts,
      el("h3", { text: "Headers" }),
      headers,
      el("p", { class: "hint", text: "Credentials (Authorization, cookies, signatures, tokens) are never kept: one that was sent shows as <redacted: N bytes>." }),
    ];
    if (detail.bodies_hidden) {
      parts.push(el("p", { class: "notice", text: "Bodies are hidden: inspect_bodies is false in the tap's config." }));
    } else {
      const body = detail.body;
      parts.push(el("h3", {}, "Body ", el("span", { class: "hint", text: body.format === "json" ? "JSON, indented" : "as sent" })));
      parts.push(el("pre", { class: "code body", text: body.text }));
      if (body.truncated) parts.push(el("p", { class: "notice", text: "Cut at 64 KB: the journal holds all " + bytes(detail.bytes) + "." }));
      const converted = detail.converted;
      parts.push(el("h3", {}, "Records it became ", el("span", { class: "hint", text: converted.total > converted.shown.length ? "first " + converted.shown.length + " of " + converted.total : plural(converted.total, "record") })));
      if (converted.error) parts.push(el("p", { class: "error", text: "It cannot be converted under the current settings: " + converted.error }));
      for (const r of converted.shown) {
        parts.push(el("div", { class: "record" },
          el("div", { class: "record-head" }, el("span", { class: "tag", text: r.stream }), el("span", { class: "muted", text: "record " + (r.index + 1) })),
          el("pre", { class: "code", text: r.record })));
      }
    }
    replaceChildren($("detail-body"), parts);
  }

  // --- the poll loop -------------------------------------------------------------------------

  async function poll() {
    if (state.polling) return;
    state.polling = true;
    state.polls += 1;
    try {
      const after = state.newestDelivery ? "?after=" + state.newestDelivery : "?limit=100";
      const [status, deliveries, refusals] = await Promise.all([
        api("status"),
        api("deliveries" + after),
        api("refusals?after=" + state.newestRefusal + "&limit=100"),
      ]);
      showStatus(status);
      showDeliveries(deliveries.deliveries);
      showRefusals(refusals.refusals);
      if (state.polls % SLOW_EVERY === 1) showStreams(await api("streams"));
      if (state.polls % TOKENS_EVERY === 1) showTokens(await api("tokens"));
      hideLogin();
      showLive(true);
    } catch (e) {
      if (e instanceof Unauthorized) {
        showLogin(state.token ? "That is not the ops_token." : "");
        showLive(false, "needs the ops_token");
        return; // Polling resumes once a token is given.
      }
      showLive(false, "cannot reach the tap: " + e.message);
    } finally {
      state.polling = false;
    }
    schedule();
  }

  let timer = null;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }

  function showLogin(message) {
    state.loginShown = true;
    $("login").hidden = false;
    $("main").classList.add("locked");
    $("login-error").textContent = message;
    $("login-token").focus();
  }

  function hideLogin() {
    if (!state.loginShown) return;
    state.loginShown = false;
    $("login").hidden = true;
    $("main").classList.remove("locked");
  }

  function start() {
    // `#token=...` in the address gives the ops_token; it is kept for this tab only.
    const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fromHash) {
      sessionStorage.setItem("ops_token", fromHash);
      history.replaceState(null, "", location.pathname + location.search);
    }
    state.token = sessionStorage.getItem("ops_token");
    $("login-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $("login-token");
      state.token = input.value.trim();
      input.value = "";
      sessionStorage.setItem("ops_token", state.token);
      poll();
    });
    $("detail-close").addEventListener("click", closeDelivery);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeDelivery(); });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
    setInterval(() => {
      if (state.lastOk && Date.now() - state.lastOk > 5000 && !document.hidden) showLive(false, "no answer for " + duration((Date.now() - state.lastOk) / 1000));
    }, 1000);
    poll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
