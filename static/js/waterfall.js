// Draws the bridge waterfall from the figure the page embeds with json_script.
(function () {
  "use strict";
  var data = document.getElementById("bridge-figure");
  var target = document.getElementById("waterfall");
  if (!data || !target || !window.Plotly) { return; }
  var figure = JSON.parse(data.textContent);
  window.Plotly.newPlot(target, figure.data, figure.layout, {
    displayModeBar: false,
    responsive: true,
  });
})();
