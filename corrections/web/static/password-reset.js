// 使用重置码设置新密码: POST /api/v1/auth/password/reset with the code an administrator
// handed over. The page keeps nothing: no token, no storage; the password only in the field.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const LANGUAGE = document.documentElement.lang || "zh-CN";
  const form = $("reset-form");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const general = $("reset-error");
    CorrectionsForms.clear(form);
    general.textContent = "";
    $("reset-done").hidden = true;
    const password = $("reset-new-password").value;
    if (password !== $("reset-new-password-again").value) {
      $("error-new_password_again").textContent = form.dataset.mismatch;
      return;
    }
    $("reset-button").disabled = true;
    try {
      const resp = await fetch("/api/v1/auth/password/reset", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept-Language": LANGUAGE },
        body: JSON.stringify({
          username: $("reset-username").value,
          code: $("reset-code").value,
          new_password: password,
        }),
      });
      if (resp.ok) {
        for (const id of ["reset-code", "reset-new-password", "reset-new-password-again"]) {
          $(id).value = "";
        }
        $("reset-done").textContent = form.dataset.done;
        $("reset-done").hidden = false;
        return;
      }
      const body = resp.headers.get("Content-Type")?.includes("json")
        ? await resp.json().catch(() => null)
        : null;
      CorrectionsForms.show(form, body, general, `${form.dataset.failed}（HTTP ${resp.status}）`);
    } catch (e) {
      general.textContent = form.dataset.failed;
    } finally {
      $("reset-button").disabled = false;
    }
  });
})();
