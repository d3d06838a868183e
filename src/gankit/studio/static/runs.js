// The Runs page: every run folder under --runs, with links to its page and a two-run comparison.
"use strict";

async function load() {
  markNav("runs");
  const tbody = document.querySelector("#runs tbody");
  try {
    const { runs } = await api("/api/runs");
    tbody.textContent = "";
    if (!runs.length) {
      const tr = el("tr"); tr.appendChild(el("td", { colspan: "9" }, "no run folders under --runs yet"));
      tbody.appendChild(tr);
    }
    for (const r of runs) {
      const tr = el("tr");
      const box = el("input", { type: "checkbox", "data-run": r.name });
      box.addEventListener("change", pick);
      const td0 = el("td"); td0.appendChild(box); tr.appendChild(td0);
      const link = el("a", { href: "/run?run=" + encodeURIComponent(r.name), class: "run-link" }, r.name);
      const td1 = el("td"); td1.appendChild(link); tr.appendChild(td1);
      for (const k of ["dataset", "model", "method", "loss"]) tr.appendChild(el("td", {}, r.error ? "–" : String(r[k] ?? "–")));
      tr.appendChild(el("td", {}, r.step + (r.steps ? " / " + r.steps : "")));
      tr.appendChild(el("td", {}, String(r.samples)));
      const last = el("td");
      if (r.running) last.appendChild(el("span", { class: "badge" }, "training"));
      if (r.error) last.appendChild(el("span", { class: "error" }, r.error));
      tr.appendChild(last);
      tbody.appendChild(tr);
    }
  } catch (e) { document.getElementById("error").textContent = e.message; }
}

function pick() {
  const ticked = [...document.querySelectorAll("#runs input:checked")].map((b) => b.dataset.run);
  const btn = document.getElementById("compare");
  btn.disabled = ticked.length !== 2;
  btn.onclick = () => {
    location.href = "/compare?a=" + encodeURIComponent(ticked[0]) + "&b=" + encodeURIComponent(ticked[1]);
  };
}

load();
