// The explorer page's only script: the exported model run in plain JavaScript, and the panels that play with it.
// Everything it shows comes from the JSON block #explorer-data (written by aelab/explorer/page.py); text from the
// run folder (paths, class names) is only ever set as textContent or title, never parsed as HTML.
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  const SIGNAL = DATA.sample_shape.length === 1; // (L,): 1-D samples, drawn as line plots; (C, H, W): images
  const [C, H, W] = SIGNAL ? [1, 1, DATA.sample_shape[0]] : DATA.sample_shape;
  const N = C * H * W; // the model's input: one flat row, PyTorch's row-major (C, H, W) order
  const DRAWABLE = !SIGNAL && C === 1; // grey images are drawn; colour images and signals are picked
  const TABLE = DATA.kind === "table"; // a table's rows: bars per named column, in the units the model works in
  const SAMPLE = TABLE ? "row" : SIGNAL ? "signal" : "image"; // what one sample is called on the page
  const [VIEW_W, VIEW_H] = DATA.view_size; // the canvases' own size: the image, or a plot
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
    conv2d(spec) { // y[o,i,j] = b[o] + Σ_c,u,v w[o,c,u,v]·x[c, i·s−p+u, j·s−p+v], zero outside x: torch.nn.Conv2d
      const w = floatsOf(spec.weight), b = floatsOf(spec.bias);
      const [nc, h, wd] = spec.in_shape, [no, ho, wo] = spec.out_shape, [kh, kw] = spec.kernel, [sh, sw] = spec.stride, [ph, pw] = spec.padding;
      const rows = inside(kh, ho, sh, ph, h), cols = inside(kw, wo, sw, pw, wd);
      return x => {
        const y = new Float64Array(no * ho * wo);
        for (let o = 0; o < no; o++) {
          y.fill(b[o], o * ho * wo, (o + 1) * ho * wo);
          for (let c = 0; c < nc; c++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
            const weight = w[((o * nc + c) * kh + u) * kw + v], [j0, j1] = cols[v];
            for (let i = rows[u][0]; i < rows[u][1]; i++) {
              const from = (c * h + i * sh - ph + u) * wd - pw + v, to = (o * ho + i) * wo;
              for (let j = j0; j < j1; j++) y[to + j] += weight * x[from + j * sw];
            }
          }
        }
        return Float32Array.from(y);
      };
    },
    conv_transpose2d(spec) { // y[o, i·s−p+u, j·s−p+v] += w[c,o,u,v]·x[c,i,j], plus b[o]: torch.nn.ConvTranspose2d
      // (output_padding only lengthens the output: out_shape, traced from PyTorch, already holds it)
      const w = floatsOf(spec.weight), b = floatsOf(spec.bias);
      const [nc, h, wd] = spec.in_shape, [no, ho, wo] = spec.out_shape, [kh, kw] = spec.kernel, [sh, sw] = spec.stride, [ph, pw] = spec.padding;
      const rows = inside(kh, h, sh, ph, ho), cols = inside(kw, wd, sw, pw, wo); // input positions that land inside y
      return x => {
        const y = new Float64Array(no * ho * wo);
        for (let o = 0; o < no; o++) y.fill(b[o], o * ho * wo, (o + 1) * ho * wo);
        for (let c = 0; c < nc; c++) for (let o = 0; o < no; o++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
          const weight = w[((c * no + o) * kh + u) * kw + v], [j0, j1] = cols[v];
          for (let i = rows[u][0]; i < rows[u][1]; i++) {
            const from = (c * h + i) * wd, to = (o * ho + i * sh - ph + u) * wo - pw + v;
            for (let j = j0; j < j1; j++) y[to + j * sw] += weight * x[from + j];
          }
        }
        return Float32Array.from(y);
      };
    },
    max_pool2d(spec) { // y[c,i,j] = max over the window x[c, i·s−p+u, j·s−p+v] (padding never wins): torch.nn.MaxPool2d
      const [nc, h, wd] = spec.in_shape, [, ho, wo] = spec.out_shape, [kh, kw] = spec.kernel, [sh, sw] = spec.stride, [ph, pw] = spec.padding;
      return x => {
        const y = new Float32Array(nc * ho * wo);
        for (let c = 0; c < nc; c++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
          let best = -Infinity;
          for (let u = 0; u < kh; u++) {
            const r = i * sh - ph + u;
            if (r < 0 || r >= h) continue;
            for (let v = 0; v < kw; v++) {
              const col = j * sw - pw + v;
              if (col >= 0 && col < wd) best = Math.max(best, x[(c * h + r) * wd + col]);
            }
          }
          y[(c * ho + i) * wo + j] = best;
        }
        return y;
      };
    },
    relu: () => x => x.map(v => (v > 0 ? v : 0)), // max(0, x)
    sigmoid: () => x => x.map(v => 1 / (1 + Math.exp(-v))), // σ(x) = 1 / (1 + e^−x): logits → pixels
  };
  // for each kernel offset u, the output positions i (a convolution) or input positions i (a transposed one) whose
  // i·s − p + u falls inside [0, size): the loops above run over exactly those, with no test per element
  function inside(k, count, s, p, size) {
    return Array.from({ length: k }, (_, u) => [Math.max(0, Math.ceil((p - u) / s)), Math.min(count, Math.floor((size - 1 + p - u) / s) + 1)]);
  }
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
    canvas.width = VIEW_W;
    canvas.height = VIEW_H;
    return canvas;
  }
  // what a person sees of the model's values: scaled data back in its own units, x = x′ / factor + offset (scaling.py, S1)
  const scaling = DATA.scaling;
  const shown = scaling ? (v, i) => v / scaling.factor[i] + scaling.offset[i] : v => v;
  function paint(canvas, values) { // images: grey (0 black, 1 white, the "gray" map of the run's figures) or RGB
    if (SIGNAL) return plot(canvas, values);
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(W, H);
    const plane = H * W;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) image.data[4 * i + c] = Math.round(255 * clamp01(shown(values[(C === 1 ? 0 : c) * plane + i], (C === 1 ? 0 : c) * plane + i)));
      image.data[4 * i + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }
  // 1-D samples: a line plot on the test samples' value range (in their own units), the model's input in grey behind
  const signalRange = DATA.signal_range;
  function polyline(ctx, values, colour, width, height) {
    const [lo, hi] = signalRange;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = (i + 0.5) / values.length * width, y = height - 4 - (shown(v, i) - lo) / (hi - lo || 1) * (height - 8);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  function columnBars(ctx, values, colour, width, height, share) { // a table row: one bar per column from the zero line
    const [lo, hi] = signalRange, span = Math.max(hi, 0) - Math.min(lo, 0) || 1;
    const y = v => height - 4 - (v - Math.min(lo, 0)) / span * (height - 8), step = width / values.length;
    ctx.fillStyle = colour;
    values.forEach((v, i) => {
      const top = Math.min(y(v), y(0)), x = i * step + step * (1 - share) / 2;
      ctx.fillRect(x, top, Math.max(1, step * share), Math.max(1, Math.abs(y(v) - y(0))));
    });
  }
  function plot(canvas, values) {
    const ctx = canvas.getContext("2d"), width = canvas.width, height = canvas.height;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, width, height);
    const behind = canvas.id === "output" && state.draw ? state.draw.input : null;
    if (TABLE) {
      if (behind) columnBars(ctx, behind, "#b8bfcc", width, height, 0.9);
      columnBars(ctx, values, "#1f5fbf", width, height, behind ? 0.45 : 0.8);
    } else {
      if (behind) polyline(ctx, behind, "#b8bfcc", width, height);
      polyline(ctx, values, "#1f5fbf", width, height);
    }
    canvas.plotted = values; // read back by the hover readout below
  }
  // hovering a plot names the position under the pointer and its value: a table's column by name
  document.addEventListener("pointermove", event => {
    const canvas = event.target;
    if (!(canvas instanceof HTMLCanvasElement) || !canvas.plotted) return;
    const box = canvas.getBoundingClientRect(), values = canvas.plotted;
    const i = Math.min(values.length - 1, Math.max(0, Math.floor((event.clientX - box.left) / box.width * values.length)));
    const name = DATA.columns ? DATA.columns[i] : `position ${i}`;
    canvas.title = `${name}: ${Number(shown(values[i], i).toPrecision(4))}`;
  });
  // a number as a slider's readout shows it: digits down to about 1/100 of the slider's larger end
  function digitsFor(min, max) {
    return Math.min(4, Math.max(0, 2 - Math.floor(Math.log10(Math.max(Math.abs(min), Math.abs(max)) || 1))));
  }
  // a range input with a readout beside it of the value it sets; `set` moves it from the page (a slider that follows
  // another) and shows the value it was given, which the input itself rounds to its step. The readout and what a
  // screen reader says of the slider (aria-valuetext) follow either way.
  function slider(min, max, value, onInput, digits = digitsFor(min, max)) {
    const input = element("input"), readout = element("span", "readout");
    Object.assign(input, { type: "range", min: String(min), max: String(max), step: String((max - min) / 400) });
    const show = v => {
      readout.textContent = (Math.abs(v) < 0.5 * 10 ** -digits ? 0 : v).toFixed(digits); // 0.00, never −0.00
      input.setAttribute("aria-valuetext", readout.textContent);
    };
    input.set = v => { input.value = String(v); show(v); };
    input.readout = readout;
    input.set(value);
    input.addEventListener("input", () => { show(Number(input.value)); onInput(Number(input.value)); });
    return input;
  }
  // a control with its name: an aria-label too, so the name a screen reader says is the name, not name and readout
  function labelled(text, control, className = "control") {
    const label = element("label", className);
    control.setAttribute("aria-label", text);
    label.append(element("span", "name", text), control, ...(control.readout ? [control.readout] : []));
    return label;
  }
  // an axis' tick values: steps of 1, 2 or 5 × 10^k, about four of them, from a multiple at or below lo to one at or
  // above hi (lo ≤ 0 < hi here, so 0 is always a tick)
  function ticks(lo, hi) {
    const rough = (hi - lo) / 4, power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map(m => m * power).find(s => s >= rough * (1 - 1e-9));
    const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
    return Array.from({ length: last - first + 1 }, (_, k) => (first + k) * step);
  }
  const tickDigits = values => Math.max(0, -Math.floor(Math.log10(values[1] - values[0]) + 1e-9));
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
    ...(meta.shown_dataset ? [`test ${SAMPLE}s of ${meta.shown_dataset}`] : []),
    ...(meta.noise ? [`trained on ${meta.noise.kind} noise ${meta.noise.factor}`] : []),
    ...(meta.test_bce !== null ? [`test BCE ${meta.test_bce.toFixed(4)}`] : []),
    ...(DATA.units_label ? [DATA.units_label] : [])].join(" · ");

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
  // the code bars: one per unit on an axis whose ticks cover the test codes' range (0 … max for a ReLU code, min … max
  // for a VAE's mean), a line at zero; the tick values are text beside the canvas, which is stretched to the panel's width
  const barTicks = ticks(Math.min(0, ...DATA.unit_min), Math.max(...DATA.unit_max));
  const BAR_PAD = 4; // canvas pixels above the top tick and below the bottom one, where their labels' halves go
  function barRow(v) { // the canvas row of value v, clamped to the axis
    const lo = barTicks[0], hi = barTicks[barTicks.length - 1];
    return Math.round(BAR_PAD + (hi - Math.min(hi, Math.max(lo, v))) / (hi - lo) * (bars.height - 1 - 2 * BAR_PAD));
  }
  barTicks.forEach(t => {
    const label = element("span", "tick", t.toFixed(tickDigits(barTicks)));
    label.style.top = `${1 + barRow(t) + 0.5}px`; // 1: the canvas' border
    byId("bars-axis").append(label);
  });
  function drawBars(code) {
    const ctx = bars.getContext("2d"), width = bars.width, step = width / code.length, zero = barRow(0);
    ctx.fillStyle = "#f5f7fa";
    ctx.fillRect(0, 0, width, bars.height);
    ctx.fillStyle = "#dfe3ea"; // a grid line per tick
    barTicks.forEach(t => ctx.fillRect(0, barRow(t), width, 1));
    ctx.fillStyle = "#1f5fbf";
    code.forEach((v, j) => { // rows row(v) … zero − 1 above the zero line, zero + 1 … row(v) below it
      const row = barRow(v);
      ctx.fillRect(j * step + step * 0.1, row < zero ? row : zero + 1, Math.max(1, step * 0.8), Math.abs(row - zero));
    });
    ctx.fillStyle = "#1f2430";
    ctx.fillRect(0, zero, width, 1); // the zero line, over the bars
    if (barUnit !== null) readBar(barUnit);
  }
  // a bar's value: the unit under the pointer, or stepped to with the arrow keys once the bars have the focus
  let barUnit = null;
  function readBar(j) {
    barUnit = Math.min(codeSize - 1, Math.max(0, j));
    const text = `unit ${barUnit}: ${Number(state.draw.code[barUnit].toPrecision(4))}`;
    bars.title = text;
    byId("bars-value").textContent = text;
  }
  bars.addEventListener("pointermove", event => {
    const box = bars.getBoundingClientRect(); // less the 1px border each side
    readBar(Math.floor((event.clientX - box.left - 1) / (box.width - 2) * codeSize));
  });
  bars.addEventListener("focus", () => { if (barUnit === null) readBar(0); });
  bars.addEventListener("keydown", event => {
    const moves = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, Home: -codeSize, End: codeSize };
    if (!Object.hasOwn(moves, event.key)) return;
    event.preventDefault();
    readBar((barUnit ?? 0) + moves[event.key]);
  });
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
  if (SIGNAL) document.body.classList.add("signal"); // the canvases are plots: wider than tall (explorer.css)
  if (!DRAWABLE) { // colour images and 1-D samples: the canvas shows the picked test sample
    byId("draw-title").textContent = `Pick a test ${SAMPLE}`;
    byId("draw-hint").textContent = `Click a test ${SAMPLE} below; the model encodes it and decodes its code, live.`;
    byId("pad-caption").textContent = `the picked test ${SAMPLE}`;
    pad.ariaLabel = `the picked test ${SAMPLE}, the model's input`;
    byId("thumbnails-title").textContent = `Test ${SAMPLE}s`;
    byId("thumbnails-hint").textContent = `Click one to make it the model's input.`;
    byId("interp-hint").textContent = `Pick two test ${SAMPLE}s (pick each above, then take it as A or B) and scrub between their codes.`;
    byId("pick-a").textContent = `A ← picked ${SAMPLE}`;
    byId("pick-b").textContent = `B ← picked ${SAMPLE}`;
    byId("clear").hidden = true;
    pad.classList.add("picked");
  }
  if (DRAWABLE) pad.addEventListener("pointerdown", event => {
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
  const thumbValues = floatsOf(DATA.thumbnails.values);
  const thumbnails = DATA.thumbnails.indices.map((index, k) => thumbValues.slice(k * N, (k + 1) * N));
  DATA.thumbnails.indices.forEach((index, k) => {
    const canvas = imageCanvas("thumb");
    canvas.title = `test ${SAMPLE} #${index}: ${DATA.classes[DATA.thumbnails.labels[k]]}`;
    canvas.dataset.index = String(k);
    paint(canvas, thumbnails[k]);
    canvas.addEventListener("click", () => load(thumbnails[k]));
    Object.assign(canvas, { tabIndex: 0, role: "button", ariaLabel: `load ${canvas.title}` }); // the keyboard too
    canvas.addEventListener("keydown", event => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      load(thumbnails[k]);
    });
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
    directionSliders.forEach((s, i) => { if (s !== moved) s.set(projection(i)); });
    unitSliders.forEach(s => { if (s !== moved) s.set(spaceCode[Number(s.dataset.unit)]); });
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
  const unitDigits = digitsFor(1.25 * Math.min(...DATA.unit_min), 1.25 * Math.max(...DATA.unit_max)); // one for all
  DATA.unit_sliders.forEach(j => { // every unit of a narrow code; of a wide one, those that vary most (content.py)
    const s = slider(1.25 * DATA.unit_min[j], 1.25 * DATA.unit_max[j], spaceCode[j], value => { spaceCode[j] = value; timed(() => showSpace(s)); }, unitDigits);
    s.dataset.unit = String(j);
    unitSliders.push(s);
    byId("units").append(labelled(`unit ${j}`, s, "control unit"));
  });
  if (DATA.unit_sliders.length < codeSize) {
    byId("units-note").textContent = `Sliders for the ${DATA.unit_sliders.length} of ${codeSize.toLocaleString("en")} `
      + `code units that vary most over the test ${SAMPLE}s, in unit order; the bars above show every unit.`;
  }
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

  // ---- the encoder's first-layer weights, one tile per unit (an image's size for a dense layer, the kernel's for a
  // convolution) on weights.png's colour scale; hover enlarges. A signal's units are drawn as lines.
  const tile = DATA.weights.tile, units = DATA.weights.units, tileSize = tile.reduce((a, b) => a * b, 1);
  const [tileC, tileH, tileW] = tile.length === 1 ? [1, 1, tile[0]] : tile;
  const firstDense = () => DATA.model.encoder.find(layer => layer.type === "dense").weight; // content.py: not embedded twice
  const weights = floatsOf(DATA.weights.values || firstDense()), colours = bytesOf(DATA.weights.colormap), limit = DATA.weights.limit;
  const level = v => Math.min(255, Math.max(0, Math.floor((v + limit) / (2 * limit) * 256))); // Normalize(−limit, limit), 256 colours
  function paintWeights(canvas, unit) {
    const ctx = canvas.getContext("2d"), at = unit * tileSize;
    if (tile.length === 1) { // a line (a table's: bars per column) on the symmetric scale, zero in the middle
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      if (TABLE) {
        for (let i = 0; i < tileW; i++) {
          const v = weights[at + i], y = (1 - level(v) / 255) * (canvas.height - 2) + 1, mid = canvas.height / 2;
          ctx.fillStyle = v < 0 ? "#2166ac" : "#b2182b";
          ctx.fillRect(i / tileW * canvas.width, Math.min(y, mid), Math.max(1, canvas.width / tileW - 1), Math.max(1, Math.abs(y - mid)));
        }
        return;
      }
      ctx.strokeStyle = "#1f5fbf";
      ctx.beginPath();
      for (let i = 0; i < tileW; i++) {
        const x = (i + 0.5) / tileW * canvas.width, y = (1 - level(weights[at + i]) / 255) * (canvas.height - 2) + 1;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
      return;
    }
    const image = ctx.createImageData(tileW, tileH), plane = tileH * tileW;
    for (let i = 0; i < plane; i++) {
      const rgb = tileC === 1 ? colours.subarray(3 * level(weights[at + i]), 3 * level(weights[at + i]) + 3) // the map
        : [0, 1, 2].map(c => Math.round(255 * clamp01((weights[at + c * plane + i] + limit) / (2 * limit)))); // colour: −limit → 0, +limit → 1
      image.data.set([...rgb, 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
  }
  function weightCanvas(className) {
    const canvas = element("canvas", className);
    [canvas.width, canvas.height] = tile.length === 1 ? [96, 48] : [tileW, tileH];
    return canvas;
  }
  const enlarged = weightCanvas("");
  enlarged.id = "weights-enlarged";
  byId("weights-enlarged").replaceWith(enlarged);
  function enlarge(unit) {
    paintWeights(enlarged, unit);
    byId("weights-unit").textContent = `unit ${unit}`;
  }
  for (let unit = 0; unit < units; unit++) {
    const tileCanvas = weightCanvas("weight");
    tileCanvas.title = `unit ${unit}`;
    tileCanvas.dataset.unit = String(unit);
    paintWeights(tileCanvas, unit);
    tileCanvas.addEventListener("pointerenter", () => enlarge(unit));
    byId("weights").append(tileCanvas);
  }
  const bound = limit.toPrecision(3);
  if (tile.length === 1) byId("weights-hint").textContent = TABLE
    ? "Each first-layer unit's weights as bars, one per column in the table's order; hover over one to enlarge it."
    : "Each first-layer unit's weights as a line along the signal; hover over one to enlarge it.";
  byId("weights-scale").textContent = TABLE ? `each unit's weight per column, −${bound} (blue, down) … +${bound} (red, up)`
    : tile.length === 1 ? `each unit's weights as a line, −${bound} (bottom) … +${bound} (top)`
    : tileC === 1 ? `colour scale −${bound} (blue) … 0 (white) … +${bound} (red)`
      : `each colour channel −${bound} (none) … 0 (half) … +${bound} (full)`;

  // ---- start: the first thumbnail in the drawing, the mean code in the space, first and last thumbnails interpolated
  drawing.set(thumbnails[0]);
  timed(reconstruct);
  showSpace(null);
  pickEnd("a", thumbnails[0]);
  pickEnd("b", thumbnails[thumbnails.length - 1]);
  enlarge(0);
  // the values as the page shows them (your own data's units), for a test to compare with the data it came from
  const shownValues = values => Array.from(values, (v, i) => shown(v, i));
  window.aelabExplorer = Object.freeze({ state, timings, scatterBounds: scatter ? scatter.bounds : null, shownValues });
  timings.ready_ms = performance.now(); // from the start of navigation: the page-ready time
  document.body.dataset.ready = "true";
})();
