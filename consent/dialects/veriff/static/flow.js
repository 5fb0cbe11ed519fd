/* The flow page inside Veriff's InContext SDK (@veriff/incontext-sdk): its postMessage protocol.
 *
 * The page says it is ready with the string "VERIFF_HANDSHAKE" to its parent (it does not know
 * the parent's origin yet; the message carries nothing). The SDK answers, from the parent window,
 * with {name: "VERIFF_RENDER", payload: {...}}; from then on this page's messages (the
 * body's data-veriff-events: VERIFF_STARTED, VERIFF_SUBMITTED, VERIFF_FINISHED, VERIFF_CANCELED)
 * go to that origin only. Which origins may frame the page at all, the server's
 * Content-Security-Policy frame-ancestors decides. Opened directly (no parent), the page works as
 * plain HTML and this script does nothing but stay out of the way.
 */
(function () {
  "use strict";
  var parent = window.parent;
  if (!parent || parent === window) {
    return;
  }
  var framed = document.querySelectorAll("input[name=framed]");
  for (var i = 0; i < framed.length; i += 1) {
    framed[i].value = "1";  // the server answers the last step here instead of redirecting
  }
  var events = (document.body.getAttribute("data-veriff-events") || "").split(" ")
    .filter(function (name) { return /^VERIFF_[A-Z]+$/.test(name); });
  var parentOrigin = null;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== parent || parentOrigin !== null || !data || data.name !== "VERIFF_RENDER" ||
        event.origin === "null") {
      return;
    }
    parentOrigin = event.origin;
    events.forEach(function (name) { parent.postMessage(name, parentOrigin); });
  });
  parent.postMessage("VERIFF_HANDSHAKE", "*");
}());
