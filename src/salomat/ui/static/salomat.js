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
