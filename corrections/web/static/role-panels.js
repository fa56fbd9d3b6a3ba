// The command centre's pages for roles that supervise nobody: the analyst's risk models (no
// personal data: versions, who activated and signed them), the auditor's audit search and the
// trail's verification. Every datum goes in as text. Loaded after alerts-live.js, session.js.
(function () {
  "use strict";

  const { el, fmtTime } = window.CorrectionsAlerts;
  const $ = (id) => document.getElementById(id);
  const AUDIT_PAGE = 50;

  // --- analyst: the risk models (GET /api/v1/risk/models) -------------------------------

  // A model card's quality figures (held-out data), as numbers in Chinese notation.
  const NUMBER = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 3 });

  function metrics(card) {
    const m = (card && card.metrics) || {};
    const parts = [];
    if (m.auc !== undefined) parts.push(`AUC ${NUMBER.format(m.auc)}`);
    if (m.brier !== undefined) parts.push(`Brier ${NUMBER.format(m.brier)}`);
    if (m.base_rate !== undefined) parts.push(`基准率 ${NUMBER.format(m.base_rate * 100)}%`);
    const rows = card && card.data && card.data.rows;
    if (rows) parts.push(`训练 ${NUMBER.format(rows)} 条`);
    return parts.join("，") || "–";
  }

  async function models(api) {
    const view = await api("/api/v1/risk/models");
    $("models-active").textContent = view.active ? `启用中：${view.active}` : "未启用模型";
    const body = $("models-body");
    body.replaceChildren();
    for (const m of view.models) {
      const tr = el("tr", null, { "data-version": m.version, "data-active": m.active ? "1" : "0" });
      tr.append(
        el("td", m.version),
        el("td", m.active ? "启用中" : m.on_disk ? "可用" : "文件缺失"),
        el("td", m.activated_at ? fmtTime(m.activated_at) : "–"),
        el("td", m.activated_by || "–"),
        el("td", m.signed_by ? `${m.signed_by}（${m.signed_at || ""}）` : "未签署"),
        el("td", metrics(m.card)),
        el("td", m.problem || "", { class: "detail" }),
      );
      body.append(tr);
    }
    if (!view.models.length) {
      const tr = el("tr");
      tr.append(el("td", "无模型", { colspan: 7 }));
      body.append(tr);
    }
  }

  // --- auditor: the audit search (GET /api/v1/audit) and the check (…/verification) -----

  let auditApi = null;
  let auditPage = 1;
  let auditMounted = false;

  // A Beijing wall-clock time from a datetime-local field, as an instant the API takes.
  function beijing(value) {
    return value.length === 16 ? `${value}:00+08:00` : `${value}+08:00`;
  }

  function auditQuery() {
    const q = new URLSearchParams({ page: auditPage, page_size: AUDIT_PAGE });
    for (const input of $("audit-form").querySelectorAll("input, select")) {
      const value = input.value.trim();
      if (!value || !input.name) continue;
      q.set(input.name, input.type === "datetime-local" ? beijing(value) : value);
    }
    return q;
  }

  async function searchAudit() {
    const form = $("audit-form");
    try {
      const page = await auditApi("/api/v1/audit?" + auditQuery());
      for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
      $("audit-error").textContent = "";
      renderAudit(page);
    } catch (e) {
      if (e.message !== "unauthorized") CorrectionsSession.showProblem(form, e.body, $("audit-error"), e.message);
    }
  }

  function renderAudit(page) {
    const body = $("audit-body");
    body.replaceChildren();
    for (const r of page.items) {
      const subject = r.subject_ids
        ? `${r.subject_type || ""} ${r.subject_ids.replace(/^,|,$/g, "").split(",").join("、")}`
        : r.subject_type ? `${r.subject_type} ${r.subject_id ?? ""}` : "–";
      const tr = el("tr", null, { "data-id": r.id, "data-action": r.action });
      tr.append(
        el("td", fmtTime(r.occurred_at)),
        el("td", r.actor_username),
        el("td", r.actor_role || "–"),
        el("td", r.action),
        el("td", subject, { class: "detail" }),
        el("td", r.juvenile ? "是" : "否"),
        el("td", r.seq ?? "未封存"),
        el("td", r.request_id || "–"),
      );
      body.append(tr);
    }
    const pages = Math.max(1, Math.ceil(page.total / AUDIT_PAGE));
    $("audit-total").textContent = `共 ${page.total} 条`;
    $("audit-page").textContent = `第 ${auditPage} / ${pages} 页`;
    $("audit-prev").disabled = auditPage <= 1;
    $("audit-next").disabled = auditPage >= pages;
  }

  async function verify() {
    $("verify-run").disabled = true;
    $("verify-status").textContent = "校验中…";
    $("verify-status").dataset.state = "running";
    $("verify-findings").replaceChildren();
    try {
      const v = await auditApi("/api/v1/audit/verification");
      const scope = v.complete ? "全部" : `最近（自序号 ${v.first_seq} 起）`;
      const counts = `已核对${scope} ${v.checked} 条已封存记录，检查点 ${v.checkpoints} 个，待封存 ${v.unsealed} 条（${fmtTime(v.verified_at)}）`;
      $("verify-status").textContent = v.ok ? `审计链完好：${counts}` : `审计链异常：${counts}`;
      $("verify-status").dataset.state = v.ok ? "ok" : "broken";
      for (const f of v.findings) {
        $("verify-findings").append(el("li", `${f.kind_label_zh}：${f.text}`, { "data-kind": f.kind }));
      }
    } catch (e) {
      $("verify-status").textContent = e.message;
      $("verify-status").dataset.state = "failed";
    } finally {
      $("verify-run").disabled = false;
    }
  }

  function audit(api) {
    auditApi = api;
    auditPage = 1;
    if (!auditMounted) {
      auditMounted = true;
      $("audit-form").addEventListener("submit", (event) => {
        event.preventDefault();
        auditPage = 1;
        searchAudit();
      });
      $("audit-prev").addEventListener("click", () => { auditPage -= 1; searchAudit(); });
      $("audit-next").addEventListener("click", () => { auditPage += 1; searchAudit(); });
      $("verify-run").addEventListener("click", verify);
    }
    return Promise.all([searchAudit(), verify()]);
  }

  window.CorrectionsRolePanels = { models, audit };
})();
