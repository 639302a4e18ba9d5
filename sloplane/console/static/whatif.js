// sloplane console: the "what if" objective control on an SLO page (the only script).
// It recomputes the budget and status from numbers already on the page: the SLO's error
// ratio over the window and the burn rate per alert window, with the same rules as the API
// (burn = error ratio / (1 - objective); breached below zero left; at risk under 25% left,
// while an alert window burns, or while an alert fires).
(function () {
  "use strict";
  var section = document.getElementById("whatif");
  if (!section) { return; }
  var num = function (s) { return s === "" || s === undefined ? null : Number(s); };
  var objective = num(section.dataset.objective);
  var errorRatio = num(section.dataset.errorRatio);
  var windowMinutes = num(section.dataset.windowMinutes);
  var alerts = Number(section.dataset.alerts || "0");
  var budget0 = 1 - objective;
  var rows = Array.prototype.slice.call(document.querySelectorAll("#burn-table tbody tr"));
  // per-window error ratios, recovered from the API's burn rates at the real objective
  var windows = rows.map(function (tr) {
    var lr = num(tr.dataset.long), sr = num(tr.dataset.short);
    return { threshold: num(tr.dataset.threshold),
             longRatio: lr === null ? null : lr * budget0,
             shortRatio: sr === null ? null : sr * budget0 };
  });
  var input = document.getElementById("whatif-objective");
  var out = { total: document.getElementById("whatif-total"),
              remaining: document.getElementById("whatif-remaining"),
              status: document.getElementById("whatif-status") };
  var labels = { ok: "OK", at_risk: "At risk", breached: "Breached", no_data: "No data",
                 insufficient_data: "Insufficient data" };
  // Too little history is a fact about the data, not the objective: it stays whatever the target.
  var fixedStatus = section.dataset.status === "insufficient_data" ? "insufficient_data" : null;
  function pct(x, d) { return (x * 100).toFixed(d) + "%"; }
  function minutes(m) {
    var a = Math.abs(m), s = m < 0 ? "\u2212" : "";
    if (a < 60) { return s + a.toFixed(1) + " min"; }
    var whole = Math.round(a), hours = Math.round(a / 60);
    if (whole < 1440) { return s + Math.floor(whole / 60) + "h " + (whole % 60) + "m"; }
    return s + Math.floor(hours / 24) + "d " + (hours % 24) + "h";
  }
  function update() {
    var obj = Number(input.value) / 100;
    if (!(obj > 0 && obj < 1)) { out.status.textContent = "objective must be between 0 and 100%"; return; }
    var budget = 1 - obj;
    out.total.textContent = minutes(budget * windowMinutes);
    if (errorRatio === null) {
      out.remaining.textContent = "\u2014"; out.status.textContent = labels.no_data;
      out.status.className = "status status-no_data"; return;
    }
    var remaining = 1 - errorRatio / budget;
    var burning = windows.some(function (w) {
      return w.longRatio !== null && w.shortRatio !== null &&
        w.longRatio / budget > w.threshold && w.shortRatio / budget > w.threshold;
    });
    var status = fixedStatus ||
      (remaining < 0 ? "breached" : (alerts > 0 || burning || remaining < 0.25) ? "at_risk" : "ok");
    out.remaining.textContent = pct(remaining, 2) + " (" + minutes(remaining * budget * windowMinutes) + ")";
    out.status.textContent = labels[status];
    out.status.className = "status status-" + status;
  }
  input.addEventListener("input", update);
  section.hidden = false;
  update();
})();
