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
