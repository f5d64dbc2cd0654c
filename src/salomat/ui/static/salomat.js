/* Salomat: the few behaviours pages need beyond htmx. No inline handlers (CSP). */
(function () {
  "use strict";

  // A <select data-autosubmit> submits its form as soon as it changes
  // (the language switch); without JS the <noscript> button does the same.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      if (typeof el.form.requestSubmit === "function") {
        el.form.requestSubmit();
      } else {
        el.form.submit();
      }
    }
  });

  // A <select data-narrows="ID"> whose value is "antigen/dose" narrows the <select id=ID>
  // to the options whose data-antigens name that antigen (the vaccine products of the
  // chosen vaccine); the page renders it narrowed for the first choice, and the server
  // refuses a product of another vaccine, so this is comfort, not the check.
  function narrow(select) {
    var target = document.getElementById(select.getAttribute("data-narrows"));
    if (!target) {
      return;
    }
    var antigen = (select.value || "").split("/")[0];
    var fitting = [];
    Array.prototype.forEach.call(target.options, function (option) {
      if (!option.hasAttribute("data-antigens")) {
        return;
      }
      var fits = !antigen || option.getAttribute("data-antigens").split(" ").indexOf(antigen) >= 0;
      option.hidden = !fits;
      option.disabled = !fits;
      if (fits) {
        fitting.push(option);
      }
    });
    var chosen = target.options[target.selectedIndex];
    if (chosen && chosen.disabled) {
      target.value = "";
    }
    if (fitting.length === 1 && !target.value) {
      fitting[0].selected = true;
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement && event.target.hasAttribute("data-narrows")) {
      narrow(event.target);
    }
  });

  // A <form data-reset-on-success> sent by htmx is emptied once the server accepted it,
  // so the next record starts from a blank form; a refused one (4xx: its error is swapped
  // in, see htmx-config in base.html) keeps what was typed.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success") &&
        event.detail && event.detail.xhr && event.detail.xhr.status < 400) {
      form.reset();
    }
  });
})();
