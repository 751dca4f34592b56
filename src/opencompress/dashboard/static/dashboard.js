// Progressive enhancement only: every page works without this file.
"use strict";
(function () {
  // "Copy" next to the one-time key: the clipboard API, or select the text so Ctrl+C works.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      var status = document.querySelector("[data-copy-status]");
      if (!input) return;
      input.focus();
      input.select();
      var say = function (text) { if (status) status.textContent = text; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(
          function () { say("Copied to the clipboard."); },
          function () { say("Selected: press Ctrl+C (⌘C) to copy."); }
        );
      } else {
        var copied = false;
        try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
        say(copied ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C) to copy.");
      }
    });
  });
  // Key form: show the provider fields only while "BYOK" is chosen.
  document.querySelectorAll("[data-key-form]").forEach(function (form) {
    var byok = form.querySelector("[data-byok-fields]");
    if (!byok) return;
    var sync = function () {
      var chosen = form.querySelector('input[name="mode"]:checked');
      var on = chosen && chosen.value === "byok";
      byok.hidden = !on;
      byok.querySelectorAll("input").forEach(function (input) { input.disabled = !on; });
    };
    form.querySelectorAll('input[name="mode"]').forEach(function (radio) { radio.addEventListener("change", sync); });
    sync();
  });
})();
