// dynode studio: the page. Plain JavaScript; every request goes to this server only.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const studio = { run: params.get("run"), state: null, chosen: [], seq: 0, shown: 0, timer: null };

function api(path, query) {
  const q = new URLSearchParams(query || {});
  if (studio.run) q.set("run", studio.run);
  return "api/" + path + (q.toString() ? "?" + q : "");
}

async function getJSON(url, options) {
  const reply = await fetch(url, options);
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error || reply.statusText);
  return body;
}

function showError(message) { $("error").textContent = message || ""; }

function element(tag, props, children) {
  const node = Object.assign(document.createElement(tag), props || {});
  for (const child of children || []) node.append(child);
  return node;
}

// ------------------------------------------------------------------ the list of runs
async function showRuns() {
  const runs = await getJSON("api/runs");
  $("back").hidden = runs.length === 1;
  if (runs.length === 1 && !studio.run) { studio.run = runs[0].id; return false; }
  if (studio.run) return false;
  $("runs").hidden = false;
  for (const run of runs) {
    const q = new URLSearchParams({ run: run.id });
    $("run-list").append(element("a", { href: "?" + q }, [
      element("img", { src: "api/thumb?" + q, alt: run.name, loading: "lazy" }),
      element("span", { textContent: run.name })]));
  }
  return true;
}

// ------------------------------------------------------------------ directions
function listDirections() {
  const words = $("search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const list = $("directions");
  list.replaceChildren();
  for (const d of studio.state.directions) {
    const text = `${d.editor}:${d.direction} ${d.description}`.toLowerCase();
    if (!words.every((w) => text.includes(w))) continue;
    const item = element("li", { title: d.description }, [
      `${d.editor}:${d.direction} `, element("small", { textContent: d.description })]);
    item.dataset.spec = `${d.editor}:${d.direction}`;
    item.addEventListener("click", () => choose(item.dataset.spec, 1));
    list.append(item);
  }
}

function choose(spec, strength) {
  if (studio.chosen.some((c) => c.spec === spec)) return;
  const slider = element("input", { type: "range", min: -5, max: 5, step: 0.1, value: strength });
  const box = element("input", { type: "number", step: 0.1, value: strength });
  const remove = element("button", { type: "button", textContent: "remove" });
  const entry = { spec, strength, slider, box };
  slider.className = "strength";
  box.className = "strength-box";
  slider.addEventListener("input", () => { box.value = slider.value; setStrength(entry, slider.value); });
  box.addEventListener("change", () => { slider.value = box.value; setStrength(entry, box.value); });
  const item = element("li", {}, [element("span", { textContent: spec }), remove, slider, box]);
  remove.addEventListener("click", () => {
    studio.chosen = studio.chosen.filter((c) => c !== entry);
    item.remove();
    schedulePreview();
  });
  studio.chosen.push(entry);
  $("chosen").append(item);
  schedulePreview();
}

function setStrength(entry, value) {
  entry.strength = Number(value);
  schedulePreview();
}

// ------------------------------------------------------------------ timeline and preview
function factor() { return Math.max(1, Math.round(Number($("interpolate").value) || 1)); }

function settings() {
  return {
    edits: studio.chosen.map((c) => `${c.spec}:${c.strength}`),
    propagate: $("propagate").value, interpolate: factor(), paste_back: $("paste-back").checked,
  };
}

function setTimeline() {
  const last = factor() * (studio.state.frames - 1);
  const scrub = $("scrub");
  const keep = Number(scrub.value) / Math.max(1, Number(scrub.max));
  scrub.max = last;
  scrub.value = Math.round(keep * last);
  seekVideos();
}

function seekVideos() {
  const index = Number($("scrub").value);
  const frame = index / factor();
  const fps = studio.state.fps;
  $("position").textContent = `frame ${frame.toFixed(2)} / ${studio.state.frames - 1}, ${(frame / fps).toFixed(3)} s`;
  for (const id of ["input", "reconstruction"]) {
    const video = $(id);
    if (video.readyState >= 1) video.currentTime = Math.min(video.duration, (Math.floor(frame) + 0.5) / fps);
  }
  schedulePreview();
}

function schedulePreview() {
  clearTimeout(studio.timer);
  studio.timer = setTimeout(updatePreview, 60);
}

async function updatePreview() {
  const s = settings();
  const query = new URLSearchParams({ propagate: s.propagate, interpolate: s.interpolate,
    index: $("scrub").value, paste_back: s.paste_back });
  for (const e of s.edits) query.append("edit", e);
  const seq = ++studio.seq;
  const reply = await fetch(api("preview", query));
  if (seq < studio.shown) return;
  if (!reply.ok) { showError((await reply.json()).error); return; }
  const blob = await reply.blob();
  if (seq < studio.shown) return;
  studio.shown = seq;
  const image = $("preview");
  const old = image.src;
  image.onload = () => { image.dataset.version = String(seq); if (old) URL.revokeObjectURL(old); };
  image.src = URL.createObjectURL(blob);
  const seconds = Number(reply.headers.get("X-Seconds-Per-Frame"));
  const edit = Number(reply.headers.get("X-Seconds-Edit"));
  $("timing").textContent = `(${(seconds * 1000).toFixed(0)} ms per frame` +
    (edit >= 0.05 ? `; the edit's codes took ${edit.toFixed(2)} s)` : ")");
  showError("");
}

// ------------------------------------------------------------------ render
function listVideos(videos) {
  const list = $("videos");
  list.replaceChildren();
  const base = `files/${encodeURIComponent(studio.state.id)}/`;
  for (const name of videos.filter((v) => v.startsWith("edited_"))) {
    const video = element("video", { src: base + encodeURIComponent(name), controls: true, preload: "auto", muted: true });
    video.dataset.file = name;
    list.append(element("li", {}, [video, element("div", { textContent: name })]));
  }
}

async function render() {
  showError("");
  try {
    await getJSON("api/render", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ run: studio.state.id, ...settings() }) });
    $("cancel").disabled = false;
    pollJob();
  } catch (error) {
    $("job-status").textContent = error.message;
  }
}

async function pollJob() {
  const job = await getJSON("api/job");
  $("progress").max = Math.max(1, job.count || 1);
  $("progress").value = job.done || 0;
  const what = { running: `rendering ${job.edit}: ${job.stage}`, done: `wrote ${job.file}`,
    failed: job.error, cancelled: "cancelled", idle: "" };
  $("job-status").textContent = what[job.status] || job.status;
  $("render").disabled = job.status === "running";
  $("cancel").disabled = job.status !== "running";
  if (job.status === "running") { setTimeout(pollJob, 300); return; }
  if (job.status === "done") {
    const state = await getJSON(api("state"));
    listVideos(state.videos);
  }
}

async function cancel() {
  try { await getJSON("api/cancel", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }); }
  catch (error) { $("job-status").textContent = error.message; }
  pollJob();
}

// ------------------------------------------------------------------ start
async function start() {
  if (await showRuns()) return;
  const state = studio.state = await getJSON(api("state"));
  $("studio").hidden = false;
  $("run-name").textContent = `${state.run}: ${state.generator}${state.tuned ? " (tuned)" : ""}, ${state.frames} frames at ${state.fps} fps`;
  const base = `files/${encodeURIComponent(state.id)}/`;
  $("input").src = base + "input.mp4";
  $("reconstruction").src = base + "reconstruction.mp4";
  for (const id of ["input", "reconstruction"]) $(id).addEventListener("loadedmetadata", seekVideos);
  for (const name of state.propagations) $("propagate").append(element("option", { value: name, textContent: name }));
  $("propagate").value = state.propagate;
  $("interpolate").value = state.interpolate;
  $("paste-back").checked = state.paste_back;
  $("paste-back").disabled = !state.aligned;
  listDirections();
  listVideos(state.videos);
  $("search").addEventListener("input", listDirections);
  $("scrub").addEventListener("input", seekVideos);
  $("interpolate").addEventListener("change", setTimeline);
  $("propagate").addEventListener("change", schedulePreview);
  $("paste-back").addEventListener("change", schedulePreview);
  $("render").addEventListener("click", render);
  $("cancel").addEventListener("click", cancel);
  const first = state.edits[0];
  if (first) {
    const parts = first.split(":");
    choose(parts.slice(0, -1).join(":"), Number(parts[parts.length - 1]));
  }
  setTimeline();
  if (state.job.status === "running") pollJob();
}

start().catch((error) => showError(error.message));
