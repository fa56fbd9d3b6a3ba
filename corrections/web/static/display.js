// Wall display (大屏): one district's open alerts live and its statistics, full screen.
//
// Enrolled once: /display#token=... (the page takes the token out of the address at once,
// before anything else runs) or the form. The server answers with an HttpOnly cookie scoped to
// /api/v1/display, where the display's read-only routes are: the token never sits in this
// script, in storage or in the address afterwards, no script on the page (an injected one
// included) can read it, and no other site's page can send it (SameSite=Strict). A reload, a
// restart of the browser or a night without use keeps the board: a display's token does not
// expire; it ends only when it is revoked. Every datum goes in as text (textContent).
(function () {
  "use strict";

  const { LANGUAGE, el, fmtTime, sortAlerts, describe } = window.CorrectionsAlerts;
  const $ = (id) => document.getElementById(id);
  const BASE = "/api/v1/display";
  const PAGE_SIZE = 100;
  const state = {
    alerts: new Map(), // id -> alert on the board
    total: 0,
    exact: true,
    lastEventId: null,
    abort: null,
    timers: [],
  };

  // The token in the address, taken out of it before anything else (history, a screenshot).
  const hashToken = (() => {
    const match = /^#token=([A-Za-z0-9_-]{1,200})$/.exec(location.hash);
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    return match ? match[1] : null;
  })();

  async function call(path, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ "Accept-Language": LANGUAGE }, opts.headers);
    const resp = await fetch(path, opts);
    const json = resp.status !== 204 && resp.headers.get("Content-Type")?.includes("json");
    const body = json ? await resp.json() : null;
    if (!resp.ok) {
      const err = new Error((body && body.detail) || `请求失败（HTTP ${resp.status}）`);
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  // --- enrolment -----------------------------------------------------------------------

  function showEnrol(message) {
    stop();
    $("board").hidden = true;
    $("enrol").hidden = false;
    $("enrol-error").textContent = message || "";
    $("enrol-token").focus();
  }

  async function enrol(token) {
    return call(BASE + "/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
  }

  $("enrol-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("enrol-token");
    $("enrol-error").textContent = "";
    $("enrol-button").disabled = true;
    try {
      const display = await enrol(input.value.trim());
      input.value = "";
      start(display);
    } catch (e) {
      $("enrol-error").textContent = e.message;
    } finally {
      $("enrol-button").disabled = false;
    }
  });

  async function boot() {
    try {
      if (hashToken) return start(await enrol(hashToken));
      const session = await call(BASE + "/session");
      if (session.enrolled) start(session.display);
      else showEnrol("");
    } catch (e) {
      if (e.status === 401) showEnrol(e.message);
      else {
        // The server cannot be reached now: try again shortly (a wall has nobody to click).
        showEnrol("暂时无法连接服务器，稍后自动重试");
        setTimeout(boot, 10000);
      }
    }
  }

  function revoked() {
    showEnrol("此大屏的授权已撤销或失效，请联系管理员重新登记。");
  }

  // --- the board -----------------------------------------------------------------------

  function stop() {
    if (state.abort) state.abort.abort();
    state.abort = null;
    for (const t of state.timers) clearInterval(t);
    state.timers = [];
  }

  function start(display) {
    stop();
    $("enrol").hidden = true;
    $("board").hidden = false;
    $("board-title").textContent = `${display.district_name_zh} · 社区矫正指挥中心`;
    $("display-name").textContent = display.name;
    document.title = `${display.name} · 社区矫正指挥中心大屏`;
    state.lastEventId = null;
    state.abort = new AbortController();
    stream(); // first: its opening line tells where the list below stands
    loadAlerts().catch(failed);
    loadStats().catch(failed);
    tick();
    state.timers.push(setInterval(tick, 1000));
    state.timers.push(setInterval(() => loadStats().catch(failed), 30000));
    // A full reload of the list now and then, should a change have slipped past.
    state.timers.push(setInterval(() => loadAlerts().catch(failed), 600000));
  }

  function failed(e) {
    if (e.status === 401) revoked();
  }

  function tick() {
    $("clock").textContent = new Date().toLocaleString("zh-CN", {
      timeZone: "Asia/Shanghai",
      hour12: false,
      year: "numeric",
      month: "long",
      day: "numeric",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
  }

  async function loadAlerts() {
    const body = await call(`${BASE}/alerts?page_size=${PAGE_SIZE}`);
    state.total = body.total;
    // false: more than `total` (a long list is counted only so far)
    state.exact = body.total_exact !== false;
    state.alerts = new Map(body.items.map((a) => [a.id, a]));
    renderAlerts();
  }

  function renderAlerts(freshId) {
    const rows = sortAlerts([...state.alerts.values()]).map((a) => {
      const tr = el("tr", null, {
        "data-id": a.id,
        "data-kind": a.kind || "",
        "data-severity": a.severity || "",
        "data-status": a.status || "",
      });
      if (a.id === freshId) tr.classList.add("fresh");
      tr.append(
        el("td", (a.severity_label_zh || "–") + (a.escalation_level ? ` ↑${a.escalation_level}` : "")),
        el("td", a.kind_label_zh || "–"),
        el("td", a.person_name || "–", { class: "person" }),
        el("td", a.office_name_zh || "–"),
        el("td", a.summary_zh || describe(a), { class: "detail" }),
        el("td", fmtTime(a.raised_at)),
        el("td", a.status_label_zh || "–"),
      );
      return tr;
    });
    $("alerts-body").replaceChildren(...rows);
    $("alerts-empty").hidden = rows.length > 0;
    $("alerts-total").textContent = `共 ${state.total}${state.exact ? "" : "+"} 条`;
  }

  const LIVE = new Set(CorrectionsAlerts.LIVE);

  function applyAlert(alert) {
    const known = state.alerts.has(alert.id);
    if (LIVE.has(alert.status)) {
      if (!known) {
        state.total += 1;
        // The board holds the first page; a new alert is the newest, so it belongs there.
      }
      state.alerts.set(alert.id, alert);
    } else if (known) {
      state.alerts.delete(alert.id);
      state.total = Math.max(0, state.total - 1);
    } else {
      return;
    }
    renderAlerts(alert.change === "raised" ? alert.id : undefined);
  }

  // --- the live stream -----------------------------------------------------------------

  function setStream(s, text) {
    $("stream-state").dataset.state = s;
    $("stream-state").textContent = text;
  }

  function stream() {
    const abort = state.abort;
    return CorrectionsAlerts.follow({
      url: BASE + "/alerts/stream?timeout=300",
      signal: abort.signal,
      active: () => state.abort === abort,
      headers: () => ({}), // the display's cookie goes by itself (same origin, its path)
      lastEventId: () => state.lastEventId,
      onState: setStream,
      onBlock: handleBlock,
      onUnauthorized: revoked,
    });
  }

  function handleBlock({ id, event, data, after }) {
    if (after !== null && state.lastEventId === null) state.lastEventId = after;
    if (event === "restart") {
      // The change log restarted (a restored database): count from its newest change.
      state.lastEventId = id;
      loadAlerts().catch(failed);
      return;
    }
    if (event !== "alert" || !data.length) return;
    if (id !== null && (state.lastEventId === null || id > state.lastEventId)) {
      state.lastEventId = id;
    }
    applyAlert(JSON.parse(data.join("\n")));
    clearTimeout(state.refresh);
    state.refresh = setTimeout(() => loadStats().catch(failed), 1500);
  }

  // --- statistics ----------------------------------------------------------------------

  function bars(target, counts) {
    const top = Math.max(1, ...counts.map((c) => c.count));
    $(target).replaceChildren(
      ...counts.map((c) => {
        const row = el("div", null, { class: "bar", "data-key": c.key });
        const track = el("div", null, { class: "track" });
        const fill = el("div", null, { class: "fill" });
        fill.style.width = `${(100 * c.count) / top}%`;
        track.append(fill);
        row.append(el("span", c.label_zh || c.key, { class: "label" }), track, el("span", c.count, { class: "count" }));
        return row;
      }),
    );
    if (!counts.length) $(target).append(el("p", "暂无", { class: "hint" }));
  }

  async function loadStats() {
    const s = await call(BASE + "/overview");
    $("kpi-rate").textContent =
      s.in_control_rate === null ? "–" : (s.in_control_rate * 100).toFixed(2) + "%";
    $("kpi-active").textContent = s.active_persons;
    $("kpi-lost").textContent = s.lost_contact_now;
    $("kpi-absconded").textContent = s.absconded_now;
    $("kpi-alerts").textContent = s.open_alerts_by_kind.reduce((n, c) => n + c.count, 0);
    const critical = s.open_alerts_by_severity.find((c) => c.key === "critical");
    $("kpi-critical").textContent = critical ? critical.count : 0;
    $("kpi-missed").textContent = s.obligations_missed_this_month;
    bars("by-level", s.by_level);
    bars("by-office", s.by_office);
    bars("by-kind", s.open_alerts_by_kind);
    const top = Math.max(1, ...s.alerts_per_day.map((d) => d.count));
    $("per-day").replaceChildren(
      ...s.alerts_per_day.map((d) => {
        const col = el("div", null, { class: "col", title: `${d.day}：${d.count} 条` });
        col.style.height = `${(100 * d.count) / top}%`;
        return col;
      }),
    );
    $("days-total").textContent = `共 ${s.alerts_per_day.reduce((n, d) => n + d.count, 0)} 条`;
    $("as-of").textContent = `统计时间 ${fmtTime(s.as_of)}`;
  }

  boot();
})();
