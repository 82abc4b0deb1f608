// One clock for every video: they play natively at the chosen speed and are pulled
// back to the shared time when they drift. Videos are synced by time, not by frame,
// so an interpolated video (more frames, higher rate) stays beside its input.
(function () {
  "use strict";
  var DRIFT = 0.12;  // seconds a playing video may stray before it is re-seeked
  var videos = Array.prototype.slice.call(document.querySelectorAll("video.sync"));
  var button = document.getElementById("play");
  var scrub = document.getElementById("scrub");
  var clock = document.getElementById("clock");
  var speed = document.getElementById("speed");
  var loop = document.getElementById("loop");
  var total = 0, now = 0, playing = false, last = null;

  function length(v) { return isFinite(v.duration) ? v.duration : 0; }

  // A server without HTTP range requests (python -m http.server) makes a video
  // unseekable; such a video is fetched once and played from memory instead.
  function ensureSeekable(v) {
    var end = v.seekable.length ? v.seekable.end(v.seekable.length - 1) : 0;
    if (end >= length(v) - 1e-3 || v.dataset.fetched || !window.fetch
        || location.protocol === "file:") { return; }
    v.dataset.fetched = "1";
    fetch(v.currentSrc || v.src)
      .then(function (r) { return r.ok ? r.blob() : null; })
      .then(function (blob) {
        if (blob) { v.src = URL.createObjectURL(blob); v.currentTime = Math.min(now, length(v)); }
      })
      .catch(function () {});
  }
  function rate() { return parseFloat(speed.value) || 1; }

  function show() {
    scrub.value = String(now);
    clock.textContent = now.toFixed(2) + " / " + total.toFixed(2) + " s";
  }

  function refresh() {
    total = videos.reduce(function (m, v) { return Math.max(m, length(v)); }, 0);
    scrub.max = String(total);
    show();
  }

  function seekAll(time) {
    now = Math.min(Math.max(time, 0), total);
    videos.forEach(function (v) {
      var target = Math.min(now, length(v));
      if (Math.abs(v.currentTime - target) > 1e-4) { v.currentTime = target; }
    });
    show();
  }

  function resume(v) {
    if (v.paused && now < length(v)) {
      var p = v.play();
      if (p && p.catch) { p.catch(function () {}); }
    }
  }

  function tick(stamp) {
    if (!playing) { return; }
    if (last !== null) { now += (stamp - last) / 1000 * rate(); }
    last = stamp;
    if (now >= total) {
      if (!loop.checked) { now = total; stop(); return; }
      seekAll(0);
    }
    videos.forEach(function (v) {
      if (now < length(v)) {
        if (Math.abs(v.currentTime - now) > DRIFT) { v.currentTime = now; }
        resume(v);
      }
    });
    show();
    window.requestAnimationFrame(tick);
  }

  function start() {
    if (now >= total) { seekAll(0); }
    playing = true;
    last = null;
    videos.forEach(function (v) { v.playbackRate = rate(); resume(v); });
    button.textContent = "Pause";
    window.requestAnimationFrame(tick);
  }

  function stop() {
    playing = false;
    videos.forEach(function (v) { v.pause(); });
    seekAll(now);
    button.textContent = "Play";
  }

  button.addEventListener("click", function () { if (playing) { stop(); } else { start(); } });
  scrub.addEventListener("input", function () { last = null; seekAll(parseFloat(scrub.value)); });
  speed.addEventListener("change", function () {
    videos.forEach(function (v) { v.playbackRate = rate(); });
  });
  videos.forEach(function (v) {
    v.addEventListener("loadedmetadata", function () { refresh(); ensureSeekable(v); });
    v.addEventListener("durationchange", refresh);
  });
  refresh();
})();
