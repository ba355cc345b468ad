// Draws the scorecard's plotly charts from the figures the page embeds with json_script.
// Every element with data-chart="<metric key>" gets the figure of that key.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("scorecard-charts");
    if (!source || !window.Plotly) { return; }
    var figures = JSON.parse(source.textContent);
    var config = { displayModeBar: false, responsive: true };
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var figure = figures[el.getAttribute("data-chart")];
      if (!figure) { return; }
      window.Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
        el.setAttribute("data-drawn", "1");
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
