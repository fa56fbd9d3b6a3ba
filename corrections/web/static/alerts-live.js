// What the command centre (指挥中心) and the wall display (大屏) share: elements built with
// text only (textContent, never HTML), times in Beijing time, the order and wording of alerts,
// and following the live alert stream. Loaded before either page's own script.
(function () {
  "use strict";

  // The server writes its messages (problem details) in the language asked for: the page's.
  const LANGUAGE = document.documentElement.lang || "zh-CN";
  const LIVE = ["open", "acknowledged"];
  const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  // An article as the page shows it: the rules files' "(UNVERIFIED)" marker of a number not
  // checked against the official text, said in Chinese (core/rules.py article_zh).
  function articleZh(article) {
    return article ? String(article).replace(/\s*\(UNVERIFIED[^)]*\)/g, "（条号待核实）") : article;
  }

  function fmtTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return d.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  }

  // Most severe first, then the newest (as the API's order=newest pages them).
  function sortAlerts(list) {
    return list.sort(
      (a, b) =>
        SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
        b.raised_at.localeCompare(a.raised_at) ||
        b.id - a.id,
    );
  }

  const OBLIGATION_LABELS = { report: "报到", check: "信息化核查", visit: "实地走访", education: "教育学习", service: "社区服务" };
  const PROPOSAL_LABELS = { admonition: "训诫", warning: "警告", revocation: "提请撤销缓刑/假释", return_to_custody: "提请收监执行", police_penalty: "提请治安管理处罚" };

  // Who an alert is about: the person's name as the role may see it (a juvenile's masked),
  // or 系统 for the system's own (a backup failed).
  function who(alert) {
    if (alert.person_id === null || alert.person_id === undefined) return "系统";
    return alert.person_name || "–";
  }

  // Where: the judicial office and its district (a system alert has none).
  function where(alert) {
    return [alert.district_name_zh, alert.office_name_zh].filter(Boolean).join(" · ");
  }

  // What happened, in Chinese: the server's one line (summary_zh), with a system alert's
  // error kinds; from the coded details for an alert without one.
  function describe(alert) {
    const d = alert.detail || {};
    if (alert.summary_zh) {
      const errors = Array.isArray(d.errors) && d.errors.length ? `，错误：${d.errors.join("、")}` : "";
      return alert.summary_zh + errors;
    }
    const parts = [];
    // A system alert's kind names its job (备份失败); the detail gives the run and error kinds.
    if (d.run_id) parts.push(`运行 #${d.run_id}`);
    if (Array.isArray(d.errors) && d.errors.length) parts.push(`错误：${d.errors.join("、")}`);
    if (d.obligation_kind) parts.push(OBLIGATION_LABELS[d.obligation_kind] || d.obligation_kind);
    if (d.due_on) parts.push(`应于 ${d.due_on}`);
    if (d.proposal) parts.push(`建议${PROPOSAL_LABELS[d.proposal] || d.proposal}`);
    if (d.absence_days !== undefined) parts.push(`失联 ${d.absence_days} 天`);
    if (d.end_date) parts.push(`截止 ${d.end_date}`);
    if (d.stage) parts.push(d.stage === "discharge_due" ? "应解除矫正" : "应作期满小结");
    if (d.alarm) parts.push(`报警 ${d.alarm}`);
    if (parts.length) return parts.join("，");
    return alert.kind_label_zh || "–";
  }

  // One Server-Sent Events message: its id, event, data lines, and (the stream's opening
  // comment) the change it starts after.
  function parseBlock(block) {
    const out = { id: null, event: "message", data: [], after: null };
    for (const line of block.split("\n")) {
      if (line.startsWith(": stream of alert changes after ")) out.after = Number(line.slice(33));
      else if (line.startsWith("id: ")) out.id = Number(line.slice(4));
      else if (line.startsWith("event: ")) out.event = line.slice(7);
      else if (line.startsWith("data: ")) out.data.push(line.slice(6));
    }
    return out;
  }

  const pause = (ms) => new Promise((r) => setTimeout(r, ms));

  // Follow a live alert stream with fetch (EventSource can send no bearer token), reconnecting
  // with Last-Event-ID after every end or failure, until ``o.signal`` aborts or ``o.active()``
  // says stop. o: url, signal, active(), headers() (extra request headers), lastEventId(),
  // onState(state, text), onBlock(parsed message), onUnauthorized() (a 401 ends it).
  async function follow(o) {
    while (o.active() && !o.signal.aborted) {
      try {
        o.onState("connecting", "实时连接中…");
        const headers = Object.assign({ "Accept-Language": LANGUAGE }, o.headers());
        const last = o.lastEventId();
        if (last !== null) headers["Last-Event-ID"] = String(last);
        const resp = await fetch(o.url, { headers, signal: o.signal, credentials: "same-origin" });
        if (resp.status === 401) return o.onUnauthorized();
        // A role that may not follow alerts: refused for good, never asked again in a loop.
        if (resp.status === 403) {
          o.onState("refused", "无权查看实时预警");
          return o.onForbidden ? o.onForbidden() : undefined;
        }
        if (resp.status === 429) {
          // Too many open streams (other pages of this user or display, or a full server).
          const wait = Math.max(1, Number(resp.headers.get("Retry-After")) || 30);
          o.onState("retrying", `实时连接数已达上限，${wait} 秒后重试`);
          await pause(wait * 1000);
          continue;
        }
        if (!resp.ok) throw new Error(String(resp.status));
        o.onState("open", "实时");
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            o.onBlock(parseBlock(buffer.slice(0, cut)));
            buffer = buffer.slice(cut + 2);
          }
        }
      } catch (e) {
        if (o.signal.aborted) return;
      }
      o.onState("retrying", "连接中断，重连中…");
      await pause(1000);
    }
  }

  window.CorrectionsAlerts = { LANGUAGE, LIVE, SEVERITY_RANK, el, articleZh, fmtTime, sortAlerts, who, where, describe, parseBlock, follow };
})();
