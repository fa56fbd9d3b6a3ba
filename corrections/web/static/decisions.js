// The commander's decisions (待办决定) in the command centre: the district's queues (grade
// proposals, sanction and revocation proposals, flag proposals and active flags, trips
// waiting for the district or the city), each item with its person, what is proposed, the
// rules and articles, the evidence; each decided through the actions the item names (method,
// URL, the body's schema from /api/openapi.json) with a note the page requires, the lists a
// field chooses from loaded from the URLs the action names (never a typed id). Every datum goes
// in as text (textContent). Loaded after alerts-live.js and session.js.
(function () {
  "use strict";

  const { el, articleZh, fmtTime } = window.CorrectionsAlerts;
  const $ = (id) => document.getElementById(id);

  // Where each queue is read; `only`: the actions shown from it.
  function queues(role) {
    const level = role === "city" ? "city" : "district";
    return [
      { key: "grade", label: "分级调整", url: "/api/v1/grade-decisions?status=proposed&page_size=50" },
      { key: "sanction", label: "处罚与撤销建议", url: "/api/v1/proposals?status=proposed&page_size=50" },
      { key: "flag", label: "挂牌管控建议", url: "/api/v1/flags?status=proposed&page_size=50" },
      { key: "flag-active", label: "挂牌转化", url: "/api/v1/flags?status=active&page_size=50", only: ["convert"] },
      { key: "travel", label: "外出审批", url: `/api/v1/travel-permits?status=requested&approval_level=${level}&page_size=50` },
      // 检察监督: a procuratorate's 纠正意见 / 检察建议 waiting for the written reply.
      { key: "oversight", label: "检察监督", url: "/api/v1/oversight/opinions?status=open&page_size=50" },
    ];
  }

  const ACTION_LABELS = {
    approve: "批准", reject: "不予批准", accept: "采纳", decline: "不予采纳",
    open: "挂牌", review: "复查", convert: "转化（摘牌）", reply: "书面回复",
  };
  // A refusal's button is drawn as such.
  const NEGATIVE = new Set(["reject", "decline"]);
  // The form's labels, by the API's field name.
  const FIELD_LABELS = {
    note: "处理意见",
    reason: "理由",
    statement: "本人陈述/申辩",
    statement_not_taken_reason: "未能听取陈述申辩的原因",
    level: "挂牌级别",
    responsible_officer_id: "责任人",
    review_due_on: "复查日期",
    next_review_on: "下次复查日期",
    reply: "回复内容",
    document_number: "建议书文号",
  };
  // Proposals that go on to the court (or the deciding authority) with a 建议书: only their
  // acceptance asks for its number.
  const TO_COURT = new Set(["revocation", "return_to_custody"]);
  // The note a decision carries: the page never sends a decision without one.
  const NOTE_FIELDS = ["note", "reason"];
  const EVIDENCE_LABELS = { event: "监管记录", obligation: "义务", incident: "失联事件", risk_score: "风险评分" };

  let ctx = null; // api, role, username, onPerson(id, name), onDecided()
  const STATEMENT_FIELDS = ["statement", "statement_not_taken_reason"];
  let spec = null; // the API description (its body schemas), read once
  const choiceCache = new Map();
  const lists = new Map(); // queue key -> items
  let current = null; // {item, action, queue} in the dialog

  let mounted = false;

  // o: api (the session's), role, onPerson(id), onDecided(). Again after a new sign-in.
  function mount(o) {
    ctx = o;
    choiceCache.clear();
    if (!mounted) {
      mounted = true;
      $("decisions-kind").addEventListener("change", render);
      $("decision-cancel").addEventListener("click", () => $("decision-dialog").close());
      $("decision-form").addEventListener("submit", submit);
    }
    return load();
  }

  async function load() {
    const qs = queues(ctx.role);
    const pages = await Promise.all(
      qs.map((q) => ctx.api(q.url).catch((e) => ({ items: [], total: 0, error: e.message }))),
    );
    lists.clear();
    qs.forEach((q, i) => lists.set(q.key, { queue: q, page: pages[i] }));
    const select = $("decisions-kind");
    const chosen = select.value;
    select.replaceChildren(el("option", "全部", { value: "" }));
    let total = 0;
    for (const { queue, page } of lists.values()) {
      total += page.total || 0;
      select.append(el("option", `${queue.label}（${page.total || 0}）`, { value: queue.key }));
    }
    select.value = chosen;
    $("decisions-total").textContent = `共 ${total} 项`;
    render();
  }

  function render() {
    const chosen = $("decisions-kind").value;
    const body = $("decisions-list");
    body.replaceChildren();
    for (const { queue, page } of lists.values()) {
      if (chosen && chosen !== queue.key) continue;
      if (page.error) body.append(el("li", `${queue.label}：${page.error}`, { class: "error" }));
      for (const item of page.items) body.append(card(queue, item));
    }
    if (!body.children.length) body.append(el("li", "暂无待办决定", { class: "empty" }));
  }

  function line(label, text, cls) {
    const p = el("p", null, cls ? { class: cls } : undefined);
    p.append(el("span", label, { class: "label" }), el("span", text));
    return p;
  }

  function card(queue, item) {
    const person = item.person || { id: item.person_id };
    const li = el("li", null, {
      class: "decision",
      "data-queue": queue.key,
      "data-type": item.decision_type || queue.key,
      "data-id": item.id,
      "data-person-id": person.id,
    });
    const head = el("p", null, { class: "head" });
    const name = el("a", person.name || "–", { class: "person", "data-person-id": person.id, role: "button", tabindex: "0" });
    name.addEventListener("click", () => ctx.onPerson(person.id));
    head.append(
      el("span", item.decision_type_label_zh || queue.label, { class: "badge" }),
      name,
      el("small", person.office_name_zh || "", { class: "office" }),
    );
    li.append(head);
    li.append(line("建议", item.proposed_zh || "–", "proposed"));
    const rules = (item.rules || []).map((r) =>
      r.article ? `${r.label_zh || r.rule_id}（${articleZh(r.article)}）` : r.label_zh || r.rule_id,
    );
    li.append(line("依据", rules.length ? rules.join("；") : "–", "rules"));
    // Why, in words: a flag's or a trip's reason, a grade proposal's reasons.
    const why = item.reason || item.content || (item.reasons || []).map((r) => r.text_zh || r.label_zh).filter(Boolean).join("；");
    if (why) li.append(line("理由", why, "reason"));
    // What an office found, when an officer proposed it (经司法所调查核实).
    const facts = item.evidence && item.evidence.facts;
    if (facts) li.append(line("查实事实", facts, "facts"));
    const evidence = (item.evidence_refs || []).map((e) => `${EVIDENCE_LABELS[e.type] || e.type} #${e.id}`);
    li.append(line("证据", evidence.length ? evidence.join("、") : "无", "evidence"));
    const by = item.proposed_by === "system" ? "系统" : item.proposed_by || "–";
    const level = item.decided_at_level_label_zh ? ` · 决定：${item.decided_at_level_label_zh}` : "";
    li.append(el("p", `${by} 提出于 ${fmtTime(item.proposed_at)}${level}`, { class: "meta" }));
    const buttons = el("p", null, { class: "actions" });
    // Four eyes: a sanction proposal is decided by someone other than who proposed it.
    const own = item.decision_type === "sanction_proposal" && item.proposed_by === ctx.username;
    if (own) buttons.append(el("span", "本人提出的建议，须由其他人员决定", { class: "hint" }));
    for (const action of own ? [] : item.actions || []) {
      if (queue.only && !queue.only.includes(action.name)) continue;
      const b = el("button", ACTION_LABELS[action.name] || action.name, {
        type: "button",
        "data-action": action.name,
        class: NEGATIVE.has(action.name) ? "negative" : "positive",
      });
      b.addEventListener("click", () => open(queue, item, action));
      buttons.append(b);
    }
    li.append(buttons);
    return li;
  }

  async function openApi() {
    if (!spec) spec = await (await fetch("/api/openapi.json")).json();
    return spec;
  }

  async function choices(url) {
    if (!choiceCache.has(url)) choiceCache.set(url, ctx.api(url));
    return choiceCache.get(url);
  }

  function choiceLabel(c) {
    if (c.username !== undefined) return `${c.display_name || c.username}（${c.role_label_zh}，${c.unit_name_zh}）`;
    return c.article ? `${c.label_zh || c.code}（${articleZh(c.article)}）` : c.label_zh || c.code;
  }

  async function field(name, prop, required, action) {
    const id = `decision-field-${name}`;
    const wrap = el("div", null, { class: "field" });
    const label = el("label", (FIELD_LABELS[name] || name) + (required ? "（必填）" : ""), { for: id });
    let input;
    const source = action.choices && action.choices[name];
    if (source || prop.enum) {
      input = el("select", null, { id, name });
      input.append(el("option", "请选择", { value: "" }));
      const options = source
        ? (await choices(source)).map((c) => [c.id !== undefined ? c.id : c.code, choiceLabel(c)])
        : prop.enum.map((v) => [v, v]);
      for (const [value, text] of options) input.append(el("option", text, { value }));
    } else if (prop.format === "date") {
      input = el("input", null, { id, name, type: "date" });
    } else {
      input = el("textarea", null, { id, name, rows: NOTE_FIELDS.includes(name) ? 3 : 2 });
      if (prop.maxLength) input.setAttribute("maxlength", prop.maxLength);
    }
    input.dataset.type = prop.type || "string";
    if (required) input.dataset.required = "1";
    wrap.append(label, input, el("p", null, { class: "error field-error", "data-field": name, role: "alert" }));
    return wrap;
  }

  async function open(queue, item, action) {
    current = { queue, item, action };
    const person = (item.person && item.person.name) || "–";
    $("decision-title").textContent = `${ACTION_LABELS[action.name] || action.name}：${item.proposed_zh || queue.label}（${person}）`;
    $("decision-error").textContent = "";
    const fields = $("decision-fields");
    fields.replaceChildren();
    const dialog = $("decision-dialog");
    dialog.dataset.action = action.name;
    try {
      const schema = action.body_schema ? (await openApi()).components.schemas[action.body_schema] : null;
      const props = (schema && schema.properties) || { note: { type: "string", maxLength: 2000 } };
      const required = new Set((schema && schema.required) || []);
      for (const [name, prop] of Object.entries(props)) {
        if (action.body && name in action.body) continue; // given by the action (decision)
        // The person's statement (陈述/申辩) is asked before a sanction is imposed, not to
        // decline one.
        if (STATEMENT_FIELDS.includes(name) && action.body && action.body.decision === "declined") continue;
        if (name === "document_number" && action.body_schema === "ProposalDecision"
            && (!TO_COURT.has(item.kind) || (action.body && action.body.decision === "declined"))) continue;
        const must = required.has(name) || NOTE_FIELDS.includes(name);
        fields.append(await field(name, prop, must, action));
      }
    } catch (e) {
      $("decision-error").textContent = e.message;
    }
    if (!dialog.open) dialog.showModal();
    const first = fields.querySelector("select, textarea, input");
    if (first) first.focus();
  }

  async function submit(event) {
    event.preventDefault();
    if (!current) return;
    const { action, item, queue } = current;
    const form = $("decision-form");
    for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
    $("decision-error").textContent = "";
    const body = Object.assign({}, action.body || {});
    let missing = false;
    for (const input of $("decision-fields").querySelectorAll("select, textarea, input")) {
      const value = input.value.trim();
      if (!value) {
        if (input.dataset.required) {
          form.querySelector(`.field-error[data-field="${CSS.escape(input.name)}"]`).textContent = "必填";
          missing = true;
        }
        continue;
      }
      body[input.name] = input.dataset.type === "integer" ? Number(value) : value;
    }
    if (missing) return; // the page refuses an empty note: nothing is sent
    $("decision-ok").disabled = true;
    try {
      await ctx.api(action.href, { method: action.method, json: body });
      $("decision-dialog").close();
      current = null;
      $("decisions-done").textContent = `已${ACTION_LABELS[action.name] || action.name}：${item.proposed_zh || queue.label}（${(item.person && item.person.name) || "–"}）`;
      // The item leaves its list at once; the lists are read again behind it.
      const entry = lists.get(queue.key);
      entry.page.items = entry.page.items.filter((i) => i.id !== item.id);
      entry.page.total = Math.max(0, (entry.page.total || 1) - 1);
      render();
      await load();
      if (ctx.onDecided) ctx.onDecided();
    } catch (e) {
      if (e.message === "unauthorized") $("decision-dialog").close();
      else CorrectionsSession.showProblem(form, e.body, $("decision-error"), e.message);
    } finally {
      $("decision-ok").disabled = false;
    }
  }

  window.CorrectionsDecisions = { mount, load };
})();
