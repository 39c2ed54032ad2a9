// Sentra portal: the few things htmx does not do for us.
(function () {
  "use strict";

  // The browser's time zone, so the server shows and reads clock times the way the user sees them.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  } catch (e) { /* older browsers: the server falls back to Europe/Berlin */ }

  // Live updates come over SSE; while the stream is down, polling partials take over.
  window.sentraLive = false;
  function setLive(live) {
    window.sentraLive = live;
    document.querySelectorAll("[data-live-badge]").forEach(function (badge) {
      badge.hidden = !live;
    });
  }
  document.addEventListener("htmx:sse:after:connection", function () { setLive(true); });
  document.addEventListener("htmx:sse:error", function () { setLive(false); });
  document.addEventListener("htmx:sse:close", function () { setLive(false); });

  // Polling partials (data-poll) stand by while the stream is live. Cancelled here rather than
  // with a trigger filter, which htmx would evaluate as code and the CSP rightly forbids.
  document.addEventListener("htmx:config:request", function (event) {
    var source = event.target;
    if (window.sentraLive && source && source.hasAttribute && source.hasAttribute("data-poll")) {
      event.preventDefault();
    }
  });

  // Copy buttons: data-copy="#element-id" copies that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.innerText.trim();
    var done = function () {
      var label = button.querySelector("[data-copy-label]");
      if (!label) return;
      var original = label.textContent;
      label.textContent = button.getAttribute("data-copied") || "✓";
      setTimeout(function () { label.textContent = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // The override form shows the time field only when "until a time" is chosen.
  document.addEventListener("change", function (event) {
    var form = event.target.closest("[data-override-form]");
    if (!form) return;
    var end = form.querySelector("input[name=end]:checked");
    var mode = form.querySelector("input[name=mode]:checked");
    var until = form.querySelector("[data-until]");
    var ends = form.querySelector("[data-ends]");
    if (until) until.hidden = !(end && end.value === "until");
    if (ends) ends.hidden = !!(mode && mode.value === "auto");
  });
})();
