// kindred plot page: records every script error and console.error call in
// the body's data-errors attribute, one per line, so that a headless browser's DOM dump shows them.
(function () {
  "use strict";
  var errors = [];
  function record(message) {
    errors.push(String(message));
    if (document.body) {
      document.body.dataset.errors = errors.join("\n");
    }
  }
  window.addEventListener("error", function (event) {
    record(event.message || "error: " + event.type);
  });
  window.addEventListener("unhandledrejection", function (event) {
    record("unhandled rejection: " + event.reason);
  });
  var consoleError = console.error;
  console.error = function () {
    record(Array.prototype.join.call(arguments, " "));
    return consoleError.apply(console, arguments);
  };
  // An error before the body exists is written once it does.
  document.addEventListener("DOMContentLoaded", function () {
    if (errors.length) {
      document.body.dataset.errors = errors.join("\n");
    }
  });
})();
