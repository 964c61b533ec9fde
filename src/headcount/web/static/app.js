// headcount dashboard for a launch: the live pools first, each with its flood state, refusals,
// real headcount and the coordinated groups that touched it; finished events collapsed.
// One request per refresh (GET /v1/dashboard), whatever the number of pools; cards are keyed by
// pool id and only rebuilt inside when their figures change; the next refresh starts when the
// last one has finished, so slow answers never overlap.
"use strict";

const REFRESH_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const KEY = "headcount-key";
const cards = new Map();  // pool id -> card element (kept across refreshes)
const seen = new Map();   // element -> the JSON it was last drawn from
let refreshes = 0;
let keyError = null;      // what the server said about a refused key, shown until a new one is entered

function apiKey() {
  const match = location.hash.match(/key=([^&]+)/);
  if (match) {
    sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
    keyError = null;
    history.replaceState(null, "", location.pathname);  // keep the key out of the address bar
  }
  return sessionStorage.getItem(KEY);
}

class KeyRefused extends Error {}

async function api(path) {
  const key = apiKey();
  const response = await fetch(path, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  if (response.status === 401 && key) {
    const problem = await response.json().catch(() => ({}));
    sessionStorage.removeItem(KEY);
    throw new KeyRefused(problem.detail || "unknown or revoked API key");
  }
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

// --- small DOM and SVG helpers -------------------------------------------------------------
// Bidi controls and zero-width characters in a name could reorder or hide what staff read
// ("\u202Eevil" shows as "live"); every string the page shows has them spelled out instead.
const INVISIBLE = /[\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g;
const visible = (s) => String(s).replace(INVISIBLE,
  (c) => `⟨U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(typeof child === "string" ? visible(child) : child);
  }
  return node;
}

function svg(tag, attrs = {}, tip = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, typeof v === "number" ? v.toFixed(2) : v);
  if (tip) {
    const title = document.createElementNS(SVG, "title");
    title.textContent = visible(tip);
    node.append(title);
  }
  return node;
}

function text(x, y, content, anchor = "start", cls = "label") {
  const node = svg("text", { x, y, "text-anchor": anchor, class: cls });
  node.textContent = visible(content);
  return node;
}

const fmt = (n) => Number(n).toLocaleString("en");
const pct = (n, d) => (d ? `${Math.round((100 * n) / d)}%` : "0%");
const clock = (iso) => `${iso.slice(11, 16)} UTC`;  // ISO times from the API are UTC
const day = (iso) => iso.slice(0, 10);
const words = (name) => String(name).replace(/_/g, " ");
const bucketWords = (s) => (s < 3600 ? `${s / 60}-minute` : s < 86400 ? `${s / 3600}-hour` : `${s / 86400}-day`);

function niceTop(n) {  // 1, 2 or 5 times a power of ten, at least n
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= n);
}

function figure(label, value, testid, cls = "") {
  return el("div", { class: `figure ${cls}` }, el("b", { "data-testid": testid }, value), el("span", {}, label));
}

// --- the parts of a pool card ----------------------------------------------------------------
function floodBadge(flood) {
  if (!flood.on) return el("span", { class: "calm", "data-testid": "flood-off" }, "no flood");
  const share = flood.share === null ? "" : ` · ${Math.round(100 * flood.share)}% of recent registrations risky`;
  return el("span", { class: "flood", "data-testid": "flood",
                      title: `every registration here gets the reason pool_flooded${share}` },
            `FLOOD MODE${flood.since ? ` since ${clock(flood.since)}` : ""}`);
}

// Expected real people against registrations on a scale of their own; capacity marked, off scale if far.
function headcountChart(h) {
  const [lo, hi] = h.interval;
  const near = Math.max(h.registered, hi, 1);
  // capacity on the scale when it is near (the report's rule: within 3x); far beyond, off scale
  const scale = niceTop(Math.max(near, h.capacity && h.capacity <= 3 * near ? h.capacity : 0) * 1.1);
  const capOn = h.capacity && h.capacity <= scale;
  const W = 400, L = 92, R = 16, plot = W - L - R;
  const x = (n) => L + (plot * Math.min(n, scale)) / scale;
  const box = svg("svg", { viewBox: `0 0 ${W} 92`, role: "img", class: "hc-chart", "data-testid": "hc-chart",
                           "aria-label": "expected real people against registrations and capacity" });
  for (const f of [0, 0.5, 1]) {
    box.append(svg("line", { x1: x(scale * f), x2: x(scale * f), y1: 4, y2: 66, class: "grid" }));
    box.append(text(x(scale * f), 80, fmt(scale * f), f === 0 ? "start" : f === 1 ? "end" : "middle"));
  }
  box.append(text(L - 6, 20, "registered", "end"));
  box.append(svg("rect", { x: L, y: 8, width: Math.max(1, x(h.registered) - L), height: 16, class: "registered" },
                 `registered: ${fmt(h.registered)} seats`));
  box.append(text(L - 6, 50, "real people", "end"));
  box.append(svg("rect", { x: x(lo), y: 38, width: Math.max(2, x(hi) - x(lo)), height: 16, class: "interval" },
                 `${Math.round(100 * h.level)}% interval: ${fmt(lo)}–${fmt(hi)}`));
  box.append(svg("rect", { x: x(h.expected_real) - 1.5, y: 34, width: 3, height: 24, class: "expected" },
                 `expected real: ${fmt(h.expected_real)}`));
  if (capOn) {
    box.append(svg("line", { x1: x(h.capacity), x2: x(h.capacity), y1: 2, y2: 68, class: "capacity" },
                   `capacity: ${fmt(h.capacity)}`));
  } else if (h.capacity) {  // a broken axis: capacity far beyond what is registered
    box.append(svg("path", { d: `M${W - R - 4} 62 l6 -8 M${W - R + 2} 62 l6 -8`, class: "break" }));
    box.append(text(W - 2, 90, `capacity ${fmt(h.capacity)} off scale →`, "end", "label cap"));
  }
  return box;
}

function headline(p) {
  const h = p.headcount;
  const [lo, hi] = h.interval;
  const box = el("div", { class: "headline", "data-testid": "headcount" });
  box.append(el("div", { class: "figures" },
    figure(p.kind === "stock" ? "real buyers expected" : "real people expected", fmt(h.expected_real), "hc-expected", "main"),
    el("div", { class: "figure" }, el("b", { class: "nowrap" }, el("span", { "data-testid": "hc-lo" }, fmt(lo)), "–",
                                      el("span", { "data-testid": "hc-hi" }, fmt(hi))),
       el("span", {}, `${Math.round(100 * h.level)}% interval`)),
    figure(p.kind === "stock" ? "items in carts or sold" : p.lottery ? "seats won (held or confirmed)" : "seats registered",
           fmt(h.registered), "hc-registered"),
    figure(p.lottery ? "tickets issued" : "capacity", fmt(p.capacity), "capacity")));
  box.append(headcountChart(h));
  box.append(el("p", { class: "why", "data-testid": "hc-why" }, h.why));
  return box;
}

// A lottery pool: registrations, wins, waitlist, and the estimate the draw issues tickets on.
function lotteryPart(p) {
  const l = p.lottery;
  const est = l.estimate || {};
  const state = l.state === "drawn" ? `drawn ${l.drawn_at ? clock(l.drawn_at) : ""}`
    : l.state === "closed" ? "closed, drawing" : `registration open until ${clock(l.closes_at)}`;
  const box = el("div", { class: "lottery", "data-testid": "lottery", "data-state": l.state });
  box.append(el("h4", {}, "Lottery ", el("span", { class: "sub inline", "data-testid": "lottery-state" }, state)));
  const seats = (part) => `${fmt(part.seats)} seat${part.seats === 1 ? "" : "s"}`;
  box.append(el("div", { class: "figures" },
    el("div", { class: "figure" }, el("b", { "data-testid": "lottery-registered" }, fmt(l.registered.registrations)),
       el("span", {}, `registrations · ${seats(l.registered)}`)),
    el("div", { class: "figure" }, el("b", { "data-testid": "lottery-won" }, fmt(l.won.registrations)),
       el("span", {}, `wins · ${seats(l.won)}`)),
    el("div", { class: "figure" }, el("b", { "data-testid": "lottery-waitlisted" }, fmt(l.waitlisted.registrations)),
       el("span", {}, `waitlist · ${seats(l.waitlisted)}`)),
    el("div", { class: "figure" }, el("b", { "data-testid": "lottery-refused" }, fmt(l.refused.registrations)),
       el("span", {}, "refused at the draw"))));
  if (est.expected_attendance !== undefined && est.expected_attendance !== null) {
    const [lo, hi] = est.interval || [est.expected_attendance, est.expected_attendance];
    const tickets = est.tickets === null || est.tickets === undefined ? ""
      : ` · ${fmt(est.tickets)} tickets for ${fmt(l.capacity)} places`;
    box.append(el("p", { class: "estimate" },
      el("b", {}, est.when === "draw" ? "Expected at the door: " : "Forecast if all won: "),
      el("span", { "data-testid": "lottery-expected" }, fmt(est.expected_attendance)),
      ` real people (${fmt(lo)}–${fmt(hi)})${tickets}` +
      (est.p_over_capacity === null || est.p_over_capacity === undefined ? ""
        : ` · P(over capacity) ${(100 * est.p_over_capacity).toFixed(1)}%`)));
    box.append(el("p", { class: "why", "data-testid": "lottery-why" }, est.reason || ""));
  }
  if (l.lapsed.registrations) box.append(el("p", { class: "sub" }, `${fmt(l.lapsed.registrations)} wins lapsed or declined, passed down the waitlist`));
  return box;
}

const OUTCOME_ORDER = ["allowed", "shortened", "challenged", "denied"];

function decisionsPart(p, outcomeWords) {
  const d = p.decisions;
  const box = el("div", { class: "decisions", "data-testid": "decisions" });
  box.append(el("div", { class: "figures" },
    figure("decisions", fmt(d.total), "decisions-total"),
    figure("refused", fmt(d.refused), "refusals", d.refused ? "alarm" : ""),
    figure("short holds", fmt(d.by_outcome.shortened || 0), "shortened"),
    figure("refused share", pct(d.refused, d.total), "refused-share")));
  const bar = el("div", { class: "outcomes", title: "decisions by outcome" });
  for (const o of OUTCOME_ORDER) {
    const n = d.by_outcome[o] || 0;
    if (!n) continue;
    const part = el("i", { class: o, title: `${outcomeWords[o] || o}: ${fmt(n)}` });
    part.style.flexGrow = String(n);  // CSSOM, allowed by the page's CSP
    bar.append(part);
  }
  box.append(bar);
  if (d.top_reasons.length) {
    const list = el("ol", { class: "reasons", "data-testid": "top-reasons" });
    for (const r of d.top_reasons) {
      list.append(el("li", { "data-reason": r.reason }, el("b", {}, fmt(r.refusals)), ` ${r.words}`));
    }
    box.append(el("p", { class: "sub" }, "Refused because of (a refusal can have several reasons):"), list);
  }
  return box;
}

// Stacked columns per time bucket with a y-axis: decisions by outcome, or seats by band.
function columns(points, parts, valueOf, maxValue, label, testid, extra, classOf = (part) => part) {
  const W = 400, H = 96, L = 34, B = 18, plotH = H - B - 6, plotW = W - L - 4;
  const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "columns", "data-testid": testid, "aria-label": label });
  const top = niceTop(maxValue || 1);
  for (const f of [0, 0.5, 1]) {
    const y = 6 + plotH * (1 - f);
    box.append(svg("line", { x1: L, x2: W - 4, y1: y, y2: y, class: "grid" }));
    box.append(text(L - 4, y + 4, fmt(top * f), "end"));
  }
  const w = plotW / Math.max(points.length, 1);
  points.forEach((pt, i) => {
    let y = 6 + plotH;
    for (const part of parts) {
      const n = valueOf(pt, part);
      if (!n) continue;
      const h = (plotH * n) / top;
      box.append(svg("rect", { x: L + i * w + w * 0.1, y: y - h, width: Math.max(w * 0.8, 0.8), height: h, class: classOf(part) },
                     `${clock(pt.t)}: ${fmt(n)} ${extra(part)}`));
      y -= h;
    }
  });
  if (points.length) {
    box.append(text(L, H - 4, `${day(points[0].t)} ${clock(points[0].t)}`));
    box.append(text(W - 4, H - 4, clock(points.at(-1).t), "end"));
  }
  return box;
}

function legend(items) {
  const box = el("div", { class: "legend" });
  for (const [cls, label] of items) box.append(el("span", {}, el("i", { class: cls }), label));
  return box;
}

function timelinePart(p, outcomeWords) {
  const t = p.timeline;
  const box = el("div", { class: "timeline" });
  if (!t.points.length) {
    box.append(el("p", { class: "empty", "data-testid": "no-activity" }, "no activity yet"));
    return box;
  }
  const lapsed = t.points.reduce((s, pt) => s + pt.lapsed, 0);
  box.append(el("h4", {}, `Decisions per ${bucketWords(t.bucket_s)} bucket`));
  box.append(columns(t.points, OUTCOME_ORDER, (pt, o) => pt.decisions[o] || 0,
                     t.max_decisions, "decisions over time by outcome", "decisions-chart",
                     (o) => outcomeWords[o] || o));
  box.append(legend(OUTCOME_ORDER.map((o) => [o, outcomeWords[o] || o])));
  box.append(el("h4", {}, `${p.kind === "stock" ? "Items" : "Seats"} held per ${bucketWords(t.bucket_s)} bucket, by risk band`));
  const bandClass = (b) => (b === "lapsed" ? "lapsed" : `band${t.bands.indexOf(b)}`);
  box.append(columns(t.points, [...t.bands, "lapsed"], (pt, b) => (b === "lapsed" ? pt.lapsed : pt.seats[b] || 0),
                     t.max_seats, "seats held over time by risk band", "seats-chart",
                     (b) => (b === "lapsed" ? "expired or released" : `in band ${words(b)}`), bandClass));
  box.append(legend([...t.bands.map((b, i) => [`band${i}`, words(b)]), ["lapsed", "expired or released (not counted)"]]));
  if (lapsed) {
    box.append(el("p", { class: "sub" }, `The columns add up to ${fmt(p.headcount.registered + lapsed)}: ` +
      `${fmt(p.headcount.registered)} still held or confirmed, ${fmt(lapsed)} expired or released.`));
  }
  return box;
}

function groupLine(g, poolId) {  // under a pool: what, how sure, when; the rest on hover
  const others = g.pool_names.length - 1;
  return el("li", { class: "group", "data-testid": "group", "data-block": g.id, "data-pool": poolId,
                    title: `seen as ${g.seen_by.join("; ")}\npools: ${g.pool_names.join(", ")}` },
    el("b", { "data-testid": "group-words" }, g.words),
    el("span", { class: `confidence`, "data-testid": "group-confidence" }, g.confidence_words),
    el("span", { class: "sub" }, `${g.window}${g.evidence_words ? ` · ${g.evidence_words}` : ""}` +
       (others > 0 ? ` · also in ${others} other pool${others > 1 ? "s" : ""}` : "")));
}

function groupEntry(g, poolId) {
  return el("li", { class: "group", "data-testid": "group", "data-block": g.id, "data-pool": poolId || "" },
    el("b", { "data-testid": "group-words" }, g.words),
    el("span", { class: `confidence c${Math.round(g.confidence * 10)}`, "data-testid": "group-confidence" }, g.confidence_words),
    el("span", { class: "sub" }, `${g.window}${g.evidence_words ? ` · ${g.evidence_words}` : ""}`),
    el("span", { class: "sub" }, `seen as ${g.seen_by.join("; ")}`),
    g.pool_names.length > 1 ? el("span", { class: "sub" }, `pools: ${g.pool_names.join(", ")}`) : null,
    g.other_targets.length ? el("span", { class: "sub" }, `targets: ${g.other_targets.slice(0, 6).join(", ")}` +
                                 (g.other_targets.length > 6 ? ", …" : "")) : null);
}

function groupsPart(p, groups) {
  const mine = p.groups.map((id) => groups.get(id)).filter(Boolean);
  if (!mine.length) return null;
  const list = el("ul", { class: "groups", "data-testid": "pool-groups" });
  for (const g of mine) list.append(groupLine(g, p.id));
  return el("div", { class: "pool-groups" }, el("h4", {}, `Coordinated group${mine.length > 1 ? "s" : ""} in this pool`), list);
}

function cardParts(p, groups, outcomeWords) {
  return [
    el("h3", {}, el("span", { class: `light ${p.light}`, "data-testid": "light", title: p.light }),
       el("span", { class: "name" }, p.name), floodBadge(p.flood)),
    el("p", { class: "meta" }, `${p.id} · ${p.kind === "stock" ? "stock" : "event"} · ${fmt(p.held)} held, ` +
       `${fmt(p.confirmed)} confirmed, ${fmt(p.available)} available · last activity ${clock(p.last_activity)}`),
    p.lottery ? lotteryPart(p) : null,
    headline(p), decisionsPart(p, outcomeWords), groupsPart(p, groups), timelinePart(p, outcomeWords),
  ].filter(Boolean);
}

// --- keyed rendering --------------------------------------------------------------------------
function keyed(container, items, keyOf, make, draw, sig = (x) => JSON.stringify(x)) {
  const wanted = [];
  for (const item of items) {
    const k = keyOf(item);
    let node = cards.get(k);
    if (!node) {
      node = make(item);
      cards.set(k, node);
    }
    const s = sig(item);
    if (seen.get(node) !== s) {  // only a card whose figures changed is redrawn, inside its own element
      draw(node, item);
      seen.set(node, s);
    }
    wanted.push(node);
  }
  wanted.forEach((node, i) => {  // order, moving only what is out of place
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
  });
  while (container.children.length > wanted.length) container.lastElementChild.remove();
}

function drawBands(bands) {
  const box = document.getElementById("bands");
  const s = JSON.stringify(bands);
  if (seen.get(box) === s) return;
  seen.set(box, s);
  box.replaceChildren(el("b", {}, "Risk bands of the policy: "),
    ...bands.map((b, i) => el("span", { class: "band", "data-testid": "band" }, el("i", { class: `band${i}` }),
                              `${words(b.name)} (score ${b.range}): ${b.words}`)));
  box.hidden = false;
}

function drawAlerts(d) {
  const box = document.getElementById("alerts");
  const flooded = d.pools.filter((p) => p.flood.on);
  const flagged = d.groups.filter((g) => g.pools.length);
  const items = [];
  for (const p of flooded) {
    items.push(el("span", { class: "flood", "data-testid": "alert-flood" },
                  `${p.name}: flood mode${p.flood.since ? ` since ${clock(p.flood.since)}` : ""}, ` +
                  `${fmt(p.decisions.refused)} refused`));
  }
  for (const g of flagged) {
    items.push(el("span", { class: "warn", "data-testid": "alert-group" }, `${g.words} (${g.confidence_words})`));
  }
  items.push(el("span", { class: "total" }, el("b", { "data-testid": "total-refused" }, fmt(d.totals.refused)),
                ` refused of ${fmt(d.totals.decisions)} decisions in the live pools`));
  const s = JSON.stringify([flooded.map((p) => [p.id, p.flood, p.decisions.refused]), flagged.map((g) => g.words), d.totals]);
  if (seen.get(box) !== s) {
    box.replaceChildren(...items);
    seen.set(box, s);
  }
  box.hidden = false;
}

function drawFinished(pools) {
  const box = document.getElementById("finished");
  box.hidden = !pools.length;
  document.getElementById("finished-summary").textContent =
    `Finished events (${pools.length}): actual check-ins against the forecast`;
  keyed(document.getElementById("finished-body"), pools, (p) => `finished:${p.id}`,
    (p) => el("tr", { "data-pool": p.id, "data-testid": "finished-pool" }),
    (row, p) => {
      const h = p.headcount;
      row.replaceChildren(el("td", {}, p.name), el("td", { class: "n" }, fmt(h.expected_real)),
        el("td", { class: "n nowrap" }, `${fmt(h.interval[0])}–${fmt(h.interval[1])}`),
        el("td", { class: "n", "data-testid": "checked-in" }, el("b", {}, fmt(h.checked_in))),
        el("td", { class: "n" }, fmt(h.registered)), el("td", { class: "n" }, fmt(p.capacity)));
    });
}

function drawElsewhere(d, groups) {
  const box = document.getElementById("elsewhere");
  const list = d.groups_elsewhere.map((id) => groups.get(id)).filter(Boolean);
  box.hidden = !list.length;
  const body = document.getElementById("elsewhere-body");
  const s = JSON.stringify(list);
  if (seen.get(body) !== s) {
    body.replaceChildren(el("ul", { class: "groups" }, ...list.map((g) => groupEntry(g, null))));
    seen.set(body, s);
  }
}

function drawStaff(d) {
  const groups = new Map(d.groups.map((g) => [g.id, g]));
  const live = d.pools.filter((p) => p.status !== "finished");
  const finished = d.pools.filter((p) => p.status === "finished");
  drawAlerts(d);
  drawBands(d.bands);
  document.getElementById("live-title").hidden = !live.length;
  keyed(document.getElementById("pools"), live, (p) => p.id,
    (p) => el("article", { class: "pool", "data-pool": p.id }),
    (card, p) => {
      card.classList.toggle("flooded", p.flood.on);
      card.classList.toggle("quiet", !p.active);
      card.replaceChildren(...cardParts(p, groups, d.outcome_words));
    },
    (p) => JSON.stringify([p, p.groups.map((id) => groups.get(id))]));
  drawFinished(finished);
  drawElsewhere(d, groups);
  document.getElementById("public").hidden = true;
  document.getElementById("no-pools").hidden = d.pools.length > 0;
}

function drawPublic(d) {
  for (const id of ["alerts", "bands", "elsewhere", "finished", "live-title"]) document.getElementById(id).hidden = true;
  document.getElementById("pools").replaceChildren();
  cards.clear();
  const box = document.getElementById("public");
  box.hidden = false;
  const s = JSON.stringify(d);
  if (seen.get(box) === s) return;
  seen.set(box, s);
  box.replaceChildren(
    el("div", { class: "legend lights" }, ...Object.entries(d.lights).map(([light, meaning]) =>
      el("span", {}, el("span", { class: `light ${light}` }), ` ${light}: ${meaning}`))),
    el("ul", { class: "public-pools" }, ...d.pools.map((p) =>
      el("li", { "data-pool": p.id }, el("span", { class: `light ${p.light}`, "data-testid": "light", title: p.light }),
         el("span", { class: "name" }, p.name)))));
  document.getElementById("no-pools").hidden = d.pools.length > 0;
}

function showKeyError() {
  const box = document.getElementById("key-error");
  box.hidden = !keyError;
  if (keyError) box.textContent = `The API key was refused (${keyError}). Enter a valid staff key below; until then you see the public view.`;
}

let rendering = null;  // the refresh under way: a key entered meanwhile waits for it, never overlaps

function render() {
  if (!rendering) rendering = draw().finally(() => { rendering = null; });
  return rendering;
}

async function draw() {
  const status = document.getElementById("status");
  try {
    const d = await api("/v1/dashboard");
    const staff = Array.isArray(d.bands);
    document.getElementById("login").hidden = staff;
    if (staff) drawStaff(d); else drawPublic(d);
    refreshes += 1;
    status.textContent = `${staff ? "staff view" : "public view"} · updated ${new Date().toISOString().slice(11, 19)} UTC`;
    status.dataset.updated = String(Date.now());
    status.dataset.refreshes = String(refreshes);
    status.classList.remove("down");
  } catch (error) {
    if (error instanceof KeyRefused) {
      keyError = error.message;
      document.getElementById("login").hidden = false;
      status.textContent = "API key refused";
      status.classList.add("down");
      showKeyError();
      return draw();  // at once, as the public
    }
    status.textContent = `cannot reach the service: ${error.message}`;
    status.classList.add("down");
  }
  showKeyError();
}

async function loop() {
  await render();
  setTimeout(loop, REFRESH_MS);  // after the answer: refreshes never overlap
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, document.getElementById("key-input").value.trim());
  keyError = null;
  (rendering || Promise.resolve()).then(render);
});
loop();
