// A run's page (/run?run=NAME) or two side by side (/compare?a=..&b=..): config, interactive curves from
// metrics.jsonl, the sample grids over training on a slider, scores and the doctor's verdict; a run still
// training is polled every 2 s.
"use strict";

class RunPanel {
  constructor(parent, name, index) {
    this.name = name; this.id = "p" + index;
    this.root = el("section", { class: "panel run-panel", id: this.id });
    parent.appendChild(this.root);
    this.root.innerHTML = "";
    const h = el("h2", {}, name); this.root.appendChild(h);
    this.status = el("p", { class: "hint" }); this.root.appendChild(this.status);
    this.verdict = el("p", { class: "verdict" }); this.root.appendChild(this.verdict);
    const box = el("div", { class: "sample-box" });
    this.slider = el("input", { type: "range", min: "0", max: "0", value: "0", class: "sample-slider" });
    this.stepLabel = el("span", { class: "hint" });
    this.img = el("img", { class: "sample-img", alt: "sample grid" });
    box.append(el("h2", {}, "Samples over training"), this.slider, this.stepLabel, el("br"), this.img);
    const body = el("div", { class: "run-body" }), curves = el("div");
    body.append(box, curves);
    this.root.appendChild(body);
    this.slider.addEventListener("input", () => this.showSample());
    this.lossCanvas = el("canvas", { class: "chart loss-chart", width: "440", height: "170" });
    this.dCanvas = el("canvas", { class: "chart d-chart", width: "440", height: "170" });
    this.pick = el("select", { class: "curve-pick" });
    this.anyCanvas = el("canvas", { class: "chart any-chart", width: "440", height: "150" });
    curves.append(el("h2", {}, "Curves"), this.lossCanvas, this.dCanvas, el("span", { class: "hint" }, "other curve: "),
                  this.pick, this.anyCanvas);
    this.loss = new LineChart(this.lossCanvas, [{ key: "Loss/D", label: "D loss", color: "#1f77b4" },
                                                { key: "Loss/G", label: "G loss", color: "#d62728" }], "losses");
    this.d = new LineChart(this.dCanvas, [{ key: "D/real", label: "D(x)", color: "#1f77b4" },
                                          { key: "D/fake", label: "D(G(z))", color: "#d62728" }], "D's outputs");
    this.any = new LineChart(this.anyCanvas, [], "");
    this.pick.addEventListener("change", () => this.showAny());
    this.scores = el("table", { class: "scores" });
    this.cfg = el("div", { class: "cfg" });
    this.root.append(el("h2", {}, "Scores"), this.scores, el("h2", {}, "Config"), this.cfg);
    this.samples = [];
  }

  async refresh() {
    const r = await api("/api/run?run=" + encodeURIComponent(this.name));
    this.data = r;
    const steps = r.config.steps;
    this.status.textContent = `step ${r.step}${steps ? " of " + steps : ""} · ${r.running ? "training (updates live)" : "not training"}`;
    this.verdict.textContent = "Doctor: " + (r.doctor.verdict || "–") + (r.doctor.summary ? "\n" + r.doctor.summary : "");
    this.loss.setData(r.curves); this.d.setData(r.curves);
    const keys = Object.keys(r.curves).filter((k) => k !== "step");
    if (this.pick.options.length !== keys.length) {
      const keep = this.pick.value;
      this.pick.textContent = "";
      for (const k of keys) this.pick.appendChild(el("option", { value: k }, k));
      if (keys.includes(keep)) this.pick.value = keep;
      else if (keys.includes("GradNorm/G")) this.pick.value = "GradNorm/G";
    }
    this.showAny();
    const atEnd = +this.slider.value === this.samples.length - 1 || !this.samples.length;
    this.samples = r.samples;
    this.slider.max = String(Math.max(0, r.samples.length - 1));
    if (atEnd) this.slider.value = this.slider.max;
    this.showSample();
    this.scores.textContent = "";
    const sc = Object.entries(r.scores);
    if (!sc.length) this.scores.appendChild(el("tr")).appendChild(el("td", {}, "no scores logged (train with --eval-every)"));
    for (const [k, v] of sc) { const tr = el("tr"); tr.append(el("th", {}, k), el("td", {}, fmt(v))); this.scores.appendChild(tr); }
    this.cfg.textContent = "";
    const t = el("table");
    for (const [k, v] of Object.entries(r.config)) {
      if (v === null || v === false) continue;
      const tr = el("tr"); tr.append(el("th", {}, k), el("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v)));
      t.appendChild(tr);
    }
    this.cfg.appendChild(t);
    return r.running;
  }

  showAny() {
    const k = this.pick.value;
    if (!k || !this.data) return;
    this.any.series = [{ key: k, label: k, color: "#2ca02c" }];
    this.any.setData(this.data.curves);
  }

  showSample() {
    if (!this.samples.length) { this.stepLabel.textContent = " no sample grids yet"; this.img.removeAttribute("src"); return; }
    const step = this.samples[+this.slider.value];
    this.stepLabel.textContent = ` step ${step} (${+this.slider.value + 1} of ${this.samples.length})`;
    this.img.src = "/api/run/sample?run=" + encodeURIComponent(this.name) + "&step=" + step;
    this.img.dataset.step = String(step);
  }
}

async function main() {
  markNav("runs");
  const q = new URLSearchParams(location.search);
  const names = location.pathname === "/compare" ? [q.get("a"), q.get("b")] : [q.get("run")];
  const parent = document.getElementById("panels");
  const panels = names.map((n, i) => new RunPanel(parent, n || "", i));
  window.studio = { panels };
  const tick = async () => {
    let live = false;
    try {
      for (const p of panels) live = (await p.refresh()) || live;
      document.getElementById("error").textContent = "";
    } catch (e) { document.getElementById("error").textContent = e.message; }
    if (live) setTimeout(tick, 2000);
  };
  tick();
}

main();
