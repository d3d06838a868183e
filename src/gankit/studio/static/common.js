// gankit studio: helpers shared by the pages (JSON requests, line charts with hover, navigation).
"use strict";

async function api(path, body) {
  const opts = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(path, opts);
  const data = await res.json().catch(() => ({ error: "HTTP " + res.status }));
  if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
  return data;
}

function markNav(page) {
  for (const a of document.querySelectorAll("header a[data-page]")) {
    a.classList.toggle("active", a.dataset.page === page);
  }
}

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(a >= 100 ? 0 : a >= 10 ? 2 : 3);
}

// A line chart on a canvas: series [{key, label, color}], data {step: [...], key: [...]}; hovering shows the
// values at the nearest step (also kept in canvas.dataset.hover, which the tests read).
class LineChart {
  constructor(canvas, series, title) {
    this.c = canvas; this.series = series; this.title = title || "";
    this.data = { step: [] }; this.hover = null;
    canvas.addEventListener("mousemove", (e) => {
      const r = canvas.getBoundingClientRect();
      this.hover = (e.clientX - r.left) * (canvas.width / r.width);
      this.draw();
    });
    canvas.addEventListener("mouseleave", () => { this.hover = null; this.draw(); });
  }
  setData(data) { this.data = data; this.draw(); }
  draw() {
    const c = this.c, g = c.getContext("2d"), W = c.width, H = c.height;
    const L = 44, R = 8, T = 18, B = 20;
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#5b6675"; g.font = "11px system-ui, sans-serif"; g.fillText(this.title, L, 12);
    const steps = this.data.step || [];
    let lo = Infinity, hi = -Infinity;
    for (const s of this.series) for (const v of (this.data[s.key] || [])) {
      if (v !== null && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!steps.length || lo === Infinity) { g.fillText("no data yet", L + 4, H / 2); return; }
    if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
    const x0 = steps[0], x1 = Math.max(steps[steps.length - 1], x0 + 1);
    const X = (s) => L + (s - x0) / (x1 - x0) * (W - L - R);
    const Y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    g.strokeStyle = "#e3e7ee"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = lo + (hi - lo) * i / 4, y = Y(v);
      g.beginPath(); g.moveTo(L, y); g.lineTo(W - R, y); g.stroke();
      g.fillStyle = "#5b6675"; g.fillText(fmt(v), 2, y + 4);
    }
    g.fillText(String(x0), L, H - 5); g.fillText(String(x1), W - R - 40, H - 5);
    let lx = L + 140;
    for (const s of this.series) {
      const ys = this.data[s.key] || [];
      g.strokeStyle = s.color; g.lineWidth = 1.5; g.beginPath();
      let pen = false;
      for (let i = 0; i < steps.length; i++) {
        const v = ys[i];
        if (v === null || v === undefined || !Number.isFinite(v)) { pen = false; continue; }
        if (pen) g.lineTo(X(steps[i]), Y(v)); else { g.moveTo(X(steps[i]), Y(v)); pen = true; }
      }
      g.stroke();
      g.fillStyle = s.color; g.fillRect(lx, 5, 10, 3); g.fillStyle = "#5b6675"; g.fillText(s.label, lx + 13, 11);
      lx += 18 + g.measureText(s.label).width;
    }
    if (this.hover !== null && this.hover >= L) {
      const target = x0 + (this.hover - L) / (W - L - R) * (x1 - x0);
      let best = 0;
      for (let i = 1; i < steps.length; i++) if (Math.abs(steps[i] - target) < Math.abs(steps[best] - target)) best = i;
      const x = X(steps[best]);
      g.strokeStyle = "#888"; g.beginPath(); g.moveTo(x, T); g.lineTo(x, H - B); g.stroke();
      const lines = ["step " + steps[best]].concat(this.series.map((s) => s.label + " " + fmt((this.data[s.key] || [])[best])));
      const w = Math.max(...lines.map((t) => g.measureText(t).width)) + 10;
      const bx = Math.min(x + 6, W - w - 2);
      g.fillStyle = "rgba(255,255,255,.92)"; g.fillRect(bx, T, w, lines.length * 13 + 6);
      g.strokeStyle = "#ccc"; g.strokeRect(bx, T, w, lines.length * 13 + 6);
      g.fillStyle = "#1d2430"; lines.forEach((t, i) => g.fillText(t, bx + 5, T + 14 + 13 * i));
      this.c.dataset.hover = lines.join("; ");
    }
  }
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
