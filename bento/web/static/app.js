// moodtune's page: plain JS, no build step. Talks to the service's JSON API on the same origin.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { catalog: [], picked: new Set(), recommendation: null, uploads: new Map(), reading: null, limits: {} };
const EMOTIONS = ["tenderness", "calmness", "power", "joyful_activation", "tension", "sadness"];
const GENRES = ["classical", "pop", "rock", "electronic"];
// what each HRV metric the service reads means (unit, in words)
const HRV_METRICS = {
  MEAN_RR: ["ms", "average time between heartbeats"],
  SDRR: ["ms", "how much that time varies overall"],
  HR: ["bpm", "heart rate"],
  RMSSD: ["ms", "beat-to-beat variation (higher usually means more relaxed)"],
  pNN50: ["%", "share of successive beats differing by more than 50 ms"],
  VLF: ["ms²", "very-low-frequency power (slow rhythms)"],
  LF: ["ms²", "low-frequency power (0.04–0.15 Hz)"],
  HF: ["ms²", "high-frequency power (0.15–0.4 Hz, breathing-linked, relaxation)"],
};

// what a change from the resting baseline means, per baseline-relative feature (dlog_<metric>)
const BASELINE_READ = {
  RMSSD: "lower than at rest: less beat-to-beat variation, as under stress",
  HF: "lower than at rest: less breathing-linked (vagal) activity, as under stress",
  LF: "slower rhythms; changes with posture and stress",
  MEAN_RR: "lower than at rest: a faster heart",
};

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
  if (message) box.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

const API_KEY = "moodtune-api-key";  // only needed when the service sets service.api_keys (feedback)

async function call(endpoint, body, retried) {
  // body: a plain object (sent as JSON) or FormData (multipart, for files)
  const init = { method: "POST", headers: {} };
  if (body instanceof FormData) init.body = body;
  else { init.body = JSON.stringify(body || {}); init.headers["Content-Type"] = "application/json"; }
  const key = localStorage.getItem(API_KEY);
  if (key) init.headers["X-API-Key"] = key;
  const response = await fetch("/" + endpoint, init);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (response.status === 401 && !retried) {  // this service wants a key for writes: ask once
    const given = window.prompt("This service needs an API key to save feedback:");
    if (given) { localStorage.setItem(API_KEY, given.trim()); return call(endpoint, body, true); }
  }
  if (!response.ok) {  // every error answers {"error": <what to fix>, "type": <kind>}
    throw new Error((data && data.error) || `${endpoint} failed with HTTP ${response.status}`);
  }
  return data;
}

async function busy(button, work) {
  showError("");
  button.disabled = true;
  try { await work(); } catch (err) { showError(err.message); } finally { button.disabled = false; }
}

// ---------- charts (SVG) ----------
function bars(values, labels, { width = 250, color = "#3b5bdb", max = 1 } = {}) {
  const row = 16, labelW = 112;
  const height = labels.length * row + 4;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.classList.add("bars");
  svg.dataset.color = color;
  labels.forEach((label, i) => {
    const v = Math.max(0, Number(values[label] || 0));
    const y = i * row + 2;
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", 0); text.setAttribute("y", y + 11); text.setAttribute("font-size", "11");
    text.textContent = label.replace("_", " ");
    const bg = document.createElementNS(ns, "rect");
    bg.setAttribute("x", labelW); bg.setAttribute("y", y + 2); bg.setAttribute("height", 10);
    bg.setAttribute("width", width - labelW - 34); bg.setAttribute("fill", "#eef0f6");
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", labelW); bar.setAttribute("y", y + 2); bar.setAttribute("height", 10);
    bar.setAttribute("width", Math.min(1, v / max) * (width - labelW - 34)); bar.setAttribute("fill", color);
    const num = document.createElementNS(ns, "text");
    num.setAttribute("x", width - 30); num.setAttribute("y", y + 11); num.setAttribute("font-size", "10");
    num.textContent = v.toFixed(2);
    svg.append(text, bg, bar, num);
  });
  return svg;
}

// A titled chart: the bars with a caption naming what they show and a legend for the scale.
function figure(title, legend, svg, name) {
  const fig = document.createElement("figure");
  fig.className = "chart-figure";
  if (name) fig.dataset.chart = name;
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  const note = document.createElement("div");
  note.className = "legend";
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = svg.dataset.color;
  note.append(swatch, document.createTextNode(legend));
  const svgTitle = document.createElementNS("http://www.w3.org/2000/svg", "title");
  svgTitle.textContent = title;
  svg.prepend(svgTitle);
  fig.append(cap, svg, note);
  return fig;
}

// The valence-arousal plane (-1..1 each) with one point (and, given sds, an ellipse of one sd).
function vaPlane(point, size = 150, sd = null) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", size); svg.setAttribute("height", size);
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.classList.add("va-plane");
  svg.dataset.color = "#e8590c";
  const mid = size / 2, r = size / 2 - 14;
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    svg.append(e); return e;
  };
  el("rect", { x: mid - r, y: mid - r, width: 2 * r, height: 2 * r, fill: "#f6f7fb", stroke: "#e3e3ea" });
  el("line", { x1: mid - r, y1: mid, x2: mid + r, y2: mid, stroke: "#bbb" });
  el("line", { x1: mid, y1: mid - r, x2: mid, y2: mid + r, stroke: "#bbb" });
  el("text", { x: mid + r, y: mid - 3, "font-size": 9, "text-anchor": "end" }, "pleasant →");
  el("text", { x: mid + 3, y: mid - r + 9, "font-size": 9 }, "↑ aroused");
  if (sd) {
    el("ellipse", { cx: mid + point.valence * r, cy: mid - point.arousal * r, rx: Math.max(2, sd.valence * r),
                    ry: Math.max(2, sd.arousal * r), fill: "#e8590c", "fill-opacity": 0.15, stroke: "#e8590c",
                    class: "uncertainty" });
  }
  el("circle", { cx: mid + point.valence * r, cy: mid - point.arousal * r, r: 5, fill: "#e8590c" });
  return svg;
}

// ---------- catalog ----------
async function loadCatalog() {
  const response = await fetch("/ui/api/catalog?limit=1000");
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || "could not load the catalog");
  state.catalog = data.tracks;
  renderCatalog();
}

function renderCatalog() {
  const q = $("#catalog-search").value.trim().toLowerCase();
  const list = $("#catalog-list");
  list.replaceChildren();
  for (const t of state.catalog) {
    const hay = `${t.title} ${t.artist} ${t.genre} ${t.emotion} ${t.track_id}`.toLowerCase();
    if (q && !hay.includes(q)) continue;
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.value = t.track_id; box.checked = state.picked.has(t.track_id);
    box.addEventListener("change", () => {
      if (box.checked) state.picked.add(t.track_id); else state.picked.delete(t.track_id);
      $("#picked-count").textContent = `${state.picked.size} chosen`;
    });
    const name = document.createElement("span");
    name.textContent = `${t.title} — ${t.artist}`;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = [t.genre, t.emotion.replace("_", " "), t.package, t.licence].filter(Boolean).join(" · ");
    label.append(box, name, meta);
    list.append(label);
  }
  $("#picked-count").textContent = `${state.picked.size} chosen`;
}

function pickRandom(n) {
  const ids = state.catalog.map((t) => t.track_id);
  for (let i = ids.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [ids[i], ids[j]] = [ids[j], ids[i]]; }
  state.picked = new Set(ids.slice(0, n));
  renderCatalog();
}

// ---------- listener ----------
function listener() {
  return { age: Number($("#age").value), gender: $("#gender").value, mood: Number($("#mood").value), k: Number($("#k").value) };
}

// what the text and photo paths send: age and gender, the mood only when ticked, and the mode
function stateInputs() {
  const who = listener();
  const out = { age: who.age, gender: who.gender, k: who.k, mode: document.querySelector("input[name=mode]:checked").value };
  if ($("#use-mood").checked) out.mood = who.mood;
  return out;
}

// The listener state: the point on the valence-arousal plane with its uncertainty (an ellipse of
// one sd), the stress with its sd and level, and which inputs it came from.
function stateBox(st, mode) {
  const box = document.createElement("div");
  box.id = "listener-state";
  box.className = "listener-state";
  box.dataset.stressLevel = st.stress_level;
  const h = document.createElement("p");
  const aim = mode === "match" ? "songs matching it" : "songs toward calm from it";
  h.innerHTML = "";
  h.append(document.createTextNode("Your state: "));
  const b = document.createElement("strong");
  b.className = "state-summary";
  b.textContent = st.summary;
  h.append(b, document.createTextNode(` — ${aim}.`));
  const row = document.createElement("div");
  row.className = "row detected-charts";
  const plane = vaPlane(st, 150, { valence: st.valence_sd, arousal: st.arousal_sd });
  row.append(figure("Your state (valence–arousal)", `valence ${st.valence.toFixed(2)} ± ${st.valence_sd.toFixed(2)}, ` +
                    `arousal ${st.arousal.toFixed(2)} ± ${st.arousal_sd.toFixed(2)}; the ellipse: one sd`, plane, "state"));
  const stress = figure("Stress", `${st.stress.toFixed(2)} ± ${st.stress_sd.toFixed(2)} (0 calm … 1 stressed)` +
                        (st.from_prior.includes("arousal") ? "; not measured: a guess" : ""),
                        bars(st.stress_probabilities, ["low", "medium", "high"], { color: "#c2255c" }), "state-stress");
  row.append(stress);
  const sources = document.createElement("ul");
  sources.className = "state-sources";
  for (const s of st.sources) {
    const li = document.createElement("li");
    const axes = ["valence", "arousal"].filter((a) => s[a] !== undefined)
      .map((a) => `${a} ${s[a].toFixed(2)} ± ${s[a + "_sd"].toFixed(2)}`).join(", ");
    li.textContent = `${s.source}: ${axes}${s.detail ? " — " + s.detail : ""}`;
    sources.append(li);
  }
  box.append(h, row, sources);
  return box;
}

// ---------- results ----------
function audioSource(track) {
  if (track.track_id.startsWith("upload-")) return state.uploads.get(track.track_id) || null;
  if (track.profile === null || track.in_catalog === false) return null;
  return `/ui/audio/${encodeURIComponent(track.track_id)}`;
}

// "from <package> <version> · <licence>", the licence linking to the package's copyright file
function creditLine(p) {
  if (!p.package && !p.licence) return null;
  const div = document.createElement("div");
  div.className = "credit";
  const parts = [];
  if (p.duration) parts.push(`${Math.floor(p.duration / 60)}:${String(Math.round(p.duration % 60)).padStart(2, "0")}`);
  if (p.package) parts.push(`from Debian package ${p.package}${p.version ? " " + p.version : ""}`);
  div.append(document.createTextNode(parts.join(" · ") + (p.licence ? " · licence: " : "")));
  if (p.licence) {
    if (p.licence_url) {
      const a = document.createElement("a");
      a.href = p.licence_url; a.target = "_blank"; a.rel = "noopener"; a.textContent = p.licence;
      div.append(a);
    } else div.append(document.createTextNode(p.licence));
  }
  return div;
}

function renderTracks(answer, detected) {
  state.recommendation = answer;
  $("#step-results").hidden = false;
  const detectedBox = $("#detected");
  detectedBox.replaceChildren();
  if (answer.state) detectedBox.append(stateBox(answer.state, answer.mode));
  if (detected) detectedBox.append(detected);
  const list = $("#results");
  list.replaceChildren();
  for (const t of answer.tracks) {
    const p = t.profile || {};
    const li = document.createElement("li");
    li.className = "track";
    li.dataset.trackId = t.track_id;
    const head = document.createElement("div");
    const h3 = document.createElement("h3");
    h3.textContent = `${t.rank}. ${p.title || t.name || t.track_id}${p.artist || t.artists ? " — " + (p.artist || t.artists) : ""}`;
    const numbers = document.createElement("div");
    numbers.className = "numbers";
    const parts = [];
    if (t.match !== undefined && t.match !== null) parts.push(`match ${t.match}/100`);
    if (t.probability !== undefined && t.probability !== null) parts.push(`first pick: ${chance(t.probability)}`);
    if (t.distance !== undefined && t.distance !== null) parts.push(`emotion distance ${Number(t.distance).toFixed(3)}`);
    parts.push(`score ${Number(t.score).toFixed(2)}`);
    if (p.genre) parts.push(`${p.genre}, ${String(p.emotion || "").replace("_", " ")}`);
    numbers.textContent = parts.join(" · ");
    head.append(h3, numbers);
    const credit = creditLine(p);
    if (credit) head.append(credit);
    const src = audioSource(t);
    if (src) { const audio = document.createElement("audio"); audio.controls = true; audio.preload = "none"; audio.src = src; head.append(audio); }
    const reason = document.createElement("div");
    reason.className = "reason";
    reason.textContent = t.reason || "";
    const chart = document.createElement("div");
    chart.className = "chart";
    if (p.emotions) {
      chart.append(figure("Emotion profile (GEMS-6)", "probability of each emotion in the audio, 0–1",
                          bars(p.emotions, EMOTIONS), "emotion"));
      chart.append(figure("Genre", "probability of each genre, 0–1", bars(p.genres, GENRES, { color: "#2f9e44" }), "genre"));
    }
    li.append(head, reason, chart);
    list.append(li);
  }
  $("#score-help").hidden = false;
  $("#score-help-policy").hidden = !answer.tracks.some((t) => t.probability !== undefined && t.probability !== null);
  $("#score-help-distance").hidden = !answer.tracks.some((t) => t.distance !== undefined && t.distance !== null);
  const versions = Object.entries(answer.model_versions || {}).map(([n, v]) => `${n} v${v}`).join(", ");
  $("#results-meta").textContent = `recommendation ${answer.recommendation_id || "(not logged)"} · ${versions}`;
  // feedback needs a logged recommendation
  const select = $("#feedback-track");
  select.replaceChildren();
  for (const t of answer.tracks) {
    const o = document.createElement("option");
    o.value = t.track_id; o.textContent = trackLabel(t);
    select.append(o);
  }
  $("#step-feedback").hidden = !answer.recommendation_id;
  $("#feedback-result").hidden = true;
}

// A probability in plain words: never "0.00"
function chance(p) {
  const percent = Math.round(Number(p) * 100);
  if (percent < 1) return "less than 1%";
  if (percent >= 100) return "almost certain";
  return `${percent}%`;
}

// "title — artist — #rank" for the feedback list
function trackLabel(t) {
  const p = t.profile || {};
  const title = p.title || t.name || t.track_id;
  const artist = p.artist || t.artists;
  return [title, artist, `#${t.rank}`].filter(Boolean).join(" — ");
}

function emotionSummary(title, answer) {
  const box = document.createElement("div");
  const h = document.createElement("p");
  h.innerHTML = "";
  h.textContent = `${title}: ` + (answer.top_emotions || answer.query_top || []).map((e) => `${e.name} ${Number(e.strength).toFixed(2)}`).join(", ");
  box.append(h);
  if (answer.keywords && answer.keywords.length) {
    const chips = document.createElement("div");
    chips.className = "chips";
    for (const kw of answer.keywords) { const s = document.createElement("span"); s.textContent = kw.word; chips.append(s); }
    box.append(chips);
  }
  const vec = answer.query_emotion || answer.emotion;
  const row = document.createElement("div");
  row.className = "row detected-charts";
  if (vec) {
    row.append(figure("Emotion categories (DLUT)", "share of each emotion category found, 0–1",
                      bars(vec, Object.keys(vec).filter((c) => vec[c] > 0.005), { width: 320, color: "#e8590c" }), "categories"));
  }
  if (answer.valence_arousal) {
    const va = answer.valence_arousal;
    const fig = figure("Valence–arousal", `valence ${Number(va.valence).toFixed(2)} (unpleasant −1 … pleasant +1), ` +
                       `arousal ${Number(va.arousal).toFixed(2)} (calm −1 … excited +1)`, vaPlane(va), "valence-arousal");
    row.append(fig);
  }
  box.append(row);
  return box;
}

// ---------- actions ----------
async function recommend() {
  const who = listener();
  const files = Array.from($("#audio-files").files || []);
  const uploading = !$("#tab-upload").hidden && files.length > 0;
  let answer;
  if (uploading) {
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    for (const [key, value] of Object.entries(who)) form.append(key, String(value));
    answer = await call("recommend", form);
    // play uploads from the browser's own copy
    state.uploads.clear();
    for (const t of answer.tracks) {
      const f = files.find((file) => file.name && t.profile && t.profile.title && t.profile.title.endsWith(file.name));
      if (f) state.uploads.set(t.track_id, URL.createObjectURL(f));
    }
  } else {
    if (state.picked.size === 0) throw new Error("choose some songs from the catalog first (or upload songs)");
    answer = await call("recommend", { ...who, track_ids: Array.from(state.picked) });
  }
  renderTracks(answer, null);
}

async function recommendText() {
  const answer = await call("recommend_text", { text: $("#text").value, ...stateInputs() });
  renderTracks(answer, emotionSummary("the text reads", answer));
}

async function recommendPhoto() {
  const file = ($("#photo").files || [])[0];
  if (!file) throw new Error("choose a photo first");
  const form = new FormData();
  form.append("image", file, file.name);
  for (const [key, value] of Object.entries(stateInputs())) form.append(key, String(value));
  const answer = await call("recommend_image", form);
  const box = emotionSummary("the people look", answer);
  const faces = document.createElement("div");
  faces.className = "faces";
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file);
  faces.append(img);
  img.addEventListener("load", () => {
    const sx = img.clientWidth / answer.width, sy = img.clientHeight / answer.height;
    for (const f of answer.faces) {
      const [x, y, w, h] = f.box;
      const b = document.createElement("div");
      b.className = "box";
      Object.assign(b.style, { left: `${x * sx}px`, top: `${y * sy}px`, width: `${w * sx}px`, height: `${h * sy}px` });
      const s = document.createElement("span"); s.textContent = f.top; b.append(s);
      faces.append(b);
    }
  });
  box.append(faces);
  renderTracks(answer, box);
}

async function readStress() {
  const file = ($("#hrv-file").files || [])[0];
  if (!file) throw new Error("choose an HRV file first (RR intervals, or a CSV with the eight metrics)");
  const form = new FormData();
  form.append("file", file, file.name);
  const rest = ($("#hrv-baseline").files || [])[0];
  if (rest) form.append("baseline", rest, rest.name);
  const reading = await call("analyze_hrv", form);
  state.reading = reading;
  $("#stress").hidden = false;
  $("#stress-level").textContent = reading.level;
  $("#stress-chart").replaceChildren(figure("Stress level", "the stress model's probability of each level, 0–1",
                                            bars(reading.probabilities, ["low", "medium", "high"], { color: "#c2255c" }), "stress"));
  const table = $("#hrv-metrics tbody");
  table.replaceChildren();
  for (const [name, value] of Object.entries(reading.metrics || {})) {
    const tr = document.createElement("tr");
    const [unit, meaning] = HRV_METRICS[name] || ["", ""];
    for (const text of [name, `${Number(value).toFixed(1)} ${unit}`.trim(), meaning]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    table.append(tr);
  }
  renderBaseline(reading);
}

// the reading against the listener's own rest: the baseline's metrics and each ratio (exp dlog)
function renderBaseline(reading) {
  const box = $("#hrv-baseline-read");
  const rows = box.querySelector("tbody");
  rows.replaceChildren();
  const rest = reading.baseline || {};
  const recording = reading.recording || {};
  box.hidden = !reading.baseline;
  for (const [name, meaning] of Object.entries(BASELINE_READ)) {
    if (!(name in rest)) continue;
    const [unit] = HRV_METRICS[name] || [""];
    const dlog = recording[`dlog_${name}`];
    const share = dlog === undefined ? "—" : `${Math.round(100 * Math.exp(dlog))} %`;
    const tr = document.createElement("tr");
    tr.dataset.metric = name;
    for (const text of [name, `${Number(rest[name]).toFixed(1)} ${unit}`.trim(), share, meaning]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    rows.append(tr);
  }
}

// One key per feedback: sending the same inputs again (a retry after a lost answer) reuses
// it, so the service returns the row it stored instead of storing it twice.
function feedbackKey(inputs) {
  if (state.feedbackInputs !== inputs) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    state.feedbackKey = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    state.feedbackInputs = inputs;
  }
  return state.feedbackKey;
}

async function saveFeedback() {
  const rec = state.recommendation;
  if (!rec || !rec.recommendation_id) throw new Error("get a recommendation first");
  const track = $("#feedback-track").value;
  const explicit = $("#explicit-level").value;
  const file = ($("#hrv-file").files || [])[0];
  let row;
  if (explicit) {
    const key = feedbackKey([rec.recommendation_id, track, explicit].join("|"));
    row = await call("feedback", { recommendation_id: rec.recommendation_id, track_id: track, stress_level: explicit,
                                   client_key: key });
  } else {
    if (!file) throw new Error("upload an HRV file or say how stressed you felt");
    const form = new FormData();
    form.append("recommendation_id", rec.recommendation_id);
    form.append("track_id", track);
    form.append("file", file, file.name);
    const rest = ($("#hrv-baseline").files || [])[0];
    if (rest) form.append("baseline", rest, rest.name);
    const inputs = [rec.recommendation_id, track, file.name, file.size, file.lastModified];
    if (rest) inputs.push(rest.name, rest.size, rest.lastModified);
    form.append("client_key", feedbackKey(inputs.join("|")));
    row = await call("feedback", form);
  }
  const out = $("#feedback-result");
  out.hidden = false;
  out.dataset.feedbackId = row.id;
  const what = row.replayed ? "already saved as feedback" : "saved feedback";
  const against = row.baseline ? " (read against your resting baseline, stored with it)" : "";
  out.textContent = `${what} #${row.id}: stress ${row.stress_level}, reward ${Number(row.reward).toFixed(2)}${against}`;
}

async function showVersions() {
  try {
    const m = await call("models", {});
    const parts = Object.entries(m.models).map(([n, d]) => `${n.replace("moodtune-", "")} v${d.version}`);
    $("#versions").textContent = `serving ${parts.join(" · ")} · catalog of ${m.catalog.tracks} tracks`;
  } catch (err) { $("#versions").textContent = err.message; }
}

function init() {
  document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".tabpanel").forEach((p) => { p.hidden = p.id !== tab.dataset.tab; });
  }));
  $("#catalog-search").addEventListener("input", renderCatalog);
  $("#btn-pick-random").addEventListener("click", () => pickRandom(12));
  $("#btn-clear").addEventListener("click", () => { state.picked.clear(); renderCatalog(); });
  $("#btn-recommend").addEventListener("click", (e) => busy(e.target, recommend));
  $("#btn-text").addEventListener("click", (e) => busy(e.target, recommendText));
  $("#btn-photo").addEventListener("click", (e) => busy(e.target, recommendPhoto));
  $("#btn-hrv").addEventListener("click", (e) => busy(e.target, readStress));
  $("#btn-feedback").addEventListener("click", (e) => busy(e.target, saveFeedback));
  fetch("/ui/api/limits").then((r) => r.json()).then((l) => {
    state.limits = l;
    $("#k").max = l.max_k;
    $("#upload-limits").textContent = `up to ${l.max_files} files of at most ${(l.max_file_bytes / 1e6).toFixed(0)} MB each`;
  }).catch(() => {});
  showVersions();
  loadCatalog().catch((err) => showError(err.message));
}

document.addEventListener("DOMContentLoaded", init);
