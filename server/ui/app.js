// smp web UI: one page routed by the URL fragment (#/runs, #/run/ID,
// #/compare, #/profiles). It talks only to this server's /api/v1/ and
// builds every element with textContent, never HTML from data.
"use strict";

const main = document.getElementById("main");
let info = {demo: ""};
let stream = null; // the EventSource of the run page, closed on leaving it

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k == null) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

const svgNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

async function api(method, path, body) {
  const opt = {method, headers: {}};
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const r = await fetch("/api/v1/" + path, opt);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = {error: text}; }
  if (!r.ok) {
    const msg = (data && data.error) || r.statusText;
    throw new Error(msg + (data && data.field ? " [" + data.field + "]" : ""));
  }
  return data;
}

function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.style.display = "block";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.style.display = "none"; }, 4000);
}

const fmt = (v, d = 2) => (v == null || isNaN(v)) ? "–" : Number(v).toFixed(d);
const when = (t) => t ? new Date(t).toLocaleString() : "";
const state = (st) => h("span", {class: "state " + st, "data-state": st}, st);
const labels = (ls) => h("span", {class: "labels"}, Object.entries(ls || {}).map(([k, v]) => h("span", {}, k + "=" + v)));

function route() {
  if (stream) { stream.close(); stream = null; }
  const hash = location.hash || "#/runs";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("on", hash.startsWith(a.getAttribute("href")));
  main.replaceChildren();
  const page = {runs: runsPage, run: runPage, compare: comparePage, profiles: profilesPage}[parts[0]] || runsPage;
  page(parts[1], params).catch((e) => main.append(h("p", {class: "err", id: "page-error"}, String(e.message || e))));
}

// Runs: the list with filters, selection for a comparison, and import.
async function runsPage(_, params) {
  const form = h("form", {class: "row card", id: "filters"},
    h("label", {}, "label (k=v, comma-separated)", h("input", {name: "label", value: params.get("label") || "", placeholder: "mesh=istio"})),
    h("label", {}, "since", h("select", {name: "since"}, ["", "1h", "24h", "168h", "720h"].map((v) =>
      h("option", {value: v, selected: params.get("since") === v}, {"": "any time", "1h": "last hour", "24h": "last day", "168h": "last week", "720h": "last 30 days"}[v])))),
    h("label", {}, "state", h("select", {name: "state"}, ["", "running", "done", "failed", "cancelled", "partial"].map((v) =>
      h("option", {value: v, selected: params.get("state") === v}, v || "any")))),
    h("button", {type: "submit"}, "Filter"),
    h("label", {}, "import SMP, Fortio or Meshery JSON/YAML", h("input", {type: "file", id: "import", onchange: importFile})));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v && k !== "import") q.set(k, v);
    location.hash = "#/runs?" + q;
  });
  main.append(h("h1", {}, "Runs"), form);
  const q = new URLSearchParams();
  for (const l of (params.get("label") || "").split(",").map((x) => x.trim()).filter(Boolean)) q.append("label", l);
  for (const k of ["since", "state"]) if (params.get(k)) q.set(k, params.get(k));
  const data = await api("GET", "runs?" + q);
  const selected = new Set();
  const cmp = h("button", {id: "compare-selected", disabled: true, onclick: () => { location.hash = "#/compare?ids=" + [...selected].join(","); }}, "Compare selected (baseline first)");
  const rows = data.runs.map((r) => h("tr", {"data-id": r.id},
    h("td", {}, h("input", {type: "checkbox", "aria-label": "select " + r.name, onchange: (ev) => {
      if (ev.target.checked) selected.add(r.id); else selected.delete(r.id);
      cmp.disabled = selected.size < 2;
    }})),
    h("td", {}, h("a", {href: "#/run/" + r.id}, r.name || r.id)),
    h("td", {}, state(r.state), r.partial ? " partial" : ""),
    h("td", {}, when(r.created)),
    h("td", {}, r.endpoint),
    h("td", {class: "num"}, fmt(r.actual_qps, 1)),
    h("td", {class: "num"}, fmt(r.p50_ms, 3)),
    h("td", {class: "num"}, fmt(r.p99_ms, 3)),
    h("td", {class: "num"}, r.errors),
    h("td", {}, labels(r.labels))));
  main.append(h("div", {class: "row"}, cmp, h("span", {class: "muted"}, data.runs.length + " runs")),
    h("table", {id: "runs"}, h("thead", {}, h("tr", {}, ["", "name", "state", "created", "endpoint", "qps", "p50 ms", "p99 ms", "errors", "labels"].map((c, i) => h("th", {class: i >= 5 && i <= 8 ? "num" : ""}, c)))),
      h("tbody", {}, rows)));
  if (!data.runs.length) main.append(h("p", {class: "muted"}, "No runs yet: start one from ", h("a", {href: "#/profiles"}, "New test"), "."));
}

async function importFile(ev) {
  const f = ev.target.files[0];
  if (!f) return;
  try {
    const out = await api("POST", "import?name=" + encodeURIComponent(f.name), await f.text());
    toast("imported " + (out.runs ? out.runs.length + " result(s)" : out.profiles.length + " profile(s)"));
    route();
  } catch (e) { toast(e.message); }
}

// A live line chart of one series per second.
function chart(id, title, unit) {
  const W = 600, H = 180, L = 48, B = 22;
  const svg = s("svg", {class: "live", id, viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", "data-points": "0"});
  const line = s("polyline", {stroke: "#2563eb", points: ""});
  const ymax = s("text", {x: 4, y: 14}, "");
  const xmax = s("text", {x: W - 40, y: H - 6}, "");
  svg.append(s("line", {class: "axis", x1: L, y1: H - B, x2: W, y2: H - B}), s("line", {class: "axis", x1: L, y1: 0, x2: L, y2: H - B}),
    s("text", {x: L + 6, y: 14}, title + " (" + unit + ")"), ymax, xmax, line);
  const pts = [];
  return {el: svg, add(x, y) {
    if (y == null || isNaN(y)) return;
    pts.push([x, y]);
    const mx = Math.max(...pts.map((p) => p[0]), 1), my = Math.max(...pts.map((p) => p[1])) * 1.1 || 1;
    line.setAttribute("points", pts.map(([px, py]) => `${L + (W - L) * px / mx},${(H - B) * (1 - py / my)}`).join(" "));
    ymax.textContent = fmt(my, my < 10 ? 2 : 0);
    xmax.textContent = fmt(mx, 0) + " s";
    svg.setAttribute("data-points", pts.length);
  }};
}

// One run: live figures and charts while it runs, the full report after.
async function runPage(id) {
  const r = await api("GET", "runs/" + encodeURIComponent(id));
  const title = h("h1", {}, r.name || "run " + r.id, " ", state(r.state));
  const msg = h("p", {class: "muted", id: "message"}, r.message || "");
  const figs = {requests: h("b", {id: "fig-requests"}, r.requests), qps: h("b", {id: "fig-qps"}, fmt(r.actual_qps, 1)),
    p50: h("b", {id: "fig-p50"}, fmt(r.p50_ms, 3)), p99: h("b", {id: "fig-p99"}, fmt(r.p99_ms, 3)), errors: h("b", {id: "fig-errors"}, r.errors),
    elapsed: h("b", {id: "fig-elapsed"}, "–")};
  const figure = (k, label) => h("div", {class: "figure"}, figs[k], h("span", {}, label));
  const actions = h("div", {class: "row"});
  main.append(title, h("p", {class: "muted"}, r.endpoint, " · created ", when(r.created), " ", labels(r.labels)), msg,
    h("div", {class: "card figures"}, figure("elapsed", "seconds"), figure("requests", "requests"), figure("qps", "requests/s"),
      figure("p50", "p50 ms"), figure("p99", "p99 ms"), figure("errors", "errors")), actions);
  const qps = chart("chart-qps", "throughput", "req/s"), p99 = chart("chart-p99", "p99 so far", "ms");
  const charts = h("div", {class: "charts"}, qps.el, p99.el);
  main.append(charts);
  for (const sec of r.seconds || []) { qps.add(sec.offset_s, sec.qps); p99.add(sec.offset_s, sec.p99_ms); }
  const finished = (st) => !["queued", "running"].includes(st);
  const showDone = (run) => {
    actions.replaceChildren(
      h("a", {href: "/api/v1/runs/" + run.id + "/export", download: ""}, "SMP JSON"), " · ",
      h("a", {href: "/api/v1/runs/" + run.id + "/export?format=yaml", download: ""}, "SMP YAML"), " · ",
      h("a", {href: "/api/v1/runs/" + run.id + "/export?format=fortio", download: ""}, "Fortio JSON"), " · ",
      h("button", {class: "danger", onclick: async () => { if (confirm("Delete this run?")) { await api("DELETE", "runs/" + run.id); location.hash = "#/runs"; } }}, "Delete"));
    if (run.result) main.append(h("h2", {}, "Report"), h("iframe", {class: "report", id: "report", src: "/api/v1/runs/" + run.id + "/report", title: "report"}));
  };
  if (finished(r.state)) { showDone(r); return; }
  actions.replaceChildren(h("button", {class: "danger", id: "cancel", onclick: () => api("DELETE", "runs/" + r.id).catch((e) => toast(e.message))}, "Cancel"));
  stream = new EventSource("/api/v1/runs/" + encodeURIComponent(id) + "/events");
  stream.addEventListener("progress", (ev) => {
    const p = JSON.parse(ev.data);
    figs.elapsed.textContent = fmt(p.elapsed_s, 0) + (p.warmup ? " (warm-up)" : "");
    if (p.warmup) return;
    figs.requests.textContent = p.requests; figs.qps.textContent = fmt(p.qps, 1);
    figs.p50.textContent = fmt(p.p50_ms, 3); figs.p99.textContent = fmt(p.p99_ms, 3); figs.errors.textContent = p.errors;
    qps.add(p.elapsed_s, p.qps); p99.add(p.elapsed_s, p.p99_ms);
  });
  stream.addEventListener("state", async (ev) => {
    const st = JSON.parse(ev.data);
    title.querySelector(".state").replaceWith(state(st.state));
    if (finished(st.state)) {
      stream.close(); stream = null;
      msg.textContent = st.message || "";
      const run = await api("GET", "runs/" + encodeURIComponent(id));
      figs.requests.textContent = run.requests; figs.qps.textContent = fmt(run.actual_qps, 1);
      figs.p50.textContent = fmt(run.p50_ms, 3); figs.p99.textContent = fmt(run.p99_ms, 3); figs.errors.textContent = run.errors;
      showDone(run);
    }
  });
}

// Compare: a baseline and others, the comparison table and the report
// with the percentile spectra overlaid.
async function comparePage(_, params) {
  main.append(h("h1", {}, "Compare"));
  const chosen = (params.get("ids") || "").split(",").filter(Boolean);
  const data = await api("GET", "runs?state=done&limit=200");
  const base = chosen[0] || "";
  const rows = data.runs.map((r) => h("tr", {"data-id": r.id},
    h("td", {}, h("input", {type: "radio", name: "base", value: r.id, checked: r.id === base, "aria-label": "baseline " + r.name})),
    h("td", {}, h("input", {type: "checkbox", name: "other", value: r.id, checked: chosen.slice(1).includes(r.id), "aria-label": "compare " + r.name})),
    h("td", {}, h("a", {href: "#/run/" + r.id}, r.name || r.id)), h("td", {}, when(r.created)),
    h("td", {class: "num"}, fmt(r.p50_ms, 3)), h("td", {class: "num"}, fmt(r.p99_ms, 3)), h("td", {}, labels(r.labels))));
  const go = h("button", {id: "compare", onclick: () => {
    const b = main.querySelector("input[name=base]:checked");
    const others = [...main.querySelectorAll("input[name=other]:checked")].map((x) => x.value).filter((v) => !b || v !== b.value);
    if (!b || !others.length) { toast("pick a baseline and at least one other run"); return; }
    location.hash = "#/compare?ids=" + [b.value, ...others].join(",");
  }}, "Compare");
  main.append(h("div", {class: "card"}, h("table", {id: "pick"}, h("thead", {}, h("tr", {}, ["baseline", "compare", "name", "created", "p50 ms", "p99 ms", "labels"].map((c) => h("th", {}, c)))),
    h("tbody", {}, rows)), h("div", {class: "row", style: "margin-top:8px"}, go)));
  if (chosen.length < 2) return;
  const out = await api("POST", "compare", {ids: chosen});
  const c = out.comparisons;
  for (const w of out.warnings || []) main.append(h("p", {class: "err"}, "warning: " + w));
  for (const v of c.variants) {
    main.append(h("h2", {}, v.name + " vs " + c.base), h("p", {class: "verdict"}, v.verdict));
    main.append(h("table", {class: "comparison"}, h("thead", {}, h("tr", {}, ["metric", c.base, v.name, "change", "interval", "p", "status"].map((x) => h("th", {}, x)))),
      h("tbody", {}, v.metrics.map((m) => h("tr", {"data-metric": m.metric},
        h("td", {}, m.metric + (m.unit ? " (" + m.unit + ")" : "")),
        h("td", {class: "num"}, fmt(m.base.median, 3)), h("td", {class: "num"}, fmt(m.variant.median, 3)),
        h("td", {class: "num"}, m.change != null ? fmt(m.change, 1) + (m.change_unit === "percent" ? "%" : " " + m.change_unit) : (m.change_infinite || "–")),
        h("td", {class: "num"}, m.change_interval ? "[" + fmt(m.change_interval[0], 1) + ", " + fmt(m.change_interval[1], 1) + "]" : "–"),
        h("td", {class: "num"}, m.mann_whitney && m.mann_whitney.p != null ? fmt(m.mann_whitney.p_adjusted != null ? m.mann_whitney.p_adjusted : m.mann_whitney.p, 3) : "–"),
        h("td", {class: m.status === "worse" ? "sig-worse" : m.status === "better" ? "sig-better" : ""}, m.status))))));
  }
  main.append(h("h2", {}, "Percentile spectra and report"),
    h("iframe", {class: "report", id: "compare-report", src: "/api/v1/compare/report?ids=" + chosen.map(encodeURIComponent).join(","), title: "comparison report"}));
}

// Profiles: the form to start a test (and save it), and saved profiles.
async function profilesPage() {
  const form = h("form", {class: "card", id: "new-test"},
    h("div", {class: "row"},
      h("label", {}, "name", h("input", {name: "name", value: "demo", required: true})),
      h("label", {}, "target URL", h("input", {name: "url", size: 40, value: info.demo || "http://127.0.0.1:8080/", required: true})),
      h("label", {}, "protocol", h("select", {name: "protocol"}, ["", "http", "http2", "grpc", "tcp", "udp"].map((p) => h("option", {value: p}, p || "from URL")))),
      h("label", {}, "requests/s (0: max)", h("input", {name: "qps", type: "number", min: 0, value: 200})),
      h("label", {}, "duration", h("input", {name: "duration", value: "10s", size: 6})),
      h("label", {}, "connections", h("input", {name: "connections", type: "number", min: 1, value: 4})),
      h("label", {}, "runs", h("input", {name: "runs", type: "number", min: 1, value: 1})),
      h("label", {}, "labels (k=v, comma-separated)", h("input", {name: "labels", placeholder: "mesh=none"}))),
    h("div", {class: "row", style: "margin-top:10px"},
      h("button", {type: "submit", id: "start"}, "Start test"),
      h("button", {type: "button", class: "plain", id: "save-profile", onclick: () => saveProfile(form)}, "Save as profile")),
    h("p", {class: "err", id: "form-error"}));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = formConfig(form);
    try {
      const out = await api("POST", "runs", {config: v.config, name: v.name, labels: v.labels, runs: v.runs});
      location.hash = "#/run/" + out.id;
    } catch (e) { form.querySelector("#form-error").textContent = e.message; }
  });
  main.append(h("h1", {}, "New test"), form, h("h2", {}, "Profiles"));
  const data = await api("GET", "profiles");
  main.append(h("table", {id: "profiles"}, h("thead", {}, h("tr", {}, ["name", "target", "updated", ""].map((c) => h("th", {}, c)))),
    h("tbody", {}, data.profiles.map((p) => h("tr", {"data-id": p.id},
      h("td", {}, p.name), h("td", {}, ((p.config.clients || [])[0] || {}).endpoint_urls || ""), h("td", {}, when(p.updated)),
      h("td", {}, h("button", {onclick: async () => {
        try { const out = await api("POST", "runs", {profile_id: p.id}); location.hash = "#/run/" + out.id; } catch (e) { toast(e.message); }
      }}, "Run"), " ", h("button", {class: "danger", onclick: async () => { await api("DELETE", "profiles/" + p.id); route(); }}, "Delete")))))));
  if (!data.profiles.length) main.append(h("p", {class: "muted"}, "No profiles: save one from the form, or import a Meshery profile on the Runs page."));
}

function formConfig(form) {
  const f = Object.fromEntries(new FormData(form));
  const client = {connections: Number(f.connections) || 1, endpoint_urls: [f.url.trim()]};
  const qps = Number(f.qps);
  if (qps > 0 && Number.isInteger(qps)) client.rps = qps; else if (qps > 0) client.qps = qps;
  if (f.protocol === "http2") { client.protocol = "http"; client.http2 = true; } else if (f.protocol) client.protocol = f.protocol;
  const labels = {};
  for (const kv of (f.labels || "").split(",").map((x) => x.trim()).filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i > 0) labels[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const config = {name: f.name, duration: f.duration, clients: [client]};
  if (qps === 0) client.rps = 0;
  return {name: f.name, config, labels, runs: Number(f.runs) || 1};
}

async function saveProfile(form) {
  const v = formConfig(form);
  try { await api("POST", "profiles", {name: v.name, config: v.config}); toast("profile saved"); route(); }
  catch (e) { form.querySelector("#form-error").textContent = e.message; }
}

window.addEventListener("hashchange", route);
api("GET", "info").then((i) => { info = i; document.getElementById("engine").textContent = "smp " + i.version + " · " + i.engine; })
  .catch(() => {}).finally(route);
