// Mechanism pages: the live Markdown preview, action check boxes that save when ticked,
// confirmations before removing things. No inline scripts: everything hangs off data-*
// attributes, so the pages keep working under a strict Content-Security-Policy.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) { return input.value; }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // The preview shows exactly what the page will: the server renders the Markdown and
  // sanitises the HTML (nh3 allow-list) before it comes back, so it is safe to insert.
  function setUpPreview(form) {
    var url = form.getAttribute("data-preview-url");
    form.querySelectorAll("textarea[data-markdown]").forEach(function (textarea) {
      var pane = form.querySelector('[data-preview-for="' + textarea.id + '"]');
      if (!pane) { return; }
      var timer = null;
      var sent = 0;
      function render() {
        var ticket = ++sent;
        var body = new FormData();
        body.append("text", textarea.value);
        pane.setAttribute("aria-busy", "true");
        fetch(url, {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(form), "X-Requested-With": "fetch" },
        }).then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        }).then(function (result) {
          if (ticket !== sent) { return; }  // a newer keystroke's answer is on its way
          pane.removeAttribute("aria-busy");
          if (!result.ok) {
            pane.innerHTML = "";
            var error = document.createElement("p");
            error.className = "field-error";
            error.textContent = result.data.error || "The preview could not be drawn.";
            pane.appendChild(error);
            return;
          }
          pane.innerHTML = result.data.html || '<p class="muted">Nothing written yet.</p>';
          pane.setAttribute("data-rendered", String(ticket));
        }).catch(function () {
          pane.removeAttribute("aria-busy");
        });
      }
      textarea.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(render, 250);
      });
      render();
    });
  }

  function setUp() {
    document.querySelectorAll("form[data-preview-url]").forEach(setUpPreview);
    document.querySelectorAll("input[data-autosubmit]").forEach(function (box) {
      box.addEventListener("change", function () { box.form.submit(); });
    });
    document.querySelectorAll("[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("[data-open]").forEach(function (link) {
      link.addEventListener("click", function () {
        var details = document.querySelector(link.getAttribute("data-open"));
        if (details) { details.open = true; }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
