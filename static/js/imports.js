// Import page: poll the batch's status while it is queued or running, move the progress bar,
// and reload the page once the check or the import has finished.
(function () {
  "use strict";
  var card = document.getElementById("progress-card");
  if (!card) return;
  var url = card.dataset.statusUrl;
  var bar = card.querySelector(".progress-bar");
  var phase = document.getElementById("progress-phase");
  var pct = document.getElementById("progress-pct");
  var status = document.getElementById("batch-status");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        bar.style.width = data.progress + "%";
        card.querySelector(".progress").setAttribute("aria-valuenow", data.progress);
        pct.textContent = data.progress;
        phase.textContent = data.phase || "waiting for a worker";
        status.textContent = data.status_label;
        if (data.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();

// New import form: choosing another system reloads the form with that system's vendor's
// presets (the server offers only those; without JavaScript it refuses another vendor's).
(function () {
  "use strict";
  var system = document.querySelector("select[data-presets-for-system]");
  if (!system) return;
  system.addEventListener("change", function () {
    var url = new URL(window.location.href);
    url.searchParams.set("system", system.value);
    window.location.assign(url.toString());
  });
})();
