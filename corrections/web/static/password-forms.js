// The password forms (使用重置码设置新密码, 修改密码): the server's problem details go beside
// the fields they name, as text (textContent), never as HTML. No data is kept anywhere.
(function () {
  "use strict";

  function clear(form) {
    for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  }

  // body: the problem+json (or null); general: where what names no field of the form goes.
  function show(form, body, general, fallback) {
    clear(form);
    general.textContent = "";
    const errors = (body && body.errors) || {};
    const elsewhere = [];
    for (const [name, messages] of Object.entries(errors)) {
      const slot = form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
      const text = [].concat(messages).join("；");
      if (slot) slot.textContent = text;
      else elsewhere.push(text);
    }
    // The detail as well, unless the fields' own messages say it all.
    if (elsewhere.length || !Object.keys(errors).length) {
      general.textContent = [(body && body.detail) || fallback, ...elsewhere].join(" ");
    }
  }

  window.CorrectionsForms = { clear, show };
})();
