// Small behaviours every page may use, wired by data attributes so no page needs inline
// script (the Content-Security-Policy allows scripts from our own origin only).
//   <select data-autosubmit>  submits its form when it changes
//   <button data-print>       prints the page
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();
