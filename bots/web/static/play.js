// The only script of the site: tells the server once that this page's track was heard for
// PLAY_AFTER_S seconds of actual playback (seeking does not count). The server keeps a count per
// track, nothing about the listener; recommendations weigh it lightly.
(function () {
  "use strict";
  var PLAY_AFTER_S = 8;
  var audio = document.getElementById("player");
  if (!audio || !audio.dataset.play) { return; }
  var heard = 0, last = null, sent = false;
  audio.addEventListener("timeupdate", function () {
    if (sent) { return; }
    var now = audio.currentTime;
    if (last !== null && now > last && now - last < 2) { heard += now - last; }
    last = now;
    if (heard >= PLAY_AFTER_S) {
      sent = true;
      fetch(audio.dataset.play, { method: "POST", credentials: "omit", keepalive: true }).catch(function () {});
    }
  });
  audio.addEventListener("seeking", function () { last = null; });
})();
