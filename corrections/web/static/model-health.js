// Risk model health (风险模型监测): GET /api/v1/risk/health as a table, newest month first.
// Figures only (no person). Every string from the server goes in as text, never as HTML.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const STATUS = { ok: "正常", alert: "越过阈值", insufficient: "样本不足" };
  const CHECKS = { auc: "AUC 下降", brier: "Brier 上升", calibration_slope: "校准斜率", psi: "PSI" };
  let labels = {};

  const session = CorrectionsSession.create({
    onSignedIn(me) {
      $("who").textContent = `${me.role_label_zh} · ${me.username}`;
      $("signin").hidden = true;
      $("app").hidden = false;
      load();
    },
    onExpired: () => signOut("登录已过期，请重新登录"),
  });

  function signOut(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message;
  }

  $("signout").addEventListener("click", async () => {
    await session.signOut();
    signOut("");
  });

  const fixed = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  const day = (iso) => (iso ? new Date(iso).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" }) : "–");

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function crossedText(crossed) {
    return crossed
      .map((c) => {
        const what = c.feature ? `${CHECKS[c.check] || c.check}（${labels[c.feature] || c.feature}）` : CHECKS[c.check] || c.check;
        return `${what} ${fixed(c.value, 3)}`;
      })
      .join("；");
  }

  async function load() {
    $("health-error").textContent = "";
    let body;
    try {
      body = await session.api("/api/v1/risk/health");
    } catch (e) {
      if (e.message !== "unauthorized") $("health-error").textContent = e.message;
      return;
    }
    labels = body.feature_labels || {};
    $("active-model").textContent = body.active_model || "无";
    const t = body.thresholds;
    $("thresholds").textContent =
      `阈值（${t.version}）：AUC 低于留出集 ${t.auc_drop} 以上；Brier 高于留出集 ${t.brier_rise} 以上；` +
      `校准斜率不在 [${t.calibration_slope.low}, ${t.calibration_slope.high}]；PSI 超过 ${t.psi}；` +
      `失联数少于 ${t.min_positives} 时不判断 AUC、Brier 与校准。`;
    const tbody = $("health-body");
    tbody.replaceChildren();
    for (const c of body.checks) {
      const row = document.createElement("tr");
      row.dataset.month = c.month;
      row.dataset.status = c.status;
      const psis = Object.values(c.psi || {});
      cell(row, c.month);
      cell(row, c.model_version);
      // [start, end): the last day shown is the day before the end.
      const last = c.window_end ? new Date(new Date(c.window_end).getTime() - 1).toISOString() : null;
      cell(row, `${day(c.window_start)} – ${day(last)}`);
      cell(row, String(c.scores), "num");
      cell(row, String(c.positives), "num");
      cell(row, fixed(c.auc, 3), "num auc");
      cell(row, fixed(c.holdout_auc, 3), "num");
      cell(row, fixed(c.brier, 4), "num");
      cell(row, fixed(c.calibration_slope, 2), "num");
      cell(row, fixed(c.calibration_intercept, 2), "num");
      cell(row, fixed(c.psi_score, 3), "num");
      cell(row, psis.length ? fixed(Math.max(...psis), 3) : "–", "num");
      cell(row, STATUS[c.status] || c.status, "status");
      cell(row, crossedText(c.crossed || []), "crossed");
      tbody.appendChild(row);
    }
    $("health-empty").hidden = body.checks.length > 0;
  }
})();
