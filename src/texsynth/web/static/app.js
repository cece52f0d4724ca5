// texsynth serve: the page's behaviour. Plain JavaScript, no library, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, job: null, events: null, maskDrawn: false, painting: false };

function message(text) { $("message").textContent = text || ""; }

function randomSeed() {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0];
}

async function apiError(resp) {
  try {
    const doc = await resp.json();
    if (doc && doc.error) return doc.error;
  } catch (e) { /* not JSON */ }
  return `the server answered ${resp.status}`;
}

// ---- settings from the server: methods (one line each), limits, generators ----
async function loadInfo() {
  const resp = await fetch("/api/info");
  const info = await resp.json();
  const select = $("method");
  for (const m of info.methods) {
    const opt = document.createElement("option");
    opt.value = m.name;
    opt.textContent = m.name;
    opt.title = m.summary;
    select.appendChild(opt);
  }
  const lines = Object.fromEntries(info.methods.map((m) => [m.name, m.summary]));
  const showLine = () => { $("method-line").textContent = lines[select.value] || ""; };
  select.addEventListener("change", showLine);
  showLine();
  $("size").max = info.limits.max_size;
  $("n").max = info.limits.max_n;
  state.maxBytes = info.limits.max_upload_mb * 1048576;
  showGenerators(info.generators);
}

// ---- the picture: drop or pick, preview ----
function setFile(file) {
  message("");
  if (!file) return;
  if (state.maxBytes && file.size > state.maxBytes) {
    message(`This file is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${(state.maxBytes / 1048576).toFixed(0)} MB.`);
    return;
  }
  state.file = file;
  clearMask();
  const img = $("source");
  $("go").disabled = false;
  if (/\.npy$/i.test(file.name)) {
    $("preview-wrap").hidden = true;
    $("source-info").textContent = `${file.name}: a NumPy field (no preview; textures come as PNG, 16-bit PNG and .npy)`;
    return;
  }
  const url = URL.createObjectURL(file);
  img.onload = () => {
    $("preview-wrap").hidden = false;
    $("source-info").textContent = `${file.name}: ${img.naturalWidth}×${img.naturalHeight} pixels`;
    const c = $("mask-canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    fitCanvas();
  };
  img.onerror = () => {
    $("preview-wrap").hidden = true;
    if (/\.tiff?$/i.test(file.name)) {
      $("source-info").textContent = `${file.name}: TIFF (the browser shows no preview)`;
    } else {
      state.file = null;
      $("go").disabled = true;
      $("source-info").textContent = "";
      message(`“${file.name}” is not an image this page can read. Choose a PNG, JPEG, WebP, BMP, TIFF or .npy file.`);
    }
  };
  img.src = url;
}

function fitCanvas() {
  const img = $("source"), c = $("mask-canvas");
  c.style.width = img.clientWidth + "px";
  c.style.height = img.clientHeight + "px";
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]);
});
$("file").addEventListener("change", (e) => setFile(e.target.files[0]));
window.addEventListener("resize", fitCanvas);

// ---- the mask: painted on the preview or uploaded (white = fill in) ----
function clearMask() {
  const c = $("mask-canvas");
  c.getContext("2d").clearRect(0, 0, c.width, c.height);
  state.maskDrawn = false;
  $("mask-file").value = "";
}

$("clear-mask").addEventListener("click", clearMask);
$("draw-mask").addEventListener("change", (e) => {
  $("mask-canvas").classList.toggle("painting", e.target.checked);
  fitCanvas();
});

function paintAt(e) {
  const c = $("mask-canvas");
  const r = c.getBoundingClientRect();
  const scale = c.width / r.width;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#ff2d55";
  ctx.beginPath();
  ctx.arc((e.clientX - r.left) * scale, (e.clientY - r.top) * scale, ($("brush").value / 2) * scale, 0, 2 * Math.PI);
  ctx.fill();
  state.maskDrawn = true;
}
const canvas = $("mask-canvas");
canvas.addEventListener("pointerdown", (e) => { state.painting = true; canvas.setPointerCapture(e.pointerId); paintAt(e); });
canvas.addEventListener("pointermove", (e) => { if (state.painting) paintAt(e); });
canvas.addEventListener("pointerup", () => { state.painting = false; });

$("mask-file").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (!f) return;
  const im = new Image();
  im.onload = () => {
    const c = $("mask-canvas");
    if (im.naturalWidth !== c.width || im.naturalHeight !== c.height) {
      message(`The mask is ${im.naturalWidth}×${im.naturalHeight} pixels but the picture is ${c.width}×${c.height}; give a mask of the picture's size.`);
      return;
    }
    const tmp = document.createElement("canvas");
    tmp.width = c.width; tmp.height = c.height;
    const t = tmp.getContext("2d");
    t.drawImage(im, 0, 0);
    const d = t.getImageData(0, 0, c.width, c.height);
    for (let i = 0; i < d.data.length; i += 4) {
      const on = (d.data[i] + d.data[i + 1] + d.data[i + 2]) / 3 >= 128;
      d.data[i] = 255; d.data[i + 1] = 45; d.data[i + 2] = 85; d.data[i + 3] = on ? 255 : 0;
    }
    c.getContext("2d").putImageData(d, 0, 0);
    state.maskDrawn = true;
    message("");
  };
  im.onerror = () => message(`“${f.name}” is not an image; a mask is a black-and-white picture.`);
  im.src = URL.createObjectURL(f);
});

function maskBlob() {
  // the painted strokes as a black-and-white PNG of the picture's size
  const c = $("mask-canvas");
  const out = document.createElement("canvas");
  out.width = c.width; out.height = c.height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, out.width, out.height);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height);
  const o = ctx.getImageData(0, 0, out.width, out.height);
  for (let i = 0; i < d.data.length; i += 4) {
    const v = d.data[i + 3] >= 128 ? 255 : 0;
    o.data[i] = o.data[i + 1] = o.data[i + 2] = v;
  }
  ctx.putImageData(o, 0, 0);
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

// ---- submit, progress, cancel ----
function seconds(s) {
  if (s === null || s === undefined) return "estimating time left";
  return s < 60 ? `about ${Math.ceil(s)} s left` : `about ${Math.ceil(s / 60)} min left`;
}

function showProgress(job) {
  const p = job.progress || {};
  const pct = Math.round(100 * (p.fraction || 0));
  $("bar-fill").style.width = pct + "%";
  $("bar").setAttribute("aria-valuenow", String(pct));
  let text;
  if (job.state === "queued") text = `queued, position ${job.position}`;
  else if (job.state === "running" && p.level) {
    const member = p.members > 1 ? `texture ${p.member}/${p.members} · ` : "";
    text = `${member}level ${p.level}/${p.levels} · iteration ${p.iteration}/${p.steps} · ${seconds(p.eta_s)}`;
  } else if (job.state === "running") text = "starting…";
  else if (job.state === "done") text = `done in ${(p.elapsed_s || 0).toFixed(1)} s`;
  else if (job.state === "cancelled") text = "cancelled";
  else text = "failed";
  $("status").textContent = text;
  $("notes").textContent = (job.notes || []).join(" ");
  if (job.preview && job.preview !== state.preview) {
    state.preview = job.preview;
    const img = $("forming");
    img.src = `/api/jobs/${job.id}/preview.png?v=${job.preview}`;
    img.hidden = false;
  }
}

function finish(job) {
  if (state.events) { state.events.close(); state.events = null; }
  $("cancel").hidden = true;
  $("go").disabled = !state.file;
  if (job.state === "done") showResults(job);
  else if (job.state === "failed") message(job.error || "the run failed");
  else if (job.state === "cancelled") message("Cancelled: nothing was kept.");
}

function watch(job) {
  state.job = job;
  state.preview = 0;
  showProgress(job);
  const es = new EventSource(`/api/jobs/${job.id}/events`);
  state.events = es;
  es.onmessage = (e) => {
    const j = JSON.parse(e.data);
    showProgress(j);
    if (["done", "failed", "cancelled"].includes(j.state)) finish(j);
  };
  es.onerror = async () => {
    // the stream broke (server restarted?): ask once for the state
    const resp = await fetch(`/api/jobs/${job.id}`);
    if (!resp.ok) { es.close(); message(await apiError(resp)); finish({ state: "gone" }); }
  };
}

$("go").addEventListener("click", async () => {
  if (!state.file) return;
  message("");
  if ($("seed-random").checked || $("seed").value === "") $("seed").value = randomSeed();
  const form = new FormData();
  form.append("image", state.file, state.file.name);
  form.append("size", $("size").value);
  form.append("n", $("n").value);
  form.append("method", $("method").value);
  form.append("quality", $("quality").value);
  form.append("seed", $("seed").value);
  form.append("tile", $("tile").checked ? "true" : "false");
  if (state.maskDrawn) form.append("mask", await maskBlob(), "mask.png");
  $("go").disabled = true;
  const resp = await fetch("/api/jobs", { method: "POST", body: form });
  if (!resp.ok) {
    message(await apiError(resp));
    $("go").disabled = false;
    return;
  }
  const job = await resp.json();
  $("progress-panel").hidden = false;
  $("forming").hidden = true;
  $("cancel").hidden = false;
  watch(job);
});

$("cancel").addEventListener("click", async () => {
  if (!state.job) return;
  const resp = await fetch(`/api/jobs/${state.job.id}/cancel`, { method: "POST" });
  if (!resp.ok) message(await apiError(resp));
});

// ---- results: gallery with 2x2 tiled previews, downloads, zip, record ----
function link(href, text, name) {
  const a = document.createElement("a");
  a.href = href; a.textContent = text; a.download = name;
  return a;
}

function showResults(job) {
  const base = `/api/jobs/${job.id}`;
  $("results").hidden = false;
  $("zip").href = `${base}/zip`;
  $("record").href = `${base}/files/record.json`;
  const gallery = $("gallery");
  job.outputs.forEach((o, k) => {
    const card = document.createElement("div");
    card.className = "card";
    const url = `${base}/files/${o.png}`;
    const pair = document.createElement("div");
    pair.className = "pair";
    const img = document.createElement("img");
    img.src = url; img.alt = `texture ${k + 1}`;
    const tiled = document.createElement("div");
    tiled.className = "tiled";
    tiled.title = "repeated 2×2: seams would show here";
    tiled.style.backgroundImage = `url("${url}")`;
    pair.append(img, tiled);
    const caption = document.createElement("p");
    caption.textContent = `texture ${k + 1} · left: one tile, right: 2×2`;
    const links = document.createElement("div");
    links.append(link(url, "PNG", o.png));
    if (o.png16) links.append(link(`${base}/files/${o.png16}`, "16-bit PNG", o.png16));
    if (o.npy) links.append(link(`${base}/files/${o.npy}`, "float .npy", o.npy));
    card.append(pair, caption, links);
    gallery.prepend(card);
  });
}

// ---- trained generators: sampled at once ----
function showGenerators(list) {
  if (!list || !list.length) return;
  $("generators-panel").hidden = false;
  const ul = $("generators");
  for (const g of list) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `Sample ${g.name}`;
    b.addEventListener("click", async () => {
      message("");
      const form = new FormData();
      form.append("n", $("n").value);
      form.append("seed", String(randomSeed()));
      const resp = await fetch(`/api/generators/${encodeURIComponent(g.name)}/sample`, { method: "POST", body: form });
      if (!resp.ok) { message(await apiError(resp)); return; }
      showResults(await resp.json());
    });
    li.append(b, ` (${g.size_hw[1]}×${g.size_hw[0]})`);
    ul.appendChild(li);
  }
}

$("seed").value = randomSeed();
loadInfo().then(() => document.body.dataset.ready = "1");
