// Command centre (指挥中心). Every string from the server goes into the page as text
// (textContent), never as HTML. The bearer token lives in this closure only: not in a cookie,
// not in storage, never in a URL; writes carry it in the Authorization header (CSRF-safe).
(function () {
  "use strict";

  const PAGE_SIZE = 50;
  // Shared with the wall display (alerts-live.js).
  const { LIVE, el, fmtTime, sortAlerts, who, where, describe } = window.CorrectionsAlerts;
  const state = {
    token: null,
    me: null,
    page: 1,
    total: 0,
    exact: true,
    alerts: new Map(), // id -> alert shown on this page
    lastEventId: null,
    abort: null,
    statsTimer: null,
    panels: new Set(), // what this role sees (applyRole)
  };

  const $ = (id) => document.getElementById(id);

  // Sign-in, the API calls with the token and its expiry: session.js (shared with the
  // workbench). state.token mirrors the session's token (the stream reads it).
  const session = CorrectionsSession.create({
    onSignedIn(me) {
      state.token = session.token();
      state.me = me;
      $("who").textContent = `${state.me.role_label_zh} · ${state.me.unit.name_zh} · ${state.me.username}`;
      $("who").dataset.role = state.me.role;
      $("signin").hidden = true;
      $("app").hidden = false;
      start();
    },
    onExpired: () => signOut("登录已过期，请重新登录"),
  });
  const api = session.api;

  $("signout").addEventListener("click", async () => {
    await session.signOut();
    signOut("");
  });

  // --- own password (修改密码): POST /api/v1/auth/password; this token stays valid --------

  $("change-password").addEventListener("click", () => {
    const form = $("password-form");
    form.reset();
    CorrectionsForms.clear(form);
    $("password-error").textContent = "";
    $("password-done").hidden = true;
    $("password-dialog").showModal();
    $("old-password").focus();
  });

  $("password-cancel").addEventListener("click", () => $("password-dialog").close());

  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("password-form");
    CorrectionsForms.clear(form);
    $("password-error").textContent = "";
    $("password-done").hidden = true;
    const password = $("new-password").value;
    if (password !== $("new-password-again").value) {
      $("error-new_password_again").textContent = form.dataset.mismatch;
      return;
    }
    $("password-ok").disabled = true;
    try {
      await api("/api/v1/auth/password", {
        method: "POST",
        json: { old_password: $("old-password").value, new_password: password },
      });
      form.reset();
      $("password-done").textContent = form.dataset.done;
      $("password-done").hidden = false;
    } catch (e) {
      if (e.message === "unauthorized") $("password-dialog").close(); // signed out
      else CorrectionsForms.show(form, e.body, $("password-error"), e.message || form.dataset.failed);
    } finally {
      $("password-ok").disabled = false;
    }
  });

  function signOut(message) {
    state.token = null;
    session.forget();
    if (state.abort) state.abort.abort();
    clearInterval(state.statsTimer);
    $("app").hidden = true;
    $("drawer").hidden = true;
    $("password-dialog").close();
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
  }

  // Each role lands on what it may see: the panels the template marks for it (data-roles).
  // A role none is for is told so in Chinese; a panel it may not read is never asked for (no
  // refused request, no stream retried in a loop).
  const NO_PAGE = "您的角色（{role}）在指挥中心没有可用的页面：请使用为该角色提供的工具，或联系系统管理员。";

  function applyRole(role) {
    const shown = new Set();
    for (const node of document.querySelectorAll("#app [data-roles]")) {
      const mine = node.dataset.roles.split(" ").includes(role);
      node.hidden = !mine;
      if (mine && node.classList.length) shown.add(node.classList[node.classList.length - 1]);
    }
    $("app").dataset.role = role;
    $("no-page").hidden = shown.size > 0;
    $("no-page-text").textContent = NO_PAGE.replace("{role}", state.me.role_label_zh || role);
    return shown;
  }

  const has = (panel) => state.panels.has(panel);

  function refresh() {
    if (has("kpis") || has("charts")) loadStats();
    if (has("lost")) loadLost();
    if (has("decisions")) CorrectionsDecisions.load();
    if (has("jobs")) loadJobs();
  }

  async function start() {
    state.page = 1;
    state.lastEventId = null;
    state.abort = new AbortController();
    state.panels = applyRole(state.me.role);
    const loads = [];
    if (has("alerts")) {
      stream(); // first: its opening line tells where the list below stands
      loads.push(loadAlerts());
    }
    if (has("kpis") || has("charts")) loads.push(loadStats());
    if (has("lost")) loads.push(loadLost());
    if (has("decisions")) {
      loads.push(
        CorrectionsDecisions.mount({
          api,
          role: state.me.role,
          username: state.me.username,
          onPerson: openPerson,
          onDecided: () => { if (has("kpis")) loadStats(); },
        }),
      );
    }
    if (has("jobs")) loads.push(loadJobs());
    if (has("models")) loads.push(CorrectionsRolePanels.models(api));
    if (has("audit")) loads.push(CorrectionsRolePanels.audit(api));
    await Promise.all(loads);
    state.statsTimer = setInterval(refresh, 30000);
  }

  // --- alerts --------------------------------------------------------------------------

  function statusFilter() {
    const v = $("filter-status").value;
    return v === "live" ? LIVE : [v];
  }

  function matches(alert) {
    const sev = $("filter-severity").value;
    return statusFilter().includes(alert.status) && (!sev || alert.severity === sev);
  }

  async function loadAlerts() {
    const q = new URLSearchParams({ page: state.page, page_size: PAGE_SIZE, order: "newest" });
    for (const s of statusFilter()) q.append("status", s);
    if ($("filter-severity").value) q.append("severity", $("filter-severity").value);
    const body = await api("/api/v1/alerts?" + q);
    state.total = body.total;
    // false: more than `total` (a long list is counted only so far)
    state.exact = body.total_exact !== false;
    state.alerts = new Map(body.items.map((a) => [a.id, a]));
    renderAlerts();
  }

  function renderAlerts(freshId) {
    const body = $("alerts-body");
    body.replaceChildren();
    for (const a of sortAlerts([...state.alerts.values()])) {
      const tr = el("tr", null, {
        "data-id": a.id,
        "data-kind": a.kind,
        "data-severity": a.severity,
        "data-status": a.status,
        "data-district-id": a.district_id,
      });
      if (a.id === freshId) tr.classList.add("fresh");
      tr.append(el("td", a.severity_label_zh + (a.escalation_level ? ` ↑${a.escalation_level}` : "")));
      tr.append(el("td", a.kind_label_zh));
      // Who (the name as the role may see it) and where (office); a system alert (a backup
      // failed) has no person: it is the system's.
      const person = el("td");
      person.append(a.person_id === null ? el("span", who(a), { class: "system" }) : personLink(a.person_id, who(a)));
      if (where(a)) person.append(el("small", where(a), { class: "office" }));
      tr.append(person);
      tr.append(el("td", describe(a), { class: "detail" }));
      tr.append(el("td", fmtTime(a.raised_at)));
      tr.append(el("td", a.status_label_zh));
      const actions = el("td");
      if (a.status === "open") actions.append(actionButton(a, "acknowledge", "签收"));
      actions.append(actionButton(a, "resolve", "解除"), actionButton(a, "dismiss", "驳回"));
      tr.append(actions);
      body.append(tr);
    }
    // A long list is counted only so far ("1000+"): its pages go on while they are full.
    const pages = Math.max(1, Math.ceil(state.total / PAGE_SIZE));
    $("alerts-page").textContent = state.exact ? `第 ${state.page} / ${pages} 页` : `第 ${state.page} 页`;
    $("alerts-total").textContent = `共 ${state.total}${state.exact ? "" : "+"} 条`;
    $("alerts-prev").disabled = state.page <= 1;
    $("alerts-next").disabled = state.exact ? state.page >= pages : state.alerts.size < PAGE_SIZE;
  }

  function actionButton(alert, action, label) {
    const b = el("button", label, { type: "button", "data-action": action });
    b.addEventListener("click", () => act(alert, action, label));
    return b;
  }

  function act(alert, action, label) {
    const dialog = $("note-dialog");
    $("note-title").textContent = `${label}：${alert.kind_label_zh}（${who(alert)}）`;
    $("note-text").value = "";
    $("note-error").textContent = "";
    dialog.dataset.alertId = alert.id;
    dialog.dataset.action = action;
    dialog.showModal();
    $("note-text").focus();
  }

  $("note-cancel").addEventListener("click", () => $("note-dialog").close());
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const dialog = $("note-dialog");
    const note = $("note-text").value.trim();
    const action = dialog.dataset.action;
    if (action !== "acknowledge" && note.length < 2) {
      $("note-error").textContent = "请填写处理说明";
      return;
    }
    try {
      const updated = await api(`/api/v1/alerts/${dialog.dataset.alertId}/${action}`, {
        method: "POST",
        json: note ? { note } : {},
      });
      applyAlert(updated);
      dialog.close();
    } catch (e) {
      $("note-error").textContent = e.message;
    }
  });

  function applyAlert(alert, fresh) {
    const known = state.alerts.has(alert.id);
    if (matches(alert)) {
      if (!known && state.page !== 1) return; // new ones show on the first page
      if (!known) state.total += 1;
      state.alerts.set(alert.id, alert);
    } else if (known) {
      state.alerts.delete(alert.id);
      state.total = Math.max(0, state.total - 1);
    } else {
      return;
    }
    renderAlerts(fresh ? alert.id : undefined);
  }

  $("alerts-prev").addEventListener("click", () => { state.page -= 1; loadAlerts(); });
  $("alerts-next").addEventListener("click", () => { state.page += 1; loadAlerts(); });
  $("filter-severity").addEventListener("change", () => { state.page = 1; loadAlerts(); });
  $("filter-status").addEventListener("change", () => { state.page = 1; loadAlerts(); });

  // --- the live stream (alerts-live.js follows it: fetch + SSE parsing) ----------------

  function setStream(s, text) {
    $("stream-state").dataset.state = s;
    $("stream-state").textContent = text;
  }

  function stream() {
    return CorrectionsAlerts.follow({
      url: "/api/v1/alerts/stream?timeout=300",
      signal: state.abort.signal,
      active: () => state.token !== null,
      headers: () => ({ Authorization: "Bearer " + state.token }),
      lastEventId: () => state.lastEventId,
      onState: setStream,
      onBlock: handleBlock,
      onUnauthorized: () => signOut("登录已过期，请重新登录"),
    });
  }

  function handleBlock({ id, event, data, after }) {
    // Its opening line tells where the list loaded beside it stands.
    if (after !== null && state.lastEventId === null) state.lastEventId = after;
    if (event === "restart") {
      // The server's change log restarted (a restored database): our last id means nothing
      // there. Count from its newest change and reload the list; live alerts follow too.
      state.lastEventId = id;
      loadAlerts();
      return;
    }
    if (event !== "alert" || !data.length) return;
    if (id !== null && (state.lastEventId === null || id > state.lastEventId)) {
      state.lastEventId = id;
    }
    const alert = JSON.parse(data.join("\n"));
    applyAlert(alert, alert.change === "raised");
    clearTimeout(state.refresh);
    state.refresh = setTimeout(() => {
      if (has("kpis")) loadStats();
      if (has("lost")) loadLost();
    }, 1500);
  }

  // --- panels --------------------------------------------------------------------------

  async function loadStats() {
    const s = await api("/api/v1/stats/overview");
    $("kpi-rate").textContent =
      s.in_control_rate === null ? "–" : (s.in_control_rate * 100).toFixed(2) + "%";
    $("kpi-active").textContent = s.active_persons;
    $("kpi-lost").textContent = s.lost_contact_now;
    $("kpi-absconded").textContent = s.absconded_now;
    $("kpi-alerts").textContent = s.open_alerts_by_kind.reduce((n, c) => n + c.count, 0);
    $("kpi-missed").textContent = s.obligations_missed_this_month;
    $("kpi-approvals").textContent = s.grade_decisions_awaiting_approval;
    $("kpi-levels").replaceChildren(
      ...s.by_level.map((c) => el("span", `${c.label_zh || c.key} ${c.count}`, { "data-level": c.key })),
    );
    drawCharts(s);
  }

  // Charts in Chinese: plotly's zh-CN locale (plotly-locale-zh-cn.js: months, weekdays, the
  // separators), dates as 12月05日, counts as whole numbers with a thousands comma, Chinese
  // axis titles; the hover says what a bar is in words.
  const CHART_LAYOUT = {
    margin: { l: 44, r: 8, t: 28, b: 40 },
    paper_bgcolor: "#16233a",
    plot_bgcolor: "#16233a",
    font: { color: "#e6edf5", size: 11 },
    height: 190,
    separators: ".,",
  };
  const CHART_CONFIG = { displayModeBar: false, responsive: true, locale: "zh-CN" };

  // Counts are whole: ticks a whole step apart (no 0.5 人).
  function chartLayout(title, xTitle, counts, extra) {
    const top = Math.max(1, ...counts);
    return Object.assign({}, CHART_LAYOUT, {
      title: { text: title },
      xaxis: Object.assign({ title: { text: xTitle, standoff: 6 }, automargin: true }, extra || {}),
      yaxis: { title: { text: "人数" }, tickformat: ",d", rangemode: "tozero", dtick: Math.max(1, Math.ceil(top / 4)) },
    });
  }

  function drawCharts(s) {
    if (!window.Plotly) return;
    const perDay = chartLayout("近30日预警", "日期", s.alerts_per_day.map((d) => d.count), { type: "date", tickformat: "%m月%d日", hoverformat: "%Y年%m月%d日" });
    perDay.yaxis.title.text = "预警数";
    Plotly.react(
      "chart-alerts",
      [{ type: "bar", x: s.alerts_per_day.map((d) => d.day), y: s.alerts_per_day.map((d) => d.count), marker: { color: "#ffb74d" }, hovertemplate: "%{x}：%{y:,d} 条<extra></extra>" }],
      perDay,
      CHART_CONFIG,
    );
    Plotly.react(
      "chart-grades",
      [{ type: "bar", x: s.by_grade.map((c) => c.label_zh || c.key), y: s.by_grade.map((c) => c.count), marker: { color: "#64b5f6" }, hovertemplate: "%{x}：%{y:,d} 人<extra></extra>" }],
      chartLayout("分级人数", "管理等级", s.by_grade.map((c) => c.count)),
      CHART_CONFIG,
    );
    const bands = s.risk_bands || [];
    Plotly.react(
      "chart-risk",
      [{ type: "bar", x: bands.map((c) => c.label_zh || c.key), y: bands.map((c) => c.count), marker: { color: "#e57373" }, hovertemplate: "%{x}：%{y:,d} 人<extra></extra>" }],
      chartLayout(bands.length ? "脱管风险" : "脱管风险（模型未启用）", "风险等级", bands.map((c) => c.count)),
      CHART_CONFIG,
    );
  }

  async function loadLost() {
    const rows = await api("/api/v1/incidents");
    const body = $("lost-body");
    body.replaceChildren();
    for (const r of rows) {
      const tr = el("tr", null, { "data-state": r.state, "data-person-id": r.person_id });
      const who = el("td");
      const person = r.person || {};
      who.append(personLink(r.person_id, person.name));
      if (person.office_name_zh) who.append(el("span", ` · ${person.office_name_zh}`, { class: "office" }));
      tr.append(who, el("td", r.state_label_zh), el("td", `${r.hours_since_contact} 小时`), el("td", fmtTime(r.last_contact_at)));
      body.append(tr);
    }
  }

  const RUN_LABELS = { running: "运行中", succeeded: "成功", partial: "部分失败", failed: "失败", interrupted: "中断" };

  async function loadJobs() {
    if (!["commander", "city", "admin"].includes(state.me.role)) return;
    const view = await api("/api/v1/system/jobs");
    $("leader").textContent = view.leader ? `调度主机 ${view.leader}` : "调度未运行";
    const body = $("jobs-body");
    body.replaceChildren();
    for (const j of view.jobs) {
      const last = j.last_run;
      const tr = el("tr", null, { "data-job": j.name, "data-status": last ? last.status : "never" });
      // Why the last failure failed (its errors come in the page's language), on hover.
      const failure = j.last_failure;
      // The first 20 errors come (errors_total counts them all).
      const shown = failure ? Object.entries(failure.errors || {}) : [];
      const more = failure && failure.errors_total > shown.length ? `…共 ${failure.errors_total} 条错误` : "";
      const why = failure
        ? [...shown.map(([k, v]) => `${k}：${v}`), more, failure.error].filter(Boolean).join("\n")
        : "";
      tr.append(
        el("td", j.label_zh),
        el("td", last ? fmtTime(last.started_at) : "未运行"),
        el("td", last ? (RUN_LABELS[last.status] || last.status) + (failure ? `（最近失败 ${fmtTime(failure.started_at)}）` : "") : "–", why ? { title: why } : undefined),
        el("td", fmtTime(j.next_run_at)),
      );
      body.append(tr);
    }
  }

  // --- the person drawer ---------------------------------------------------------------

  function personLink(personId, name) {
    const a = el("a", name || `对象 ${personId}`, { class: "person", "data-person-id": personId, role: "button", tabindex: "0" });
    a.addEventListener("click", () => openPerson(personId));
    return a;
  }

  $("drawer-close").addEventListener("click", () => { $("drawer").hidden = true; });

  function section(title, rows) {
    const box = el("div");
    box.append(el("h3", title));
    if (!rows.length) box.append(el("p", "无"));
    for (const r of rows) box.append(el("p", r));
    return box;
  }

  function riskLines(risk) {
    const s = risk && risk.latest;
    if (!s) return ["暂无评分（风险模型未启用或尚未评分）"];
    const lines = [`${s.band_label_zh}风险：${(s.probability * 100).toFixed(1)}%（模型 ${s.model_version}，${fmtTime(s.scored_at)}）`];
    for (const r of s.reasons) lines.push(`· ${r.label_zh}：${r.value ?? "无"}（通常 ${r.typical}）`);
    lines.push(risk.note_zh);
    return lines;
  }

  async function openPerson(personId) {
    const base = `/api/v1/persons/${personId}`;
    const [person, grade, obligations, events, incidents, flags, risk] = await Promise.all([
      api(base),
      api(base + "/grade"),
      api(base + "/obligations?status=open"),
      api(base + "/events?page_size=10"),
      api(base + "/incidents"),
      api(base + "/flags"),
      api(base + "/risk"),
    ]);
    $("drawer-title").textContent = `${person.name}（对象 ${person.id}）`;
    const body = $("drawer-body");
    body.replaceChildren(
      section("基本情况", [
        `类别：${person.category_label_zh || person.category}`,
        `状态：${person.status_label_zh || person.status}`,
        `矫正期：${person.term_start} 至 ${person.term_end}`,
      ]),
      section("分级", [`${grade.grade_label_zh || grade.grade}（${grade.level_label_zh || grade.level}）`]),
      section("待履行义务", obligations.map((o) => `${o.kind_label_zh || o.kind}：${o.opens_on} 至 ${o.due_on}`)),
      section("近期记录", events.items.map((e) => `${fmtTime(e.occurred_at)} ${e.type_label_zh}${e.note ? "：" + e.note : ""}`)),
      section("脱管风险", riskLines(risk)),
      section("失联事件", incidents.map((i) => `${i.state_label_zh}，失联 ${i.absence_days} 天${i.proposals.length ? "，建议：" + i.proposals.map((p) => p.kind_label_zh).join("、") : ""}`)),
      section("挂牌管控", flags.map((f) => `${f.level_label_zh}（${f.status_label_zh}）：${f.reason}`)),
    );
    $("drawer").hidden = false;
  }
})();
