/*
 * Loaded before require.js and @jupyter-widgets/html-manager on pages with saved widget state
 * (nb_ipywidgets_js in _config.yml). Two fixes for the vendored html-manager 1.x:
 *
 * 1. Its font assets: each bundle in embed-amd.js derives their URL from its require.js module
 *    URI, which require.js computes from the module NAME relative to the page
 *    ("notebooks/@jupyter-widgets/html-manager/dist/<hash>.woff2", 404). A require.js config
 *    (a global `require` object read by require.js when it loads) maps those names to the real
 *    dist/ folder, _static/npm/html-manager/dist/ next to this file (scripts/vendor_js.py).
 * 2. MathJax 3: @jupyter-widgets/base typesets widget labels with the MathJax 2 call
 *    MathJax.Hub.Queue(["Typeset", MathJax.Hub, el]), which throws under MathJax 3 and breaks
 *    the widget's rendering. A minimal Hub.Queue forwards it to MathJax 3's typesetPromise.
 */
(function () {
  "use strict";
  if (document.currentScript && typeof window.require === "undefined") {
    var dist = new URL("npm/html-manager/dist/", document.currentScript.src).href;
    var paths = {};
    [
      "@jupyter-widgets/base",
      "@jupyter-widgets/base7",
      "@jupyter-widgets/controls",
      "@jupyter-widgets/controls7",
      "@jupyter-widgets/html-manager",
      "@jupyter-widgets/html-manager/dist/libembed-amd",
    ].forEach(function (name) {
      paths[name] = dist + "embed-amd"; // only the folder matters: all are defined in it
    });
    window.require = { paths: paths };
  }
  // MathJax (loaded with defer) has run by DOMContentLoaded; widgets render at "load".
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub) {
      return; // no MathJax on this page, or MathJax 2
    }
    mj.Hub = {
      Queue: function () {
        if (!mj.startup || !mj.startup.promise) {
          return; // MathJax 3 failed to load: leave the labels as text
        }
        Array.prototype.forEach.call(arguments, function (command) {
          if (Array.isArray(command) && command[0] === "Typeset") {
            var element = command[2];
            mj.startup.promise = mj.startup.promise.then(function () {
              return mj.typesetPromise(element ? [element] : undefined);
            });
          }
        });
      },
    };
  });
})();
