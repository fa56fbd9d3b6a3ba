// Resident identity card numbers (居民身份证号码, GB 11643-1999) checked as typed: the same
// algorithm as the server's (corrections/persons/idnumber.py, ISO 7064 MOD 11-2), ported once
// here; tests/web/test_workbench_e2e.py compares the two on a sample list. The server checks
// again (the address code's province too): this only says early what it will say.
(function () {
  "use strict";

  const WEIGHTS = Array.from({ length: 17 }, (_, i) => Number((2n ** BigInt(17 - i)) % 11n));
  const CHECK_CHARS = "10X98765432";
  const SHAPE = /^[0-9]{17}[0-9X]$/;

  function checkChar(first17) {
    let total = 0;
    for (let i = 0; i < 17; i++) total += Number(first17[i]) * WEIGHTS[i];
    return CHECK_CHARS[total % 11];
  }

  // null when the number passes, else which check fails: "shape", "birth" or "check".
  function problem(raw) {
    const value = String(raw).normalize("NFKC").trim().toUpperCase();
    if (!SHAPE.test(value)) return "shape";
    const y = Number(value.slice(6, 10));
    const m = Number(value.slice(10, 12));
    const d = Number(value.slice(12, 14));
    const day = new Date(Date.UTC(y, m - 1, d));
    if (m < 1 || m > 12 || day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d || y < 1900) {
      return "birth";
    }
    if (checkChar(value.slice(0, 17)) !== value[17]) return "check";
    return null;
  }

  window.CorrectionsIdNumber = { checkChar, problem };
})();
