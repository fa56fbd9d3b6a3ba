// The sign-in shared by the command centre (指挥中心) and the officer workbench (司法所工作台):
// the sign-in form, the API calls with the bearer token, and the server's problem details.
// The token lives in this closure only: not in a cookie, not in storage, never in a URL; it
// goes in the Authorization header, so no other site can make the browser act (CSRF).
// Loaded after alerts-live.js (for the page's language).
(function () {
  "use strict";

  const LANGUAGE = document.documentElement.lang || "zh-CN";
  const $ = (id) => document.getElementById(id);

  // o: onSignedIn(me) after a sign-in, onExpired() when the server says the token is no good
  // (401). The page's form has the ids signin-form, username, password, signin-error.
  function create(o) {
    let token = null;

    async function api(path, options) {
      const opts = Object.assign({ headers: {} }, options || {});
      opts.headers = Object.assign(
        { Authorization: "Bearer " + token, "Accept-Language": LANGUAGE },
        opts.headers,
      );
      if (opts.json !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(opts.json);
        delete opts.json;
      }
      const resp = await fetch(path, opts);
      if (resp.status === 401) {
        token = null;
        o.onExpired();
        throw new Error("unauthorized");
      }
      // A 204 (sign-out, a password changed) has no body, whatever its Content-Type says.
      const json = resp.status !== 204 && resp.headers.get("Content-Type")?.includes("json");
      const body = json ? await resp.json() : null;
      if (!resp.ok) {
        const err = new Error((body && body.detail) || `请求失败（HTTP ${resp.status}）`);
        err.status = resp.status;
        err.body = body;
        throw err;
      }
      return body;
    }

    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("signin-error").textContent = "";
      const resp = await fetch("/api/v1/auth/token", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept-Language": LANGUAGE },
        body: JSON.stringify({ username: $("username").value, password: $("password").value }),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        // The server's problem detail, in Chinese (e.g. 用户名或密码错误。).
        $("signin-error").textContent = body.detail || `登录失败（HTTP ${resp.status}）`;
        return;
      }
      $("password").value = "";
      token = body.access_token;
      const me = await api("/api/v1/auth/me");
      o.onSignedIn(me);
    });

    return {
      api,
      token: () => token,
      // Forget the token here (the page hides its data itself).
      forget: () => { token = null; },
      // Sign out at the server too (DELETE /auth/token), then forget.
      async signOut() {
        try {
          await api("/api/v1/auth/token", { method: "DELETE" });
        } catch (e) {
          /* signed out either way */
        }
        token = null;
      },
    };
  }

  // Where a problem+json's errors go in a form: each beside the field it names. A slot is an
  // element with class field-error and data-field the API's name; a payload's member
  // (json.payload.x or payload.x) finds the slot of x. What names no slot goes to `general`.
  function showProblem(form, body, general, fallback) {
    for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
    general.textContent = "";
    if (!body && !fallback) return; // only clearing
    const errors = (body && body.errors) || {};
    const elsewhere = [];
    for (const [name, messages] of Object.entries(errors)) {
      const text = flatten(messages).join("；");
      const plain = name.replace(/^json\./, "");
      const candidates = [name, plain, plain.replace(/^payload\./, "")];
      const slot = candidates
        .map((n) => form.querySelector(`.field-error[data-field="${CSS.escape(n)}"]`))
        .find(Boolean);
      if (slot) slot.textContent = text;
      else elsewhere.push(`${plain}：${text}`);
    }
    if (elsewhere.length || !Object.keys(errors).length) {
      general.textContent = [(body && body.detail) || fallback || "请求失败", ...elsewhere].join(" ");
    }
  }

  function flatten(messages) {
    if (Array.isArray(messages)) return messages.flatMap(flatten);
    if (messages && typeof messages === "object") {
      return Object.entries(messages).flatMap(([k, v]) => flatten(v).map((m) => `${k}：${m}`));
    }
    return [String(messages)];
  }

  window.CorrectionsSession = { LANGUAGE, create, showProblem };
})();
