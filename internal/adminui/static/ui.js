// switchyard admin UI: small progressive enhancements. Every page works
// without this file; it adds confirmations, select-all, the dead letters'
// refresh while replays run, and the backfill bar's polling.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  var all = document.getElementById("all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="id"]').forEach(function (c) { c.checked = all.checked; });
    });
  }
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    window.setTimeout(function () { window.location.reload(); }, parseInt(refresh.getAttribute("data-refresh"), 10) || 2000);
  }
  var bf = document.getElementById("backfill");
  if (bf && bf.getAttribute("data-done") !== "true") pollBackfill(bf);
});

function setText(id, v) {
  var el = document.getElementById(id);
  if (el) el.textContent = v;
}

function pollBackfill(bf) {
  var url = bf.getAttribute("data-poll");
  var started = !document.getElementById("bf-none");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        if (p.error && p.phase === undefined) { setText("bf-error", p.error); return; }
        if (p.started && !started) { window.location.reload(); return; }
        var bar = document.getElementById("bf-bar");
        if (bar) { bar.value = p.fraction; bar.textContent = Math.round(p.fraction * 100) + "%"; }
        var fetchBar = document.getElementById("bf-fetch");
        if (fetchBar) fetchBar.value = p.fetch_fraction;
        setText("bf-pct", Math.round(p.fraction * 100) + "%");
        setText("bf-phase", p.phase);
        setText("bf-fetched", p.fetched);
        setText("bf-total", p.total === null ? "?" : p.total);
        setText("bf-summary", p.summary);
        setText("bf-elapsed", p.elapsed);
        setText("bf-eta", p.eta || "estimating…");
        setText("bf-error", p.error || "");
        if (p.done) { window.location.reload(); return; }
        window.setTimeout(tick, 1000);
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  window.setTimeout(tick, 1000);
}
