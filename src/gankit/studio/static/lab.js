// The live lab: drives the server's toy GAN thread (start / pause / step / reset / live settings) and draws
// each state it polls: samples, D as a heat map (2-D) or curve beside D* (1-D), G's gradient arrows, curves.
"use strict";

const S = { since: -1, rows: [], points: [], running: false, frames: 0, drawMs: 0, fpsT0: performance.now(), fpsN: 0,
            lim: 3, dim: 2, opts: null };
window.studio = S;  // the browser tests read S.frames (updates drawn) from here

const LIVE = ["loss", "lr_g", "lr_d", "d_steps", "label_smoothing"];
const FIXED = ["dataset", "trick", "batch_size", "seed"];
const $ = (id) => document.getElementById(id);

function showError(e) { $("error").textContent = e ? String(e.message || e) : ""; }

function numberOf(id) { const v = $(id).value; return v.includes(".") || v.includes("e") ? parseFloat(v) : parseInt(v, 10); }

function settings(keys) {
  const out = {};
  for (const k of keys) out[k] = (k === "dataset" || k === "trick" || k === "loss") ? $(k).value : numberOf(k);
  for (const k of ["lr_g", "lr_d", "label_smoothing"]) if (k in out) out[k] = parseFloat($(k).value);
  return out;
}

async function act(fn) {
  try { showError(null); await fn(); } catch (e) { showError(e); }
}

function fill(select, values) { for (const v of values) select.appendChild(el("option", { value: v }, v)); }

async function init() {
  markNav("lab");
  const o = await api("/api/lab/options");
  S.opts = o;
  fill($("dataset"), o.datasets); fill($("trick"), o.tricks); fill($("loss"), o.losses);
  const lim = o.limits;
  for (const [id, key] of [["lr_g", "lr"], ["lr_d", "lr"], ["d_steps", "d_steps"], ["batch_size", "batch_size"],
                           ["seed", "seed"], ["label_smoothing", "label_smoothing"]]) {
    $(id).min = lim[key][0]; $(id).max = lim[key][1];
  }
  const st = await api("/api/lab/state");
  for (const k of FIXED.concat(LIVE)) $(k).value = st.settings[k];
  $("start").onclick = () => act(() => api("/api/lab/start", {}));
  $("pause").onclick = () => act(() => api("/api/lab/pause", {}));
  $("step").onclick = () => act(() => api("/api/lab/step", { n: 1 }));
  $("reset").onclick = () => act(async () => {
    const body = Object.assign(settings(FIXED), settings(LIVE));
    if (body.dataset === "drawn") body.points = S.points;
    await api("/api/lab/reset", body);
    S.touched = false;
  });
  for (const k of FIXED) $(k).addEventListener("change", () => { S.touched = true; });
  $("clear").onclick = () => { S.points = []; drawOverlayOnly(); };
  for (const k of LIVE) $(k).addEventListener("change", () => act(async () => {
    await api("/api/lab/params", { [k]: k === "loss" ? $(k).value : parseFloat($(k).value) });
  }));
  setupDrawing();
  poll();
}

// ------------------------------------------------------------------ drawing points for the "drawn" data set
function setupDrawing() {
  const c = $("arrows");
  let down = false;
  const add = (e) => {
    if ($("dataset").value !== "drawn" || S.points.length >= 2000) return;
    const r = c.getBoundingClientRect();
    const px = (e.clientX - r.left) * c.width / r.width, py = (e.clientY - r.top) * c.height / r.height;
    const lim = S.dim === 2 ? S.lim : 3;
    S.points.push([+(px / c.width * 2 * lim - lim).toFixed(3), +(lim - py / c.height * 2 * lim).toFixed(3)]);
    drawOverlayOnly();
  };
  c.addEventListener("mousedown", (e) => { down = true; add(e); });
  c.addEventListener("mousemove", (e) => { if (down && Math.random() < 0.5) add(e); });
  window.addEventListener("mouseup", () => { down = false; });
}

function drawOverlayOnly() {
  const c = $("arrows"), g = c.getContext("2d");
  if (S.last) drawFrame(S.last); else g.clearRect(0, 0, c.width, c.height);
}

// ------------------------------------------------------------------ polling
const charts = {};
async function poll() {
  let delay = 500;
  try {
    const fresh = S.dataId === undefined;
    const st = await api("/api/lab/state?since=" + S.since + (fresh ? "&real=1" : ""));
    if (st.status.data_id !== S.dataId && !fresh) {  // a reset (here or elsewhere): new data, curves start over
      S.dataId = undefined; S.since = -1; S.rows = []; setTimeout(poll, 0); return;
    }
    if (fresh) { S.real = st.real; S.dataId = st.status.data_id; }
    S.rows = S.rows.concat(st.history).slice(-4000);
    if (S.rows.length) S.since = S.rows[S.rows.length - 1].step;
    if (st.status.step === 0) S.rows = [];
    render(st);
    delay = st.status.running ? 70 : 400;
  } catch (e) { showError(e); delay = 1500; }
  setTimeout(poll, delay);
}

function render(st) {
  const t0 = performance.now();
  draw(st);
  S.drawMs += performance.now() - t0;  // time spent drawing, read by bench/studio.py
}

function draw(st) {
  S.running = st.status.running;
  const text = (id, t) => { const e = $(id); if (e.textContent !== t) e.textContent = t; };  // no needless relayout
  text("status", st.status.error ? "stopped" : (st.status.running ? "training" : "paused"));
  if (st.status.error) showError(st.status.error);
  text("stepno", String(st.status.step));
  text("speed", st.status.running ? fmt(st.status.steps_per_s) : "–");
  const q = st.quality || {};
  text("modes", q.modes !== undefined ? String(q.modes) : "–");
  text("hq", q.hq !== undefined ? (100 * q.hq).toFixed(1) + " %" : "–");
  text("jsd", q.JSD !== undefined ? fmt(q.JSD) : "–");
  const value = (k) => { if (document.activeElement !== $(k) && $(k).value !== String(st.settings[k])) $(k).value = st.settings[k]; };
  for (const k of LIVE) value(k);
  if (!S.touched) for (const k of FIXED) value(k);
  // a poll between two of the trainer's frames gets the same frame again: nothing new to draw
  const key = st.status.data_id + ":" + st.status.frame_step + ":" + JSON.stringify(st.settings);
  const changed = key !== S.frameKey || !S.last;
  S.last = st.frame; S.dim = st.frame.dim; S.frameKey = key;
  if (changed) drawFrame(st.frame);
  // curves and findings change once per logged row (every 25 steps): redrawn only then, which spares the
  // browser a relayout and three chart repaints on most updates
  const rowsKey = S.rows.length + ":" + (S.rows.length ? S.rows[S.rows.length - 1].step : -1);
  if (rowsKey !== S.rowsKey) { S.rowsKey = rowsKey; drawCurves(); }
  const findKey = st.findings.length + ":" + (st.findings.length ? st.findings[st.findings.length - 1].step : -1);
  if (findKey !== S.findKey) { S.findKey = findKey; drawFindings(st.findings); }
  if (changed) { S.frames += 1; S.fpsN += 1; }  // updates that show a new step (or a new frame while paused)
  const now = performance.now();
  if (now - S.fpsT0 >= 1000) { $("ups").textContent = (S.fpsN * 1000 / (now - S.fpsT0)).toFixed(1); S.fpsT0 = now; S.fpsN = 0; }
}

function drawCurves() {
  if (!charts.loss) {
    charts.loss = new LineChart($("loss-chart"), [{ key: "Loss/D", label: "D loss", color: "#1f77b4" },
                                                   { key: "Loss/G", label: "G loss", color: "#d62728" }], "losses");
    charts.d = new LineChart($("d-chart"), [{ key: "D/real", label: "D(x)", color: "#1f77b4" },
                                            { key: "D/fake", label: "D(G(z))", color: "#d62728" },
                                            { key: "Score/real", label: "score real", color: "#6baed6" },
                                            { key: "Score/fake", label: "score fake", color: "#fc9272" }], "D's outputs");
    charts.q = new LineChart($("q-chart"), [{ key: "Eval/modes", label: "modes", color: "#2ca02c" },
                                            { key: "Eval/JSD", label: "JSD", color: "#9467bd" }], "quality");
    charts.dAll = charts.d.series; charts.qAll = charts.q.series;
  }
  const cols = { step: S.rows.map((r) => r.step) };
  for (const k of ["Loss/D", "Loss/G", "D/real", "D/fake", "Score/real", "Score/fake", "Eval/modes", "Eval/JSD"]) {
    cols[k] = S.rows.map((r) => (r[k] === undefined ? null : r[k]));
  }
  // show the series this run logs: D's probabilities (cross-entropy losses) or its raw scores; modes or JSD
  const has = (k) => S.rows.some((r) => r[k] !== undefined);
  charts.d.series = charts.dAll.filter((x) => has("D/real") ? x.key.startsWith("D/") : x.key.startsWith("Score/"));
  charts.q.series = charts.qAll.filter((x) => has(x.key));
  charts.loss.setData(cols); charts.d.setData(cols); charts.q.setData(cols);
}

function drawFindings(findings) {
  const ul = $("findings");
  ul.textContent = "";
  if (!findings.length) { ul.appendChild(el("li", { class: "hint" }, "no finding yet")); return; }
  for (const f of findings.slice().reverse().slice(0, 20)) {
    const li = el("li");
    li.appendChild(el("span", { class: "finding-name" }, f.event.replace("_", " ") + " @ " + f.step + ": "));
    li.appendChild(document.createTextNode(f.message + " Remedy: " + f.remedy));
    ul.appendChild(li);
  }
}

// ------------------------------------------------------------------ the plane (2-D) or the line (1-D)
function heatColour(v) {  // D(x): 0 (calls it fake) pale grey -> 1 (calls it real) green
  const t = v / 255, lo = [245, 245, 245], hi = [35, 139, 69];
  return lo.map((x, i) => Math.round(x + (hi[i] - x) * t));
}

const heatBuf = document.createElement("canvas");
function drawFrame(f) {
  $("legend2d").classList.toggle("hidden", f.dim !== 2);
  $("legend1d").classList.toggle("hidden", f.dim !== 1);
  if (f.dim === 2) draw2d(f); else draw1d(f);
}

function draw2d(f) {
  const hc = $("heat"), hg = hc.getContext("2d"), n = f.heat_n;
  S.lim = f.lim;
  heatBuf.width = n; heatBuf.height = n;
  const bg = heatBuf.getContext("2d"), img = bg.createImageData(n, n), heat = atob(f.heat);
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = heatColour(heat.charCodeAt(i));
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  bg.putImageData(img, 0, 0);
  hg.imageSmoothingEnabled = true;
  hg.drawImage(heatBuf, 0, 0, hc.width, hc.height);
  const c = $("arrows"), g = c.getContext("2d"), W = c.width, lim = f.lim;
  const X = (x) => (x + lim) / (2 * lim) * W, Y = (y) => (lim - y) / (2 * lim) * W;
  g.clearRect(0, 0, W, W);
  dots(g, f.fake, X, Y, "rgba(214,39,40,.8)", 2.2);
  dots(g, S.real || [], X, Y, "rgba(31,119,180,.6)", 2.4);
  if (S.points.length) dots(g, S.points, X, Y, "rgba(0,0,0,.9)", 3);
  let maxLen = 1e-12;
  for (const a of f.arrows) maxLen = Math.max(maxLen, Math.hypot(a[2], a[3]));
  g.strokeStyle = "#111"; g.fillStyle = "#111"; g.lineWidth = 1.2;
  for (const a of f.arrows) {  // lengths relative to the longest: the direction and the relative strength
    const s = 28 / maxLen, x0 = X(a[0]), y0 = Y(a[1]), x1 = x0 + a[2] * s, y1 = y0 - a[3] * s;
    arrow(g, x0, y0, x1, y1);
  }
}

function dots(g, pts, X, Y, colour, r) {  // squares: many times cheaper than arcs, the same at this size
  g.fillStyle = colour;
  for (const p of pts) g.fillRect(X(p[0]) - r, Y(p[1]) - r, 2 * r, 2 * r);
}

function arrow(g, x0, y0, x1, y1) {
  const len = Math.hypot(x1 - x0, y1 - y0);
  if (len < 0.5) return;
  g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke();
  const ux = (x1 - x0) / len, uy = (y1 - y0) / len, h = Math.min(5, len / 2);
  g.beginPath(); g.moveTo(x1, y1); g.lineTo(x1 - h * ux + h * 0.5 * uy, y1 - h * uy - h * 0.5 * ux);
  g.lineTo(x1 - h * ux - h * 0.5 * uy, y1 - h * uy + h * 0.5 * ux); g.closePath(); g.fill();
}

function draw1d(f) {
  const hc = $("heat"), g = hc.getContext("2d"), W = hc.width, H = hc.height;
  const xs = f.xs, x0 = xs[0], x1 = xs[xs.length - 1];
  const X = (x) => (x - x0) / (x1 - x0) * W;
  const top = 20, bottom = H - 60;
  const Yp = (v) => bottom - v * (bottom - top);
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  g.strokeStyle = "#e3e7ee";
  for (const v of [0, 0.5, 1]) { g.beginPath(); g.moveTo(0, Yp(v)); g.lineTo(W, Yp(v)); g.stroke(); }
  g.fillStyle = "#5b6675"; g.font = "11px system-ui"; g.fillText("1", 2, Yp(1) - 2); g.fillText("0.5", 2, Yp(0.5) - 2);
  const dens = Math.max(...f.p_data, ...f.p_g, 1e-9);
  const curve = (ys, colour, scale, dash) => {
    g.setLineDash(dash || []); g.strokeStyle = colour; g.lineWidth = 2; g.beginPath();
    ys.forEach((v, i) => { const y = Yp(Math.max(0, Math.min(1, v * scale))); if (i) g.lineTo(X(xs[i]), y); else g.moveTo(X(xs[i]), y); });
    g.stroke(); g.setLineDash([]);
  };
  curve(f.p_data, "rgba(31,119,180,.6)", 0.9 / dens);
  curve(f.p_g, "rgba(214,39,40,.6)", 0.9 / dens);
  curve(f.d_star, "#7b3294", 1, [6, 4]);
  if (f.probabilistic) curve(f.d, "#e08214", 1);
  else {  // a critic's score has no 0..1 scale: drawn min-max normalised
    const lo = Math.min(...f.d), hi = Math.max(...f.d);
    curve(f.d.map((v) => (v - lo) / Math.max(hi - lo, 1e-9)), "#e08214", 1);
  }
  g.fillStyle = "#5b6675";
  for (let t = Math.ceil(x0); t <= x1; t++) g.fillText(String(t), X(t) - 3, H - 4);
  const c = $("arrows"), a = c.getContext("2d");
  a.clearRect(0, 0, W, H);
  a.fillStyle = "rgba(31,119,180,.5)";
  for (const p of (S.real || []).slice(0, 300)) a.fillRect(X(p[0]) - 0.5, H - 44, 1, 10);
  a.fillStyle = "rgba(214,39,40,.7)";
  for (const p of f.fake.slice(0, 300)) a.fillRect(X(p[0]) - 0.5, H - 30, 1, 10);
  let maxLen = 1e-12;
  for (const r of f.arrows) maxLen = Math.max(maxLen, Math.abs(r[1]));
  a.strokeStyle = "#111"; a.fillStyle = "#111"; a.lineWidth = 1.2;
  f.arrows.slice(0, 40).forEach((r, i) => {
    const xa = X(r[0]), y = bottom + 8 + (i % 4) * 3;
    arrow(a, xa, y, xa + r[1] / maxLen * 30, y);
  });
}

init().catch(showError);
