// headcount dashboard: pools, traffic lights, exact figures for staff, holds over time by risk band.
"use strict";

const REFRESH_MS = 2000;
const BANDS = ["low", "medium", "high"];
const SVG = "http://www.w3.org/2000/svg";

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
    const staff = pools.length > 0 && "capacity" in pools[0];
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
        card.append(bar, chart(await api(`/v1/pools/${encodeURIComponent(pool.id)}/timeline?bucket_s=600&hours=24`)));
      }
      return card;
    }));
    document.getElementById("pools").replaceChildren(...cards);
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
