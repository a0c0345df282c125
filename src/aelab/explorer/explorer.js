// The explorer page's only script: the exported model run in plain JavaScript, and the panels that play with it.
// Everything it shows comes from the JSON block #explorer-data (written by aelab/explorer/page.py); text from the
// run folder (paths, class names) is only ever set as textContent or title, never parsed as HTML.
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  const [H, W] = DATA.image_shape;
  const N = H * W;
  const timings = { ready_ms: null, update_ms: [] };
  const state = { draw: null, space: null, interp: null };

  // ---- embedded arrays: base64 of uint8 or little-endian float32 bytes (export.py, content.py)
  function bytesOf(text) {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  const floatsOf = text => new Float32Array(bytesOf(text).buffer);

  // ---- the model: a list of typed layers, each made into a function Float32Array → Float32Array.
  // Another family is another entry here (and in export.py's EXPORTERS), not another code path.
  const LAYERS = {
    dense(spec) { // y = W x + b, W of shape (out, in) row-major, as torch.nn.Linear
      const w = floatsOf(spec.weight), b = floatsOf(spec.bias), nIn = spec.in, nOut = spec.out;
      return x => {
        const y = new Float32Array(nOut);
        for (let o = 0; o < nOut; o++) {
          let sum = b[o];
          const row = o * nIn;
          for (let i = 0; i < nIn; i++) sum += w[row + i] * x[i];
          y[o] = sum;
        }
        return y;
      };
    },
    relu: () => x => x.map(v => (v > 0 ? v : 0)), // max(0, x)
    sigmoid: () => x => x.map(v => 1 / (1 + Math.exp(-v))), // σ(x) = 1 / (1 + e^−x): logits → pixels
  };
  function stack(specs) {
    const steps = specs.map(spec => {
      if (!Object.hasOwn(LAYERS, spec.type)) throw new Error(`layer type ${spec.type}: not known to this page`);
      return LAYERS[spec.type](spec);
    });
    return x => steps.reduce((h, step) => step(h), Float32Array.from(x));
  }
  const encode = stack(DATA.model.encoder);
  const decode = stack(DATA.model.decoder);
  const codeSize = DATA.meta.code_size;

  // ---- small helpers for the page
  const byId = id => document.getElementById(id);
  const clamp01 = v => Math.min(1, Math.max(0, v));
  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function imageCanvas(className) {
    const canvas = element("canvas", className);
    canvas.width = W;
    canvas.height = H;
    return canvas;
  }
  function paint(canvas, pixels) { // grey levels, 0 black and 1 white (the "gray" map of the run's figures)
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(W, H);
    for (let i = 0; i < N; i++) {
      const v = Math.round(255 * clamp01(pixels[i]));
      image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = v;
      image.data[4 * i + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }
  function slider(min, max, value, onInput) {
    const input = element("input");
    Object.assign(input, { type: "range", min: String(min), max: String(max), step: String((max - min) / 400) });
    input.value = String(value);
    input.addEventListener("input", () => onInput(Number(input.value)));
    return input;
  }
  function labelled(text, control, className = "control") {
    const label = element("label", className);
    label.append(element("span", "name", text), control);
    return label;
  }
  function timed(work) { // every update a pointer move or slider causes is timed (benchmarks/bench_explorer.py)
    const t0 = performance.now();
    work();
    timings.update_ms.push(performance.now() - t0);
    if (timings.update_ms.length > 5000) timings.update_ms.splice(0, 1000);
  }

  // ---- the header: what model this is, from the run folder (text only)
  const meta = DATA.meta;
  byId("title").textContent = `${meta.family} autoencoder on ${meta.dataset}`;
  byId("about").textContent = [`run folder ${meta.run}`, `layers ${meta.layers}`, `code size ${codeSize}`,
    ...(meta.noise ? [`trained on ${meta.noise.kind} noise ${meta.noise.factor}`] : []),
    ...(meta.test_bce !== null ? [`test BCE ${meta.test_bce.toFixed(4)}`] : [])].join(" · ");

  // ---- the drawing: 28×28 pixels in [0, 1], a soft round brush, undo snapshots per stroke
  const drawing = new Float32Array(N);
  const undo = [];
  const BRUSH_RADIUS = 1.6, BRUSH_SOFTNESS = 1.0; // pixels: a stroke about 2.5 px wide with soft edges, like MNIST's
  function stamp(x0, y0, x1, y1) { // paint the segment (x0, y0)–(x1, y1), in pixel units, with the brush
    const dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy;
    const left = Math.max(0, Math.floor(Math.min(x0, x1) - BRUSH_RADIUS)), right = Math.min(W - 1, Math.ceil(Math.max(x0, x1) + BRUSH_RADIUS));
    const top = Math.max(0, Math.floor(Math.min(y0, y1) - BRUSH_RADIUS)), bottom = Math.min(H - 1, Math.ceil(Math.max(y0, y1) + BRUSH_RADIUS));
    for (let r = top; r <= bottom; r++) {
      for (let c = left; c <= right; c++) {
        const px = c + 0.5, py = r + 0.5;
        const t = length2 > 0 ? Math.min(1, Math.max(0, ((px - x0) * dx + (py - y0) * dy) / length2)) : 0;
        const d = Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
        drawing[r * W + c] = Math.max(drawing[r * W + c], clamp01((BRUSH_RADIUS - d) / BRUSH_SOFTNESS));
      }
    }
  }
  function remember() {
    undo.push(Float32Array.from(drawing));
    if (undo.length > 100) undo.shift();
  }
  function load(pixels) {
    remember();
    drawing.set(pixels);
    timed(reconstruct);
  }

  // ---- noise for denoisers: the corruption the model was trained with (data/noise.py), its level on a slider.
  // The random fields are drawn once (seeded) so moving the slider scales the same noise; "new noise" draws again.
  function mulberry32(seed) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const noise = { level: meta.noise ? meta.noise.factor : 0, seed: 1, normal: new Float32Array(N), uniform: new Float32Array(N), coin: new Float32Array(N) };
  function drawNoise() {
    const random = mulberry32(noise.seed);
    for (let i = 0; i < N; i++) { // Box–Muller: z = √(−2 ln u₁) cos 2πu₂ is N(0, 1)
      noise.normal[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      noise.uniform[i] = random();
      noise.coin[i] = random();
    }
  }
  const CORRUPTIONS = {
    gaussian: (x, i, level) => clamp01(x + level * noise.normal[i]), // clip(x + f·N(0, 1), 0, 1)
    masking: (x, i, level) => (noise.uniform[i] >= level ? x : 0), // each pixel zeroed with probability f
    "salt-pepper": (x, i, level) => (noise.uniform[i] < level ? (noise.coin[i] < 0.5 ? 1 : 0) : x), // 0 or 1 with probability f
  };
  function modelInput() {
    if (!meta.noise || noise.level === 0) return Float32Array.from(drawing);
    const corrupt = CORRUPTIONS[meta.noise.kind];
    return Float32Array.from(drawing, (x, i) => corrupt(x, i, noise.level));
  }

  // ---- the drawing panel: canvas → input (noisy for a denoiser) → code bars → reconstruction
  const pad = byId("pad"), inputView = byId("input-view"), output = byId("output"), bars = byId("bars");
  const barScale = Math.max(...DATA.unit_max);
  function drawBars(code) {
    const ctx = bars.getContext("2d"), width = bars.width, height = bars.height, step = width / code.length;
    ctx.fillStyle = "#f5f7fa";
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = "#1f5fbf";
    code.forEach((v, j) => {
      const h = Math.min(1, Math.max(0, v / barScale)) * (height - 2);
      ctx.fillRect(j * step + step * 0.1, height - h, Math.max(1, step * 0.8), h);
    });
  }
  function reconstruct() {
    const input = modelInput();
    const code = encode(input);
    const pixels = decode(code);
    state.draw = { input, code, output: pixels };
    paint(pad, drawing);
    paint(inputView, input);
    paint(output, pixels);
    drawBars(code);
  }
  function pointOn(canvas, event, width, height) { // event position in the canvas' own units
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) / box.width * width, (event.clientY - box.top) / box.height * height];
  }
  let last = null;
  pad.addEventListener("pointerdown", event => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId); // the stroke follows the pointer even off the canvas
    remember();
    last = pointOn(pad, event, W, H);
    timed(() => { stamp(...last, ...last); reconstruct(); });
  });
  pad.addEventListener("pointermove", event => {
    if (!last) return;
    event.preventDefault();
    const point = pointOn(pad, event, W, H);
    timed(() => { stamp(...last, ...point); reconstruct(); });
    last = point;
  });
  for (const end of ["pointerup", "pointercancel"]) pad.addEventListener(end, () => { last = null; });
  byId("clear").addEventListener("click", () => load(new Float32Array(N)));
  byId("undo").addEventListener("click", () => {
    if (!undo.length) return;
    drawing.set(undo.pop());
    timed(reconstruct);
  });
  if (meta.noise) {
    drawNoise();
    const level = slider(0, 1, noise.level, value => { noise.level = value; timed(reconstruct); });
    level.id = "noise";
    byId("noise-controls").append(labelled(`${meta.noise.kind} noise`, level));
    const again = element("button", "", "new noise");
    again.id = "new-noise";
    again.addEventListener("click", () => { noise.seed += 1; drawNoise(); timed(reconstruct); });
    byId("noise-controls").append(again);
  } else {
    byId("input-figure").hidden = true;
  }

  // ---- thumbnails of test images: a click loads one into the drawing
  const thumbPixels = bytesOf(DATA.thumbnails.pixels);
  const thumbnails = DATA.thumbnails.indices.map((index, k) => Float32Array.from(thumbPixels.subarray(k * N, (k + 1) * N), v => v / 255));
  DATA.thumbnails.indices.forEach((index, k) => {
    const canvas = imageCanvas("thumb");
    canvas.title = `test image #${index}: ${DATA.classes[DATA.thumbnails.labels[k]]}`;
    canvas.dataset.index = String(k);
    paint(canvas, thumbnails[k]);
    canvas.addEventListener("click", () => load(thumbnails[k]));
    byId("thumbnails").append(canvas);
  });

  // ---- the code space: a point in it, set by sliders (principal directions, units) or the 2-D scatter
  const directions = DATA.directions;
  const spaceCode = Float32Array.from(directions.mean);
  const spaceView = byId("space-output");
  const projection = i => directions.components[i].reduce((s, c, j) => s + c * (spaceCode[j] - directions.mean[j]), 0);
  const directionSliders = [], unitSliders = [];
  function showSpace(moved) { // decode the point; every slider but the one being moved follows it
    const pixels = decode(spaceCode);
    state.space = { code: Float32Array.from(spaceCode), output: pixels };
    paint(spaceView, pixels);
    directionSliders.forEach((s, i) => { if (s !== moved) s.value = String(projection(i)); });
    unitSliders.forEach((s, j) => { if (s !== moved) s.value = String(spaceCode[j]); });
    if (scatter) scatter.mark();
  }
  if (codeSize > 2) {
    directions.components.forEach((component, i) => {
      const range = directions.ranges[i];
      const s = slider(-range, range, 0, value => {
        const delta = value - projection(i); // move along direction i only: code += Δ·vᵢ
        component.forEach((c, j) => { spaceCode[j] += delta * c; });
        timed(() => showSpace(s));
      });
      s.dataset.direction = String(i);
      directionSliders.push(s);
      byId("directions").append(labelled(`direction ${i + 1} (${(100 * directions.explained[i]).toFixed(1)}% of variance)`, s));
    });
  } else {
    byId("directions-block").hidden = true;
  }
  DATA.unit_max.forEach((max, j) => {
    const s = slider(0, 1.25 * max, spaceCode[j], value => { spaceCode[j] = value; timed(() => showSpace(s)); });
    s.dataset.unit = String(j);
    unitSliders.push(s);
    byId("units").append(labelled(`unit ${j}`, s, "control unit"));
  });
  byId("space-from-drawing").addEventListener("click", () => { spaceCode.set(state.draw.code); timed(() => showSpace(null)); });

  // the scatter of the test codes, for a 2-D code: hover or click decodes the point under the pointer
  const scatter = DATA.points ? makeScatter(byId("scatter")) : null;
  if (!scatter) byId("scatter-block").hidden = true;
  function makeScatter(canvas) {
    const codes = floatsOf(DATA.points.codes), labels = DATA.points.labels, n = labels.length;
    const bounds = [0, 1].map(axis => {
      let lo = Infinity, hi = -Infinity;
      for (let k = 0; k < n; k++) { lo = Math.min(lo, codes[2 * k + axis]); hi = Math.max(hi, codes[2 * k + axis]); }
      const margin = 0.05 * (hi - lo || 1);
      return [lo - margin, hi + margin];
    });
    const width = canvas.width, height = canvas.height;
    const toPixel = (c0, c1) => [(c0 - bounds[0][0]) / (bounds[0][1] - bounds[0][0]) * width,
      (bounds[1][1] - c1) / (bounds[1][1] - bounds[1][0]) * height];
    const toCode = (x, y) => [bounds[0][0] + x / width * (bounds[0][1] - bounds[0][0]),
      bounds[1][1] - y / height * (bounds[1][1] - bounds[1][0])];
    const points = document.createElement("canvas"); // drawn once; each move only adds the marker on top
    points.width = width;
    points.height = height;
    const pctx = points.getContext("2d");
    pctx.fillStyle = "#ffffff";
    pctx.fillRect(0, 0, width, height);
    for (let k = 0; k < n; k++) {
      const [x, y] = toPixel(codes[2 * k], codes[2 * k + 1]);
      pctx.fillStyle = DATA.palette[labels[k] % DATA.palette.length];
      pctx.fillRect(Math.round(x) - 1, Math.round(y) - 1, 3, 3); // whole pixels: each point in its class' colour, unblended
    }
    const ctx = canvas.getContext("2d");
    function pick(event) {
      const [x, y] = pointOn(canvas, event, width, height);
      spaceCode.set(toCode(x, y));
      timed(() => showSpace(null));
    }
    canvas.addEventListener("pointermove", pick);
    canvas.addEventListener("click", pick);
    DATA.classes.forEach((name, c) => {
      const item = element("span", "legend-item");
      const swatch = element("span", "swatch");
      swatch.style.backgroundColor = DATA.palette[c % DATA.palette.length];
      item.append(swatch, document.createTextNode(name));
      byId("legend").append(item);
    });
    return {
      bounds,
      mark() {
        ctx.drawImage(points, 0, 0);
        const [x, y] = toPixel(spaceCode[0], spaceCode[1]);
        ctx.strokeStyle = "#000000";
        ctx.lineWidth = 2;
        ctx.strokeRect(Math.round(x) - 5, Math.round(y) - 5, 10, 10);
      },
    };
  }

  // ---- interpolation: two picked images' codes, and the decoded code (1 − t)·a + t·b
  const interp = { a: null, b: null, t: 0.5, views: { a: byId("interp-a"), b: byId("interp-b") } };
  const strip = Array.from({ length: 9 }, () => byId("interp-strip").appendChild(imageCanvas("step")));
  function between(t) { return Float32Array.from(interp.a.code, (a, j) => (1 - t) * a + t * interp.b.code[j]); }
  function showInterpolation() {
    const code = between(interp.t);
    const pixels = decode(code);
    state.interp = { a: interp.a.code, b: interp.b.code, t: interp.t, code, output: pixels };
    paint(byId("interp-output"), pixels);
  }
  function pickEnd(end, pixels) {
    interp[end] = { input: Float32Array.from(pixels), code: encode(pixels) };
    paint(interp.views[end], pixels);
    if (!interp.a || !interp.b) return;
    strip.forEach((canvas, k) => paint(canvas, decode(between(k / (strip.length - 1)))));
    showInterpolation();
  }
  byId("pick-a").addEventListener("click", () => pickEnd("a", modelInput()));
  byId("pick-b").addEventListener("click", () => pickEnd("b", modelInput()));
  const scrub = slider(0, 1, interp.t, value => { interp.t = value; timed(showInterpolation); });
  scrub.id = "interp-t";
  byId("interp-controls").append(labelled("t", scrub));

  // ---- the encoder's first-layer weights, one 28×28 tile per unit on weights.png's colour scale; hover enlarges
  const first = DATA.model.encoder[0];
  const weights = floatsOf(first.weight), colours = bytesOf(DATA.weights.colormap), limit = DATA.weights.limit;
  function paintWeights(canvas, unit) { // matplotlib's Normalize(−limit, limit) then the 256-colour map
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(W, H);
    for (let i = 0; i < N; i++) {
      const level = Math.min(255, Math.max(0, Math.floor((weights[unit * N + i] + limit) / (2 * limit) * 256)));
      image.data.set([colours[3 * level], colours[3 * level + 1], colours[3 * level + 2], 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
  }
  const enlarged = byId("weights-enlarged");
  function enlarge(unit) {
    paintWeights(enlarged, unit);
    byId("weights-unit").textContent = `unit ${unit}`;
  }
  for (let unit = 0; unit < first.out; unit++) {
    const tile = imageCanvas("weight");
    tile.title = `unit ${unit}`;
    tile.dataset.unit = String(unit);
    paintWeights(tile, unit);
    tile.addEventListener("pointerenter", () => enlarge(unit));
    byId("weights").append(tile);
  }
  byId("weights-scale").textContent = `colour scale −${limit.toPrecision(3)} (blue) … 0 (white) … +${limit.toPrecision(3)} (red)`;

  // ---- start: the first thumbnail in the drawing, the mean code in the space, first and last thumbnails interpolated
  drawing.set(thumbnails[0]);
  timed(reconstruct);
  showSpace(null);
  pickEnd("a", thumbnails[0]);
  pickEnd("b", thumbnails[thumbnails.length - 1]);
  enlarge(0);
  window.aelabExplorer = Object.freeze({ state, timings, scatterBounds: scatter ? scatter.bounds : null });
  timings.ready_ms = performance.now(); // from the start of navigation: the page-ready time
  document.body.dataset.ready = "true";
})();
