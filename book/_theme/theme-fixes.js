/*
 * Fixes for pydata-sphinx-theme 0.17 + sphinx-book-theme 1.3, loaded on every page
 * (html_js_files in _config.yml). Checked by tests/test_book_browser.py.
 *
 * 1. Phone/tablet navigation. Both themes wire their sidebar buttons with
 *    document.querySelector(".primary-toggle") / (".secondary-toggle"), i.e. the FIRST such
 *    button: pydata's navbar button, which sphinx-book-theme hides. The buttons readers see (in
 *    the article header) have no handler, so the table of contents and the page contents never
 *    open below 992 px, and the wide-screen collapse does nothing either
 *    (pydata-sphinx-theme#2451, sphinx-book-theme#988).
 *    Chosen: patch, not pin. sphinx-book-theme 1.1 + pydata 0.15 (checkbox sidebars) work, but
 *    pinning them would hold back the whole theme stack for one click handler. A click on any
 *    other toggle is forwarded to the wired one, so the themes' own code (dialog at narrow
 *    widths, collapse at wide ones) does the work. Nothing happens when there is a single
 *    toggle, and the original click is swallowed, so a fixed theme release cannot run its
 *    handler twice. Remove once both themes are fixed.
 * 2. First visit: with no colour mode in localStorage the page starts with data-mode="" and
 *    pydata logs the console error "Got invalid theme mode: . Resetting to auto." Set the
 *    value it falls back to ("auto") before its (deferred) script reads it.
 * 3. Dropdown titles with a link ("Solution to Exercise 3.2"): sphinx-togglebutton 0.4.5 throws
 *    "button is not defined" when the click lands on the link, and nothing opens. Such a click
 *    now opens or closes the dropdown, as a click anywhere else on its title does.
 */
(function () {
  "use strict";
  if (!document.documentElement.dataset.mode) {
    document.documentElement.dataset.mode = "auto";
  }
  ["primary-toggle", "secondary-toggle"].forEach(function (cls) {
    var selector = "." + cls;
    document.addEventListener(
      "click",
      function (event) {
        var clicked = event.target.closest && event.target.closest(selector);
        var wired = document.querySelector(selector);
        if (!clicked || !wired || clicked === wired) {
          return;
        }
        event.preventDefault();
        event.stopImmediatePropagation();
        clicked.blur();
        wired.click();
      },
      true,
    );
  });
  document.addEventListener(
    "click",
    function (event) {
      var link = event.target.closest && event.target.closest(".admonition-title a");
      var title = link && link.closest(".admonition-title");
      var button = title && title.dataset.button && document.getElementById(title.dataset.button);
      if (!button) {
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      button.click();
    },
    true,
  );
})();
