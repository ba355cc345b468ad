// Small behaviours every page may use, wired by data attributes so no page needs inline
// script (the Content-Security-Policy allows scripts from our own origin only).
//   <select data-autosubmit>  submits its form when it changes
//   <button data-print>       prints the page
//   <div data-nav-scroll>     marks which sides of its scrolling .nav hide more items
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
  // A navigation bar that scrolls sideways (a phone) says which way more items are: the
  // wrapper gets nav-has-left / nav-has-right, which show a fade and an arrow on that side.
  function navScroll(wrap) {
    var nav = wrap.querySelector(".nav");
    if (!nav) return;
    var update = function () {
      var left = nav.scrollLeft;
      wrap.classList.toggle("nav-has-left", left > 2);
      wrap.classList.toggle("nav-has-right", nav.scrollWidth - nav.clientWidth - left > 2);
    };
    var current = nav.querySelector(".current");
    if (current && nav.scrollWidth > nav.clientWidth) {
      nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
    }
    nav.addEventListener("scroll", update, { passive: true });
    window.addEventListener("resize", update);
    update();
  }
  document.querySelectorAll("[data-nav-scroll]").forEach(navScroll);
})();
