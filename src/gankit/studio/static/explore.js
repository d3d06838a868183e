// Explore a run's generator: a grid from a seed, the class (conditional runs), InfoGAN's codes, sliders for the
// first latent dimensions, a walk between two samples, PNG downloads. Toy runs are drawn as points.
"use strict";

const $ = (id) => document.getElementById(id);
const E = { info: null, lastGrid: null };
window.studio = E;

function query() {
  const q = new URLSearchParams({ run: $("run").value, n: $("n").value, seed: $("seed").value });
  if (E.info.num_classes && $("cls").value !== "") q.set("cls", $("cls").value);
  if (!E.info.toy) q.set("nrow", String(columns()));
  if (E.info.codes.cat && $("code").value !== "") q.set("code", $("code").value);
  if ($("pin").checked) q.set("z", [...document.querySelectorAll("#sliders input")].map((s) => s.value).join(","));
  const conts = [...document.querySelectorAll("#conts input")];
  if (conts.length) q.set("cont", conts.map((s) => s.value).join(","));
  return q;
}

function showError(e) { $("error").textContent = e ? (e.message || String(e)) : ""; }

async function fetchImage(url, img, canvas, link, name) {
  const res = await fetch(url);
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || "HTTP " + res.status);
  if ((res.headers.get("content-type") || "").startsWith("image/png")) {
    const blob = await res.blob();
    const src = URL.createObjectURL(blob);
    img.src = src; img.classList.remove("hidden"); canvas.classList.add("hidden");
    img.onload = () => { img.width = img.naturalWidth; };
    link.href = src;
  } else {
    const { points } = await res.json();
    drawPoints(canvas, points, name === "walk");
    canvas.classList.remove("hidden"); img.classList.add("hidden");
    link.href = canvas.toDataURL("image/png");
  }
}

function drawPoints(c, pts, path) {
  const g = c.getContext("2d"), W = c.width;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, W);
  let lim = 1e-3;
  for (const p of pts) for (const v of p) lim = Math.max(lim, Math.abs(v));
  lim *= 1.15;
  const oneD = pts.length && pts[0].length === 1;
  const X = (x) => (x + lim) / (2 * lim) * W, Y = (y) => (lim - y) / (2 * lim) * W;
  g.strokeStyle = "#e3e7ee"; g.beginPath(); g.moveTo(X(0), 0); g.lineTo(X(0), W); g.moveTo(0, Y(0)); g.lineTo(W, Y(0)); g.stroke();
  g.fillStyle = path ? "#1f77b4" : "rgba(214,39,40,.7)";
  pts.forEach((p, i) => {
    const y = oneD ? (path ? W / 2 : W / 2 + ((i * 37) % 80) - 40) : Y(p[1]);
    g.beginPath(); g.arc(X(p[0]), y, path ? 4 : 2, 0, 6.2832); g.fill();
  });
  g.fillStyle = "#5b6675"; g.font = "11px system-ui"; g.fillText("±" + lim.toFixed(2), 4, 12);
}

async function sample() {
  showError(null);
  try {
    await fetchImage("/api/explore/grid?" + query(), $("grid"), $("points"), $("download"), "grid");
  } catch (e) { showError(e); }
}

async function interpolate() {
  showError(null);
  const q = query();
  q.set("a", $("a").value); q.set("b", $("b").value); q.set("steps", $("steps").value);
  if ($("slerp").checked) q.set("slerp", "1");
  try { await fetchImage("/api/explore/interpolate?" + q, $("walk"), $("walk-points"), $("download-walk"), "walk"); }
  catch (e) { showError(e); }
}

async function choose() {
  showError(null);
  try {
    const info = await api("/api/explore/info?run=" + encodeURIComponent($("run").value));
    E.info = info;
    $("info").textContent = `${info.dataset} · ${info.method} · step ${info.step} · z ${info.z_dim}` +
      (info.uses_ema ? " · EMA weights" : "");
    $("n").max = info.toy ? 2000 : 64;
    $("n").value = info.toy ? 1000 : 16;
    $("cls-row").classList.toggle("hidden", !info.num_classes);
    $("cls").textContent = "";
    $("cls").appendChild(el("option", { value: "" }, "all, cycled"));
    for (let k = 0; k < info.num_classes; k++) $("cls").appendChild(el("option", { value: String(k) }, info.class_names[k] || String(k)));
    $("code-row").classList.toggle("hidden", !info.codes.cat);
    $("code").textContent = "";
    $("code").appendChild(el("option", { value: "" }, "random"));
    for (let k = 0; k < info.codes.cat; k++) $("code").appendChild(el("option", { value: String(k) }, String(k)));
    const mk = (parent, count, lo, hi, label) => {
      parent.textContent = "";
      for (let i = 0; i < count; i++) {
        const l = el("label"), s = el("input", { type: "range", min: lo, max: hi, step: "0.05", value: "0" });
        const v = el("span", {}, "0.00");
        s.addEventListener("input", () => { v.textContent = (+s.value).toFixed(2); sample(); });
        l.append(el("span", {}, label + i), s, v); parent.appendChild(l);
      }
    };
    mk($("sliders"), info.sliders, "-3", "3", "z");
    mk($("conts"), info.codes.cont, "-1", "1", "code c");
    await sample();
  } catch (e) { showError(e); }
}

function columns() {  // a conditional grid with classes cycled: one class per column
  const n = Math.max(1, +$("n").value || 1);
  if (E.info.num_classes && $("cls").value === "" && E.info.num_classes <= 64) return Math.min(E.info.num_classes, n);
  return Math.ceil(Math.sqrt(n));
}

function clickGrid(ev) {  // which tile was clicked: tiles of equal size, columns() per row
  const img = $("grid"), n = +$("n").value, cols = columns();
  const r = img.getBoundingClientRect();
  const col = Math.floor((ev.clientX - r.left) / r.width * cols), row = Math.floor((ev.clientY - r.top) / r.height * Math.ceil(n / cols));
  const idx = Math.min(n - 1, row * cols + col);
  if (E.pickB) $("b").value = idx; else $("a").value = idx;
  E.pickB = !E.pickB;
}

async function main() {
  markNav("explore");
  try {
    const { runs } = await api("/api/runs");
    for (const r of runs) $("run").appendChild(el("option", { value: r.name }, r.name));
    const want = new URLSearchParams(location.search).get("run");
    if (want && runs.some((r) => r.name === want)) $("run").value = want;
    if (!runs.length) { showError("no run folders under --runs"); return; }
  } catch (e) { showError(e); return; }
  $("run").addEventListener("change", choose);
  $("sample").onclick = sample;
  $("reseed").onclick = () => { $("seed").value = Math.floor(Math.random() * 1e6); sample(); };
  $("pin").addEventListener("change", sample);
  for (const id of ["cls", "code", "n", "seed"]) $(id).addEventListener("change", sample);
  $("interp").onclick = interpolate;
  $("grid").addEventListener("click", clickGrid);
  await choose();
}

main();
