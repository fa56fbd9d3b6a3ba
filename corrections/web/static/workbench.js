// Officer workbench (司法所工作台). Sign-in and API calls: session.js (shared with the command
// centre; the token in memory only). Every datum goes into the page as text (textContent),
// never as HTML. The event forms are generated from GET /api/v1/event-types, the schema the
// API validates with; each opening of a form has its own Idempotency-Key.
(function () {
  "use strict";

  const { el, articleZh, fmtTime } = window.CorrectionsAlerts;
  const { showProblem } = window.CorrectionsSession;
  const $ = (id) => document.getElementById(id);
  const config = $("wb-config").dataset;
  const STATUS_LABELS = Object.fromEntries(JSON.parse(config.statusLabels).map((o) => [o.value, o.label_zh]));
  const STATUS_MOVES = JSON.parse(config.statusMoves);
  const OPEN_STATUSES = JSON.parse(config.openStatuses);
  const ID_MESSAGES = JSON.parse(config.idMessages);
  const PAGE_SIZE = 50;
  // How far the server's clock is from this browser's (the forms' "now" is the server's).
  const SKEW = Date.parse(config.serverNow) - Date.now();

  const state = { me: null, forms: new Map(), grounds: [], page: 1, person: null, tab: "today" };
  const PROPOSAL_STATUS = { proposed: "待决定", accepted: "已采纳", declined: "未采纳" };

  const session = CorrectionsSession.create({
    onSignedIn: async (me) => {
      state.me = me;
      $("who").textContent = `${me.role_label_zh} · ${me.unit.name_zh} · ${me.username}`;
      $("who").dataset.role = me.role;
      $("signin").hidden = true;
      $("app").hidden = false;
      try {
        const [types, grounds] = await Promise.all([
          api("/api/v1/event-types"),
          api("/api/v1/reasons?kind=proposal_ground"),
        ]);
        state.forms = new Map(types.map((t) => [t.code, t]));
        state.grounds = grounds;
        showTab("today");
      } catch (e) {
        report(e);
      }
    },
    onExpired: () => signOut("登录已过期，请重新登录"),
  });
  const api = session.api;

  function report(e) {
    if (e.message !== "unauthorized") $("app-error").textContent = e.message;
  }

  function signOut(message) {
    session.forget();
    state.me = null;
    for (const d of document.querySelectorAll("dialog")) d.close();
    $("app").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
  }

  $("signout").addEventListener("click", async () => {
    await session.signOut();
    signOut("");
  });

  // --- tabs ----------------------------------------------------------------------------

  function showTab(tab) {
    state.tab = tab;
    for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-pressed", String(b.dataset.tab === tab));
    for (const name of ["today", "caseload", "permits"]) $(`tab-${name}`).hidden = name !== tab;
    $("person").hidden = true;
    $("app-error").textContent = "";
    $("app-notice").textContent = "";
    const load = { today: loadToday, caseload: loadCaseload, permits: loadPermits }[tab];
    load().catch(report);
  }

  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showTab(b.dataset.tab));

  function personLink(person, personId) {
    const name = (person && person.name) || `对象 ${personId}`;
    const a = el("a", name, { class: "person", "data-person-id": personId, role: "button", tabindex: "0" });
    a.addEventListener("click", () => openPerson(personId));
    return a;
  }

  function cell(node) {
    const td = el("td");
    td.append(node);
    return td;
  }

  // --- today (今日待办): open obligations due within a week and missed ones not yet answered
  // (their alert live), the most urgent first ----------------------------------------------

  async function loadToday() {
    // The list shows the first 200; the counts are the server's totals (one row each).
    const totals = (due) => api(`/api/v1/obligations?todo=true&due=${due}&page_size=1`).then((p) => p.total);
    const [page, overdue, byToday] = await Promise.all([
      api("/api/v1/obligations?todo=true&due=week&page_size=200"),
      totals("overdue"),
      totals("today"),
    ]);
    const body = $("today-body");
    body.replaceChildren();
    for (const o of page.items) {
      const tr = el("tr", null, { "data-obligation-id": o.id, "data-person-id": o.person_id, "data-urgency": o.urgency, "data-kind": o.kind });
      const what = o.hours_required ? `${o.kind_label_zh}（${o.hours_done || 0}/${o.hours_required} 小时）` : o.kind_label_zh;
      const actions = el("td", null, { class: "actions" });
      for (const code of o.event_types || []) {
        const form = state.forms.get(code);
        if (!form) continue;
        const b = el("button", `登记${form.label_zh}`, { type: "button", "data-action": code });
        b.addEventListener("click", () => openEvent(o.person_id, o.person && o.person.name, code));
        actions.append(b);
      }
      tr.append(
        el("td", o.urgency_label_zh, { class: "urgency" }),
        cell(personLink(o.person, o.person_id)),
        el("td", (o.person && o.person.office_name_zh) || o.office_code),
        el("td", what),
        el("td", fmtDay(o.due_on)),
        actions,
      );
      body.append(tr);
    }
    const shown = page.total > page.items.length ? `（显示最紧急的 ${page.items.length} 项，共 ${page.total} 项）` : "";
    $("today-summary").textContent = `逾期 ${overdue} · 今日到期 ${byToday - overdue} · 7日内 ${page.total - byToday}${shown}`;
    $("today-empty").hidden = page.items.length > 0;
  }

  // A due day (a Beijing calendar day) in Chinese: 2026年12月11日 星期五.
  function fmtDay(day) {
    if (!day) return "–";
    const [y, m, d] = day.split("-").map(Number);
    const date = new Date(Date.UTC(y, m - 1, d, 4));
    return date.toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "long", day: "numeric", weekday: "short" });
  }

  // --- caseload (我的在矫人员) -------------------------------------------------------------

  async function loadCaseload() {
    const params = new URLSearchParams({ page: state.page, page_size: PAGE_SIZE });
    for (const [k, v] of new FormData($("caseload-filters"))) if (v) params.set(k, v);
    const page = await api(`/api/v1/persons?${params}`);
    const body = $("caseload-body");
    body.replaceChildren();
    for (const p of page.items) {
      const tr = el("tr", null, { "data-person-id": p.id, "data-status": p.status || "" });
      tr.append(
        cell(personLink(p, p.id)),
        el("td", p.category_label_zh || "–"),
        el("td", p.status_label_zh || "–"),
        el("td", p.grade_label_zh || "–"),
        el("td", p.term_start ? `${p.term_start} 至 ${p.term_end}` : "–"),
        el("td", p.office_name_zh || "–"),
      );
      body.append(tr);
    }
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    $("caseload-total").textContent = `共 ${page.total} 人`;
    $("caseload-page").textContent = `第 ${state.page} / ${pages} 页`;
    $("caseload-prev").disabled = state.page <= 1;
    $("caseload-next").disabled = state.page >= pages;
  }

  $("caseload-filters").addEventListener("change", () => { state.page = 1; loadCaseload().catch(report); });
  $("caseload-prev").addEventListener("click", () => { state.page -= 1; loadCaseload().catch(report); });
  $("caseload-next").addEventListener("click", () => { state.page += 1; loadCaseload().catch(report); });

  // --- the office's travel approvals (外出审批) ---------------------------------------------

  async function loadPermits() {
    const page = await api("/api/v1/travel-permits?status=requested&page_size=100");
    const body = $("permits-body");
    body.replaceChildren();
    for (const p of page.items) {
      const tr = el("tr", null, { "data-permit-id": p.id, "data-level": p.approval_level, "data-status": p.status });
      const actions = el("td", null, { class: "actions" });
      // Who decides it: the office's own trips here, the others wait for the district/city.
      const mine = p.approval_level === DECIDES[state.me.role];
      for (const a of mine ? p.actions || [] : []) {
        const b = el("button", a.name === "approve" ? "批准" : "不予批准", { type: "button", "data-action": a.name });
        b.addEventListener("click", () => openNote(a, p));
        actions.append(b);
      }
      if (!mine) actions.append(el("span", `待${p.approval_level_label_zh}`, { class: "hint" }));
      tr.append(
        cell(personLink(p.person, p.person_id)),
        el("td", p.proposed_zh || `${p.start_date} 至 ${p.end_date}`),
        el("td", p.destination || "–"),
        el("td", p.approval_level_label_zh),
        el("td", p.status_label_zh),
        actions,
      );
      body.append(tr);
    }
  }

  const DECIDES = { officer: "office", commander: "district", city: "city" };
  const LEVEL_RANK = { office: 0, district: 1, district_head: 1, city: 2 };

  // A decision on a trip: approve (a note optional) or reject (a note required: the server
  // says so beside the field).
  function openNote(action, permit) {
    const dialog = $("note-dialog");
    dialog.dataset.href = action.href;
    dialog.dataset.method = action.method;
    $("note-title").textContent = `${action.name === "approve" ? "批准" : "不予批准"}：${(permit.person && permit.person.name) || ""} ${permit.proposed_zh || ""}`;
    $("note-form").reset();
    showProblem($("note-form"), null, $("note-error"), "");
    dialog.showModal();
  }
  $("note-cancel").addEventListener("click", () => $("note-dialog").close());
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const dialog = $("note-dialog");
    const note = $("note-text").value.trim();
    try {
      await api(dialog.dataset.href, { method: dialog.dataset.method, json: note ? { note } : {} });
      dialog.close();
      await loadPermits();
    } catch (e) {
      if (e.message !== "unauthorized") showProblem($("note-form"), e.body, $("note-error"), e.message);
    }
  });

  // --- a person's page ------------------------------------------------------------------

  $("person-back").addEventListener("click", () => showTab(state.tab));

  function section(title, rows, attrs) {
    const box = el("div", null, Object.assign({ class: "person-section" }, attrs || {}));
    box.append(el("h3", title));
    if (!rows.length) box.append(el("p", "无", { class: "hint" }));
    for (const r of rows) box.append(el("p", r));
    return box;
  }

  // A read the caller may not make (a plan that does not exist: 404) shows as none.
  const optional = (p) => p.catch((e) => {
    if (e.message === "unauthorized") throw e;
    return null;
  });

  function riskLines(risk) {
    const s = risk && risk.latest;
    if (!s) return ["暂无评分（风险模型未启用或尚未评分）"];
    const lines = [`${s.band_label_zh}风险：${(s.probability * 100).toFixed(1)}%（模型 ${s.model_version}，${fmtTime(s.scored_at)}）`];
    for (const r of s.reasons) lines.push(`· ${r.label_zh}：${r.value_label_zh ?? r.value ?? "无"}（通常 ${r.typical_label_zh ?? r.typical}）`);
    if (risk.note_zh) lines.push(risk.note_zh);
    return lines;
  }

  // The risk box, with a button that fetches the score's explanation (PIPL art. 24) and
  // shows it below, printable.
  function riskSection(personId, risk) {
    const box = section("脱管风险（仅供参考）", riskLines(risk), { "data-section": "risk", class: "person-section advisory" });
    if (!(risk && risk.latest)) return box;
    const button = el("button", "打印说明", { type: "button", "data-action": "risk-explanation" });
    const out = el("div", null, { "data-section": "risk-explanation", class: "risk-explanation" });
    button.addEventListener("click", async () => {
      try {
        const x = await api(`/api/v1/persons/${personId}/risk/explanation`);
        const print = el("button", "打印", { type: "button" });
        print.addEventListener("click", () => window.print());
        out.replaceChildren(el("h4", "风险评分说明"), ...(x.text_zh || "").split("\n").map((line) => el("p", line)), print);
      } catch (e) {
        report(e);
      }
    });
    box.append(button, out);
    return box;
  }

  async function openPerson(personId) {
    const base = `/api/v1/persons/${personId}`;
    let person, grade, obligations, events, permits, monitoring, proposals, plans, risk;
    try {
      [person, grade, obligations, events, permits, monitoring, proposals, plans, risk] = await Promise.all([
        api(base),
        optional(api(base + "/grade")),
        api(base + "/obligations"),
        api(base + "/events?page_size=15"),
        optional(api(base + "/travel-permits")),
        optional(api(base + "/monitoring")),
        optional(api(base + "/proposals")),
        optional(api(base + "/correction-plans")),
        optional(api(base + "/risk")),
      ]);
    } catch (e) {
      report(e);
      return;
    }
    state.person = person;
    const plan = (plans || []).find((p) => p.status === "current") || (plans || [])[0];
    for (const name of ["today", "caseload", "permits"]) $(`tab-${name}`).hidden = true;
    $("person").hidden = false;
    $("person").dataset.personId = person.id;
    $("person-title").textContent = person.name || `对象 ${person.id}`;
    const identity = [
      `姓名：${person.name ?? "（不可见）"}`,
      person.gender_label_zh ? `性别：${person.gender_label_zh}` : null,
      person.id_number ? `身份证号码：${person.id_number}` : null,
      person.age !== undefined ? `年龄：${person.age}` : null,
      `类别：${person.category_label_zh || "–"}`,
      `状态：${person.status_label_zh || "–"}`,
      `矫正期：${person.term_start} 至 ${person.term_end}`,
      `司法所：${person.office_name_zh || "–"}`,
      person.phone ? `电话：${person.phone}` : null,
      person.address ? `居住地址：${person.address}` : null,
    ].filter(Boolean);
    const req = grade && grade.requirements;
    const gradeLines = grade
      ? [
          `${grade.grade_label_zh}（${grade.level_label_zh}），自 ${fmtTime(grade.since)}`,
          `下次评估：${grade.next_review_date}${grade.review_overdue ? "（已逾期）" : ""}`,
          ...(req
            ? [
                `报到：每 ${req.report_interval_days} 天；信息化核查：每 ${req.check_interval_days} 天；实地查访：每 ${req.visit_interval_days} 天`,
                `教育学习：每月 ${req.education_hours_per_month} 小时；社区服务：每月 ${req.service_hours_per_month} 小时`,
                req.travel_max_days ? `外出单次最长：${req.travel_max_days} 天` : "外出：按一般规定审批",
              ]
            : []),
        ]
      : [];
    const due = obligations.filter((o) => o.status === "open" || o.status === "missed");
    const obligationBox = section("待履行与未履行义务", []);
    obligationBox.lastChild.remove();
    if (!due.length) obligationBox.append(el("p", "无", { class: "hint" }));
    for (const o of due) {
      const p = el("p", `${o.kind_label_zh}：${o.opens_on} 至 ${o.due_on}（${o.status_label_zh}）`, { "data-obligation-id": o.id, "data-status": o.status });
      obligationBox.append(p);
    }
    $("person-body").replaceChildren(
      section("身份信息", identity, { "data-section": "identity" }),
      section("分级与管理要求", gradeLines, { "data-section": "grade" }),
      obligationBox,
      section("近期记录", events.items.map((e) => `${fmtTime(e.occurred_at)} ${e.type_label_zh}${e.note ? "：" + e.note : ""}`), { "data-section": "events" }),
      section("外出", (permits || []).map((p) => `${p.start_date} 至 ${p.end_date}（${p.days} 天）${p.destination || ""}：${p.status_label_zh}，${p.approval_level_label_zh}`), { "data-section": "permits" }),
      section("电子定位", (monitoring || []).map((m) => `${m.start_date} 至 ${m.end_date}：${m.ground_label_zh}${m.active ? "（使用中）" : ""}`), { "data-section": "monitoring" }),
      section("处罚与建议", (proposals || []).map((p) => `${fmtTime(p.created_at)} ${p.kind_label_zh}（${PROPOSAL_STATUS[p.status] || p.status}）${p.article ? "，" + articleZh(p.article) : ""}${p.proposed_by === "system" ? "，系统按规则提出" : "，" + p.proposed_by + " 提出"}`), { "data-section": "sanctions" }),
      section("矫正方案", plan ? [`第 ${plan.number} 版（${plan.status_label_zh}），下次调整 ${plan.next_review_on}`, plan.measures || ""].filter(Boolean) : [], { "data-section": "plan" }),
      riskSection(person.id, risk),
    );
    // What can be recorded for this person: the types their category allows.
    const select = $("record-type");
    select.replaceChildren();
    const mine = LEVEL_RANK[DECIDES[state.me.role]] ?? -1;
    for (const form of state.forms.values()) {
      if (form.only_for && !form.only_for.includes(person.category)) continue;
      // A decision recorded by a higher level (a warning: the district) is not offered here.
      if (form.decided_at_level && (LEVEL_RANK[form.decided_at_level] ?? 1) > mine) continue;
      select.append(el("option", form.label_zh, { value: form.code }));
    }
    $("status-open").disabled = !(STATUS_MOVES[person.status] || []).length;
    // A sanction is proposed only while the correction runs (the server says 409 after).
    $("proposal-open").disabled = !OPEN_STATUSES.includes(person.status);
  }

  $("record-open").addEventListener("click", () => {
    if (state.person) openEvent(state.person.id, state.person.name, $("record-type").value);
  });

  // --- the generated event form ----------------------------------------------------------

  // Now in Beijing time, as a datetime-local value (YYYY-MM-DDTHH:MM).
  function beijingNow() {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
        .formatToParts(new Date(Date.now() + SKEW))
        .map((p) => [p.type, p.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
  }

  function fieldInput(f, events) {
    let input;
    if (f.type === "enum" || f.type === "boolean") {
      input = el("select");
      const choices = f.type === "boolean" ? [{ value: "true", label_zh: "是" }, { value: "false", label_zh: "否" }] : f.choices;
      if (!f.required || f.default === undefined) input.append(el("option", "未填", { value: "" }));
      for (const c of choices) input.append(el("option", c.label_zh, { value: c.value }));
      if (f.default !== undefined && f.default !== null) input.value = String(f.default);
    } else if (f.type === "event_ids" || f.type === "event_id") {
      input = el("div", null, { class: "event-choices" });
      for (const e of events) {
        const box = el("input", null, { type: f.type === "event_ids" ? "checkbox" : "radio", name: f.name, value: e.id });
        const label = el("label", null, { class: "inline" });
        label.append(box, document.createTextNode(` ${fmtTime(e.occurred_at)} ${e.type_label_zh}`));
        input.append(label);
      }
      if (!events.length) input.append(el("span", "暂无记录可选", { class: "hint" }));
    } else if (f.type === "string" && (f.max_length || 0) > 100) {
      input = el("textarea", null, { rows: 2 });
    } else {
      input = el("input");
      const types = { datetime: "datetime-local", date: "date", number: "number" };
      input.type = types[f.type] || "text";
      if (f.type === "number") input.step = "0.5";
      if (f.type === "datetime") input.value = beijingNow();
    }
    if (f.max_length && "maxLength" in input) input.maxLength = f.max_length;
    input.dataset.name = f.name;
    input.dataset.type = f.type;
    return input;
  }

  async function openEvent(personId, personName, code) {
    const form = state.forms.get(code);
    if (!form) return;
    const needsEvents = form.fields.some((f) => f.type === "event_ids" || f.type === "event_id");
    let events = [];
    if (needsEvents) {
      try {
        events = (await api(`/api/v1/persons/${personId}/events?page_size=20`)).items;
      } catch (e) {
        report(e);
        return;
      }
    }
    const dialog = $("event-dialog");
    dialog.dataset.personId = personId;
    dialog.dataset.personName = personName || "";
    dialog.dataset.type = code;
    // One key per opening: a double click or a retry of this form records once.
    dialog.dataset.key = crypto.randomUUID();
    $("event-title").textContent = `登记：${form.label_zh}`;
    $("event-person").textContent = `矫正对象：${personName || "对象 " + personId}${form.article ? "（" + articleZh(form.article) + "）" : ""}`;
    const box = $("event-fields");
    box.replaceChildren();
    for (const f of form.fields) {
      const label = el("label", null, { "data-field": f.path });
      label.append(el("span", f.label_zh + (f.required ? " *" : "") + (f.type === "datetime" ? "（北京时间）" : "")));
      label.append(fieldInput(f, events));
      box.append(label, el("p", null, { class: "error field-error", "data-field": f.path }));
    }
    $("event-error").textContent = "";
    $("event-ok").disabled = false;
    dialog.showModal();
  }

  // A datetime-local value (Beijing time) as an aware ISO string.
  const beijingIso = (value) => (value.length === 16 ? `${value}:00+08:00` : `${value}+08:00`);

  function collect(form) {
    const body = { type: form.code, payload: {} };
    for (const f of form.fields) {
      const input = $("event-fields").querySelector(`[data-name="${CSS.escape(f.name)}"]`);
      let value;
      if (f.type === "event_ids") {
        value = [...input.querySelectorAll("input:checked")].map((i) => Number(i.value));
        if (!value.length) value = undefined;
      } else if (f.type === "event_id") {
        const chosen = input.querySelector("input:checked");
        value = chosen ? Number(chosen.value) : undefined;
      } else {
        const raw = input.value.trim();
        if (raw === "") value = undefined;
        else if (f.type === "boolean") value = raw === "true";
        else if (f.type === "number") value = Number(raw);
        else if (f.type === "datetime") value = beijingIso(raw);
        else value = raw;
      }
      if (value === undefined) continue;
      if (f.path.startsWith("payload.")) body.payload[f.name] = value;
      else body[f.name] = value;
    }
    return body;
  }

  $("event-cancel").addEventListener("click", () => $("event-dialog").close());

  $("event-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const dialog = $("event-dialog");
    const form = state.forms.get(dialog.dataset.type);
    const button = $("event-ok");
    if (button.disabled) return;
    button.disabled = true;
    try {
      const recorded = await api(`/api/v1/persons/${dialog.dataset.personId}/events`, {
        method: "POST",
        headers: { "Idempotency-Key": dialog.dataset.key },
        json: collect(form),
      });
      dialog.close();
      $("app-notice").textContent = `已登记：${recorded.type_label_zh || form.label_zh}（${dialog.dataset.personName || "对象 " + dialog.dataset.personId}，${fmtTime(recorded.occurred_at)}）`;
      await refresh(Number(dialog.dataset.personId));
    } catch (e) {
      if (e.message === "unauthorized") return;
      showProblem($("event-form"), e.body, $("event-error"), e.message);
      button.disabled = false;
    }
  });

  async function refresh(personId) {
    if (!$("person").hidden && state.person && state.person.id === personId) await openPerson(personId);
    else await { today: loadToday, caseload: loadCaseload, permits: loadPermits }[state.tab]();
  }

  // --- travel permit request (外出申请) ----------------------------------------------------

  $("permit-open").addEventListener("click", () => {
    const form = $("permit-form");
    form.reset();
    showProblem(form, null, $("permit-error"), "");
    $("permit-error").textContent = "";
    $("permit-done").hidden = true;
    $("permit-ok").disabled = false;
    $("permit-dialog").showModal();
  });
  $("permit-cancel").addEventListener("click", () => $("permit-dialog").close());

  $("permit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("permit-form");
    const data = Object.fromEntries(new FormData(form));
    $("permit-ok").disabled = true;
    try {
      const permit = await api(`/api/v1/persons/${state.person.id}/travel-permits`, { method: "POST", json: data });
      showProblem(form, null, $("permit-error"), "");
      $("permit-error").textContent = "";
      $("permit-done").textContent = `已提交：${permit.days} 天，${permit.status_label_zh}（${permit.approval_level_label_zh}）`;
      $("permit-done").dataset.status = permit.status;
      $("permit-done").dataset.level = permit.approval_level;
      $("permit-done").hidden = false;
      await openPerson(state.person.id);
    } catch (e) {
      if (e.message !== "unauthorized") showProblem(form, e.body, $("permit-error"), e.message);
      $("permit-ok").disabled = false;
    }
  });

  // --- sanction proposals with evidence (处罚建议, 经司法所调查核实) -------------------------------

  // The grounds of rules/sanctions.yaml that apply to this person's category, by what they propose.
  const groundsFor = (person) => state.grounds.filter((g) => !g.categories || g.categories.includes(person.category));

  function fillGrounds() {
    const kind = $("proposal-kind").value;
    const select = $("proposal-ground");
    select.replaceChildren();
    for (const g of groundsFor(state.person).filter((g) => g.proposes === kind)) {
      select.append(el("option", g.label_zh, { value: g.code, "data-article": articleZh(g.article) || "" }));
    }
    const chosen = select.selectedOptions[0];
    $("proposal-article").textContent = chosen ? `依据：${chosen.dataset.article}` : "";
  }
  $("proposal-kind").addEventListener("change", fillGrounds);
  $("proposal-ground").addEventListener("change", () => {
    const chosen = $("proposal-ground").selectedOptions[0];
    $("proposal-article").textContent = chosen ? `依据：${chosen.dataset.article}` : "";
  });

  $("proposal-open").addEventListener("click", async () => {
    const form = $("proposal-form");
    form.reset();
    showProblem(form, null, $("proposal-error"), "");
    $("proposal-done").hidden = true;
    $("proposal-ok").disabled = false;
    const kinds = new Map(groundsFor(state.person).map((g) => [g.proposes, g.proposes_label_zh]));
    $("proposal-kind").replaceChildren(...[...kinds].map(([code, label]) => el("option", label, { value: code })));
    fillGrounds();
    let events = [];
    try {
      events = (await api(`/api/v1/persons/${state.person.id}/events?page_size=100`)).items;
    } catch (e) {
      report(e);
      return;
    }
    const box = $("proposal-events");
    box.replaceChildren();
    for (const e of events) {
      const label = el("label", null, { class: "inline" });
      label.append(el("input", null, { type: "checkbox", name: "event_ids", value: e.id }), document.createTextNode(` ${fmtTime(e.occurred_at)} ${e.type_label_zh}`));
      box.append(label);
    }
    if (!events.length) box.append(el("span", "暂无记录可选：请先登记作为证据的记录", { class: "hint" }));
    // One key per opening: a double click or a retry proposes once.
    $("proposal-dialog").dataset.key = crypto.randomUUID();
    $("proposal-dialog").showModal();
  });
  $("proposal-cancel").addEventListener("click", () => $("proposal-dialog").close());

  $("proposal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("proposal-form");
    const button = $("proposal-ok");
    if (button.disabled) return;
    const data = new FormData(form);
    const body = {
      kind: data.get("kind"),
      ground: data.get("ground"),
      facts: data.get("facts").trim(),
      event_ids: data.getAll("event_ids").map(Number),
    };
    button.disabled = true;
    try {
      const made = await api(`/api/v1/persons/${state.person.id}/proposals`, {
        method: "POST",
        headers: { "Idempotency-Key": $("proposal-dialog").dataset.key },
        json: body,
      });
      showProblem(form, null, $("proposal-error"), "");
      $("proposal-done").textContent = `已提交：${made.kind_label_zh}建议（${PROPOSAL_STATUS[made.status]}），等待区司法局决定`;
      $("proposal-done").dataset.proposalId = made.id;
      $("proposal-done").hidden = false;
      await openPerson(state.person.id);
    } catch (e) {
      if (e.message !== "unauthorized") showProblem(form, e.body, $("proposal-error"), e.message);
      button.disabled = false;
    }
  });

  // --- status changes within the officer's level -----------------------------------------

  $("status-open").addEventListener("click", () => {
    const select = $("status-to");
    select.replaceChildren();
    for (const s of STATUS_MOVES[state.person.status] || []) select.append(el("option", STATUS_LABELS[s] || s, { value: s }));
    $("status-form").reset();
    showProblem($("status-form"), null, $("status-error"), "");
    $("status-error").textContent = "";
    $("status-dialog").showModal();
  });
  $("status-cancel").addEventListener("click", () => $("status-dialog").close());

  $("status-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("status-form");
    try {
      await api(`/api/v1/persons/${state.person.id}/status-changes`, { method: "POST", json: Object.fromEntries(new FormData(form)) });
      $("status-dialog").close();
      await openPerson(state.person.id);
    } catch (e) {
      if (e.message !== "unauthorized") showProblem(form, e.body, $("status-error"), e.message);
    }
  });

  // --- intake (入矫登记), the ID number checked as typed ------------------------------------

  $("intake-open").addEventListener("click", () => {
    const form = $("intake-form");
    form.reset();
    showProblem(form, null, $("intake-error"), "");
    $("intake-error").textContent = "";
    $("intake-done").hidden = true;
    $("intake-ok").disabled = false;
    $("intake-dialog").showModal();
  });
  $("intake-cancel").addEventListener("click", () => $("intake-dialog").close());

  function checkIdNumber() {
    const value = $("intake-id-number").value;
    const problem = value.trim().length >= 18 ? CorrectionsIdNumber.problem(value) : null;
    $("intake-id-error").textContent = problem ? ID_MESSAGES[problem] : "";
    return !problem;
  }
  $("intake-id-number").addEventListener("input", checkIdNumber);

  $("intake-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("intake-form");
    if (!checkIdNumber()) {
      // The message is at the field: bring it into view (the form scrolls).
      $("intake-id-number").focus();
      $("intake-id-error").scrollIntoView({ block: "center" });
      return;
    }
    const data = {};
    for (const [k, v] of new FormData(form)) if (v.trim() !== "") data[k] = v.trim();
    $("intake-ok").disabled = true;
    try {
      const person = await api("/api/v1/persons", { method: "POST", json: data });
      showProblem(form, null, $("intake-error"), "");
      $("intake-error").textContent = "";
      $("intake-done").textContent = `已登记：${person.name}（${person.status_label_zh}，应于 ${person.intake_deadline} 前报到）`;
      $("intake-done").dataset.personId = person.id;
      $("intake-done").hidden = false;
    } catch (e) {
      if (e.message !== "unauthorized") showProblem(form, e.body, $("intake-error"), e.message);
      const first = [...form.querySelectorAll(".field-error")].find((slot) => slot.textContent);
      (first || $("intake-error")).scrollIntoView({ block: "center" });
      $("intake-ok").disabled = false;
    }
  });
})();
