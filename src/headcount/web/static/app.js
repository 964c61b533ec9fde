// headcount dashboard: pools, traffic lights, exact figures for staff, holds over time by risk band,
// the real-headcount estimate against capacity and the top coordinated groups.
"use strict";

const REFRESH_MS = 2000;
const BANDS = ["low", "medium", "high"];
const SVG = "http://www.w3.org/2000/svg";
const TOP_GROUPS = 5;
const PROBE_EVERY = 30;  // refreshes between looks for GET /v1/blocks while the server lacks it
let blocksRoute = null;  // does the server offer GET /v1/blocks? (asked via /openapi.json: no 404 in the console)
let refreshes = 0;

function apiKey() {
  const match = location.hash.match(/key=([^&]+)/);
  if (match) {
    sessionStorage.setItem("headcount-key", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);  // keep the key out of the address bar
  }
  return sessionStorage.getItem("headcount-key");
}

async function api(path) {
  const key = apiKey();
  const response = await fetch(path, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  if (response.status === 401) {
    sessionStorage.removeItem("headcount-key");
    throw new Error("the API key was refused");
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function figure(label, value, testid) {
  return el("div", {}, el("b", { "data-testid": testid }, value.toLocaleString("en")), el("span", {}, label));
}

function svgNode(tag, attrs = {}, tip = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, typeof v === "number" ? v.toFixed(2) : v);
  if (tip) {
    const title = document.createElementNS(SVG, "title");
    title.textContent = tip;
    node.append(title);
  }
  return node;
}

const fmt = (n) => Number(n).toLocaleString("en");

// Expected real attendance with its interval, against registrations and capacity.
function headcountPanel(h) {
  const box = el("div", { class: "headcount", "data-testid": "headcount" });
  const pct = Math.round(100 * h.level);
  box.append(el("h3", {}, "Real headcount"));
  box.append(el("div", { class: "figures" },
    figure("expected real", h.expected_real, "hc-expected"),
    el("div", {}, el("b", {}, el("span", { "data-testid": "hc-lo" }, fmt(h.interval[0])), "–",
                     el("span", { "data-testid": "hc-hi" }, fmt(h.interval[1]))), el("span", {}, `${pct}% interval`)),
    figure("registered", h.registered, "hc-registered"),
    el("div", {}, el("b", { "data-testid": "hc-pover" }, h.p_over_capacity === null ? "–"
                     : `${(100 * h.p_over_capacity).toFixed(1)}%`), el("span", {}, "chance of more than capacity"))));
  const top = Math.max(1, h.capacity || 0, h.registered, h.interval[1]) * 1.04;
  const x = (n) => 4 + (292 * n) / top;
  const svg = svgNode("svg", { viewBox: "0 0 300 64", role: "img", "data-testid": "hc-chart",
                               "aria-label": "expected real attendance against capacity", preserveAspectRatio: "none" });
  svg.append(svgNode("rect", { x: 4, y: 6, width: x(h.registered) - 4, height: 16, class: "registered" },
                     `registered: ${fmt(h.registered)}`));
  svg.append(svgNode("rect", { x: x(h.interval[0]), y: 32, width: Math.max(1, x(h.interval[1]) - x(h.interval[0])),
                               height: 16, class: "interval" }, `${pct}% interval: ${fmt(h.interval[0])}–${fmt(h.interval[1])}`));
  svg.append(svgNode("rect", { x: x(h.expected_real) - 1, y: 28, width: 2, height: 24, class: "expected" },
                     `expected real: ${fmt(h.expected_real)}`));
  if (h.capacity) {
    svg.append(svgNode("line", { x1: x(h.capacity), x2: x(h.capacity), y1: 0, y2: 60, class: "capacity" },
                       `capacity: ${fmt(h.capacity)}`));
  }
  box.append(svg);
  const legend = el("div", { class: "legend" });
  for (const [cls, label] of [["registered", "registered"], ["interval", `${pct}% interval`],
                              ["expected", "expected real"], ["capacity", "capacity"]]) {
    legend.append(el("span", {}, el("i", { class: cls }), label));
  }
  box.append(legend);
  const source = h.method === "history"
    ? `show-up rates learned from ${h.history_pools} earlier pool${h.history_pools === 1 ? "" : "s"} with check-ins`
    : "no earlier check-ins yet: the model's prior (wide on purpose)";
  const [part, share] = Object.entries(h.uncertainty || {}).sort((a, b) => b[1] - a[1])[0] || ["", 0];
  box.append(el("p", { class: "why", "data-testid": "hc-why" },
    `${source}; ${Math.round(100 * h.flagged_share)}% of seats flagged as risky` +
    (part ? `; most of the uncertainty is ${part.replace(/_/g, "-")} (${Math.round(100 * share)}%)` : "") + "."));
  return box;
}

function short(text, n = 14) {
  const s = String(text);
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

const NEW_FOR_MS = 10 * 60 * 1000;  // a group first seen this recently is marked "new"
const hhmm = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

// "14:28–16:28 (2 h)", with the day in front when it is not today.
function window_(startIso, endIso) {
  const start = new Date(startIso);
  const end = new Date(endIso);
  const minutes = Math.max(1, Math.round((end - start) / 60000));
  const span = minutes < 90 ? `${minutes} min` : `${(minutes / 60).toFixed(minutes < 600 ? 1 : 0).replace(/\.0$/, "")} h`;
  const day = start.toDateString() === new Date().toDateString() ? ""
    : `${start.toLocaleDateString([], { month: "short", day: "numeric" })} `;
  return `${day}${hhmm(start)}–${hhmm(end)} (${span})`;
}

// A person key such as "id:k1:l3Db0CuduO…" shortened to its hashed part.
const member = (key) => short(String(key).split(":").pop(), 8);

// The evidence in words: how many actions against how many chance would give, and how dense.
function evidenceText(b) {
  const e = b.evidence || {};
  const parts = [];
  if (typeof e.cells === "number" && typeof e.expected_cells === "number") {
    const lift = e.expected_cells > 0 ? ` (${fmt(Math.round(e.cells / e.expected_cells))}×)` : "";
    parts.push(`${fmt(e.cells)} member–target pairs, chance gives ${fmt(Math.round(e.expected_cells))}${lift}`);
  } else if (b.events) {
    parts.push(`${fmt(b.events)} actions`);
  }
  parts.push(`${Math.round(100 * b.density)}% of all pairs acted on`);
  return parts.join("; ");
}

function barCell(value, max, cls, tip) {
  const svg = svgNode("svg", { viewBox: "0 0 100 10", class: "minibar", role: "img", "aria-label": tip });
  svg.append(svgNode("rect", { x: 0, y: 1, width: Math.max(2, (100 * value) / max), height: 8, class: cls }, tip));
  return svg;
}

// The most suspicious coordinated groups from GET /v1/blocks (which lists them newest first).
function groupsPanel(blocks) {
  const body = el("div", {});
  if (blocks === null) {
    body.append(el("p", { class: "empty", "data-testid": "groups-empty" },
                   "group detection is not running on this server yet"));
    return body;
  }
  if (!blocks.length) {
    body.append(el("p", { class: "empty", "data-testid": "groups-empty" },
                   "no coordinated group detected in the recent action log"));
    return body;
  }
  const ranked = [...blocks].sort((a, b) => b.score - a.score);
  const top = ranked.slice(0, TOP_GROUPS);
  const size = (b) => b.size ?? (b.actors || []).length;
  const accounts = new Set(blocks.flatMap((b) => b.actors || []));
  const lastRun = Math.max(...blocks.map((b) => Date.parse(b.updated_at || b.detected_at) || 0));
  body.append(el("p", { class: "summary", "data-testid": "groups-summary" },
    el("b", { "data-testid": "groups-count" }, fmt(blocks.length)), ` group${blocks.length === 1 ? "" : "s"} · `,
    el("b", { "data-testid": "groups-accounts" }, fmt(accounts.size)), ` account${accounts.size === 1 ? "" : "s"} flagged`,
    lastRun ? ` · detected as of ${hhmm(new Date(lastRun))}` : "", " · most suspicious first"));
  const bestScore = Math.max(...top.map((b) => b.score), 1e-9);
  const mostMembers = Math.max(...top.map(size), 1);
  const table = el("table", { "data-testid": "groups-table" });
  table.append(el("tr", {}, ...["#", "score", "members", "targets", "window", "seen by", "evidence"]
    .map((h) => el("th", {}, h))));
  top.forEach((b, i) => {
    const actors = b.actors || [];
    const targets = b.targets || [];
    const detectors = [b.detector, ...((b.evidence || {}).detectors || []).filter((d) => d !== b.detector)];
    const fresh = Date.now() - Date.parse(b.detected_at) < NEW_FOR_MS;
    table.append(el("tr", { "data-testid": "group", "data-block": b.id },
      el("td", { class: "rank" }, `${i + 1}`, fresh ? el("span", { class: "new", title: "first detected in the last 10 minutes" }, "new") : ""),
      el("td", { class: "n" }, barCell(b.score, bestScore, "score", `score ${b.score}`),
         el("span", { "data-testid": "group-score" }, Number(b.score).toFixed(2))),
      el("td", { title: actors.join("\n") },
         el("span", { class: "count" }, barCell(size(b), mostMembers, "members", `${size(b)} members`),
            el("b", { "data-testid": "group-actors" }, fmt(size(b)))),
         el("span", { class: "sample" }, `${actors.slice(0, 2).map(member).join(", ")}${actors.length > 2 ? ", …" : ""}`)),
      el("td", { title: targets.join("\n") }, el("b", { "data-testid": "group-targets" }, fmt(targets.length)),
         el("span", { class: "sample", "data-testid": "group-target-names" },
            `${targets.slice(0, 3).map((t) => short(t, 18)).join(", ")}${targets.length > 3 ? ", …" : ""}`)),
      el("td", { class: "when", "data-testid": "group-window", title: `${b.start} – ${b.end}` }, window_(b.start, b.end)),
      el("td", { "data-testid": "group-detectors" },
         ...detectors.map((d, j) => el("span", { class: j === 0 ? "chip lead" : "chip" }, d))),
      el("td", { class: "evidence" }, evidenceText(b))));
  });
  body.append(table);
  if (blocks.length > TOP_GROUPS) body.append(el("p", { class: "empty" }, `and ${blocks.length - TOP_GROUPS} more`));
  return body;
}

async function fetchBlocks() {
  if (blocksRoute === null || (!blocksRoute && refreshes % PROBE_EVERY === 0)) {
    const spec = await fetch("/openapi.json").then((r) => (r.ok ? r.json() : { paths: {} }), () => ({ paths: {} }));
    blocksRoute = Boolean(spec.paths && spec.paths["/v1/blocks"]);
  }
  if (!blocksRoute) return null;
  const key = apiKey();
  const response = await fetch("/v1/blocks", { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  if (response.status === 404) {
    blocksRoute = false;
    return null;
  }
  if (!response.ok) throw new Error(`/v1/blocks: ${response.status}`);
  return (await response.json()).blocks || [];
}

function chart(timeline) {
  const box = el("div", { class: "chart" });
  if (!timeline.points.length) {
    box.append(el("p", { class: "empty", "data-testid": "no-holds" }, "no holds in the last 24 hours"));
    return box;
  }
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 300 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "holds over time by risk band");
  const points = timeline.points.slice(-144);
  const max = Math.max(1, ...points.map((p) => BANDS.reduce((s, b) => s + p[b], 0)));
  const width = 300 / points.length;
  points.forEach((p, i) => {
    let y = 100;
    for (const band of BANDS) {
      const h = (p[band] / max) * 100;
      if (h <= 0) continue;
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", (i * width + width * 0.1).toFixed(2));
      rect.setAttribute("width", (width * 0.8).toFixed(2));
      rect.setAttribute("y", (y - h).toFixed(2));
      rect.setAttribute("height", h.toFixed(2));
      rect.setAttribute("class", band);
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${p.t}: ${p[band]} ${band}-risk`;
      rect.append(title);
      svg.append(rect);
      y -= h;
    }
  });
  box.append(svg);
  const clock = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  box.append(el("div", { class: "axis" }, el("span", {}, clock(points[0].t)),
                el("span", {}, `${timeline.bucket_s / 60}-minute buckets`), el("span", {}, clock(points.at(-1).t))));
  const legend = el("div", { class: "legend" });
  for (const band of BANDS) legend.append(el("span", {}, el("i", { class: band }), `${band} risk`));
  box.append(legend);
  return box;
}

async function render() {
  const status = document.getElementById("status");
  try {
    const pools = await api("/v1/pools");
    let staff = pools.length > 0 && "capacity" in pools[0];
    let blocks;  // fetched below, or here already when only GET /v1/blocks can tell a staff key (no pools)
    if (!pools.length && apiKey()) {
      blocks = await fetchBlocks().catch(() => null);
      staff = blocks !== null;
    }
    document.getElementById("login").hidden = staff;
    const cards = await Promise.all(pools.map(async (pool) => {
      const card = el("article", { class: "pool", "data-pool": pool.id });
      card.append(el("h2", {}, el("span", { class: `light ${pool.light}`, "data-testid": "light", title: pool.light }),
                     pool.name || pool.id));
      if (staff) {
        card.append(el("div", { class: "figures" },
          figure("capacity", pool.capacity, "capacity"), figure("held", pool.held, "held"),
          figure("confirmed", pool.confirmed, "confirmed"), figure("available", pool.available, "available")));
        const bar = el("div", { class: "bar", title: "confirmed and held, of capacity" });
        const pct = (n) => `${pool.capacity ? (100 * n) / pool.capacity : 0}%`;
        const confirmed = el("div", { class: "confirmed" });
        const held = el("div", { class: "held" });
        confirmed.style.width = pct(pool.confirmed);  // CSSOM, allowed by the page's CSP
        held.style.width = pct(pool.held);
        bar.append(confirmed, held);
        const path = `/v1/pools/${encodeURIComponent(pool.id)}`;
        const [timeline, headcount] = await Promise.all([api(`${path}/timeline?bucket_s=600&hours=24`),
                                                         api(`${path}/headcount`)]);
        card.append(bar, chart(timeline), headcountPanel(headcount));
      }
      return card;
    }));
    document.getElementById("pools").replaceChildren(...cards);
    const groups = document.getElementById("groups");
    groups.hidden = !staff;
    if (staff) {
      document.getElementById("groups-body").replaceChildren(
        groupsPanel(blocks === undefined ? await fetchBlocks() : blocks));
    }
    document.getElementById("no-pools").hidden = pools.length > 0;
    refreshes += 1;
    status.textContent = `${staff ? "staff view" : "public view"} · updated ${new Date().toLocaleTimeString()}`;
    status.dataset.updated = String(Date.now());
  } catch (error) {
    status.textContent = `cannot reach the service: ${error.message}`;
  }
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("headcount-key", document.getElementById("key-input").value.trim());
  render();
});
render();
setInterval(render, REFRESH_MS);
