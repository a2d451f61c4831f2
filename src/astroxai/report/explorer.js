// astroxai report explorer: the glue between Bokeh's plots and the packed arrays of the page.
// Written by hand because it is only glue: decoding one row of the packed buffer (astroxai.report.explorer.Pack),
// redrawing the chosen spectrum or image, laying out the filtered gallery.  Plots, tools and widgets are Bokeh's.
(function () {
  "use strict";
  const stores = {};

  // The page's packed arrays: JSON metadata and one zlib buffer, inflated once by the browser.
  function load(id) {
    if (!stores[id]) {
      stores[id] = (async () => {
        const payload = JSON.parse(document.getElementById(id).textContent);
        const binary = atob(payload.buffer);
        const bytes = new Uint8Array(binary.length);
        for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
        const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
        payload.bytes = await new Response(stream).arrayBuffer();
        delete payload.buffer;
        return payload;
      })();
    }
    return stores[id];
  }

  // Row i of a packed array, as numbers: shift + q * scale.
  function row(store, name, i) {
    const a = store.arrays[name];
    const n = a.shape[1];
    const Type = a.bits === 16 ? Int16Array : Int8Array;
    const q = new Type(store.bytes, a.offset + i * n * (a.bits / 8), n);
    const out = new Float64Array(n);
    const scale = a.scale[i], shift = a.shift[i];
    for (let k = 0; k < n; k++) out[k] = shift + q[k] * scale;
    return out;
  }

  // [array name, position in it] of every attribution map computed for one input (its row in the page).
  function mapsOf(store, index) {
    const found = [];
    for (const [name, a] of Object.entries(store.arrays)) {
      if (!name.startsWith("map")) continue;
      const at = a.rows.indexOf(index);
      if (at >= 0) found.push([name, at]);
    }
    return found;
  }

  // The selected input and the chosen map of it: its point, the store, its row, the map array and its position
  // there; null when nothing is selected or the map has no entry for it.
  async function selection(id, source, ui) {
    const i = source.selected.indices[0];
    if (i === undefined) return null;
    const store = await load(id);
    const r = source.data.row[i];
    const a = store.arrays[ui.method.value];
    const at = a ? a.rows.indexOf(r) : -1;
    return at < 0 ? null : {i, store, r, a, at};
  }

  function largest(values) {
    let top = 0;
    for (const v of values) top = Math.max(top, Math.abs(v));
    return top;
  }

  function escape(text) {
    const div = document.createElement("div");
    div.textContent = String(text);
    return div.innerHTML;
  }

  function probabilityTable(classes, names, probabilities, target) {
    const cells = classes.map((c, k) => {
      const p = probabilities[k];
      const style = c === target ? ' style="font-weight:bold"' : "";
      return `<tr${style}><td>${escape(names[c] || c)}</td><td>${p === null || isNaN(p) ? "–" : p.toFixed(3)}</td></tr>`;
    });
    return `<table class="astroxai-probabilities"><tr><th>class</th><th>probability</th></tr>${cells.join("")}</table>`;
  }

  // Offer the maps of the selected input in the method switch, keeping the current choice when it has one.
  async function offerMaps(id, source, ui, redraw) {
    const i = source.selected.indices[0];
    if (i === undefined) return;
    const store = await load(id);
    const found = mapsOf(store, source.data.row[i]);
    if (!found.length) return;
    const options = found.map(([name]) => [name, store.arrays[name].label]);
    const keep = found.some(([name]) => name === ui.method.value) ? ui.method.value : found[0][0];
    ui.method.options = options;
    if (ui.method.value !== keep) ui.method.value = keep; // its change callback redraws
    else await redraw(source, ui);
  }

  // ---------------------------------------------------------------------------------------------- spectra
  const SPECTRA = "astroxai-spectra-data";

  async function redrawSpectrum(points, ui) {
    const shown = await selection(SPECTRA, points, ui);
    if (!shown) return;
    const {i, store, r, a, at} = shown;
    const flux = row(store, "flux", r);
    const map = row(store, ui.method.value, at);
    const top = largest(map) || 1;
    const w = store.wavelength;
    const x0 = [], x1 = [], y0 = [], y1 = [], shade = [];
    for (let k = 0; k + 1 < w.length; k++) {
      x0.push(w[k]); x1.push(w[k + 1]); y0.push(flux[k]); y1.push(flux[k + 1]);
      shade.push(0.5 * (map[k] + map[k + 1]) / top);
    }
    ui.segments.data = {x0, y0, x1, y1, a: shade};
    const sorted = Array.from(flux).filter(isFinite).sort((p, q) => p - q);
    const at_ = (f) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(f * (sorted.length - 1))))];
    const low = at_(0.005), high = at_(0.998), pad = 0.08 * (high - low) || 0.1;
    ui.spectrum.y_range.setv({start: Math.min(0, low - pad), end: high + pad});
    ui.line.data = {x: Array.from(w), y: Array.from(flux)};
    const d = points.data, target = a.targets[at];
    const names = store.class_names;
    ui.spectrum.title.text = `${d.id[i]}: true ${d.true[i]}, predicted ${d.predicted[i]}; ${a.label}, explained: ` +
      `${names[target] || target}`;
    ui.info.text = `<p><b>${escape(d.id[i])}</b> · true <b>${escape(d.true[i])}</b> · predicted ` +
      `<b>${escape(d.predicted[i])}</b>${d.wrong[i] ? ' <span style="color:#d62728">(misclassified)</span>' : ""}` +
      ` · Hβ core/wing: ${escape(d.hbeta[i])}</p>` +
      `<p>Map: ${escape(a.label)}, explaining <b>${escape(names[target] || target)}</b>` +
      `${largest(map) === 0 ? " — this map is zero (a saturated probability has no gradient)" : ""}.</p>` +
      probabilityTable(a.classes, names, a.probabilities[at], target);
  }

  function filterSpectra(points, view, f) {
    const d = points.data, n = d.id.length;
    const trueOn = new Set(f.true_class.active.map((k) => f.classes[k]));
    const predictedOn = new Set(f.predicted_class.active.map((k) => f.classes[k]));
    const wrongOnly = f.wrong.active.includes(0);
    const [low, high] = f.confidence.value;
    const pattern = f.hbeta.value;
    const text = (f.search.value_input ?? "").trim().toLowerCase(); // updated on every keystroke
    const keep = [];
    let off = 0;
    for (let i = 0; i < n; i++) {
      if (!trueOn.has(d.true_class[i]) || !predictedOn.has(d.predicted_class[i])) continue;
      if (wrongOnly && !d.wrong[i]) continue;
      if (d.confidence[i] < low - 1e-9 || d.confidence[i] > high + 1e-9) continue;
      if (pattern !== "any" && d.hbeta[i] !== pattern) continue;
      if (text && !d.id[i].toLowerCase().includes(text)) continue;
      keep.push(i);
      if (!isFinite(d.x[i])) off++;
    }
    view.filter.indices = keep;
    f.count.text = `<span class="astroxai-count">${keep.length - off}</span> of ${n} test spectra shown` +
      (off ? ` (${off} more pass the filters but are not on this map)` : "");
    if (text && keep.length === 1 && points.selected.indices[0] !== keep[0]) points.selected.indices = [keep[0]];
  }

  function remap(points, background, k) {
    points.data = {...points.data, x: points.data["x" + k], y: points.data["y" + k]};
    background.data = {...background.data, x: background.data["x" + k], y: background.data["y" + k]};
  }

  function startSpectra(points, view, f) {
    filterSpectra(points, view, f);
    const d = points.data;
    let pick = d.id.findIndex((_, i) => d.wrong[i] && d.true_class[i] === "intermediate");
    if (pick < 0) pick = d.wrong.indexOf(true);
    points.selected.indices = [Math.max(pick, 0)];
  }

  // ---------------------------------------------------------------------------------------------- images
  const IMAGES = "astroxai-images-data";
  const COLUMNS = 12;

  // An (h, w) image for Bokeh's image glyph (it takes its own ndarray type, not nested arrays).
  function image2d(values, h, w, top) {
    const {ndarray} = Bokeh.require("core/util/ndarray");
    return ndarray(values.map((v) => v / top), {shape: [h, w]});
  }

  async function redrawImage(gallery, ui) {
    const shown = await selection(IMAGES, gallery, ui);
    if (!shown) return;
    const {i, store, r, a, at} = shown;
    const [h, w] = store.shape;
    const map = row(store, ui.method.value, at);
    ui.picture.data = {image: [image2d(row(store, "pixels", r), h, w, 1 / 255)]};
    ui.overlay.data = {image: [image2d(map, h, w, largest(map) || 1)]};
    const d = gallery.data, target = a.targets[at];
    const extra = store.meta_columns.map((c) => ` · ${escape(c)} ${escape(d[c][i])}`).join("");
    ui.viewer.title.text = `${d.id[i]}: true ${d.true[i]}, predicted ${d.predicted[i]}`;
    ui.info.text = `<p><b>${escape(d.id[i])}</b> · true <b>${escape(d.true[i])}</b> · predicted ` +
      `<b>${escape(d.predicted[i])}</b>${d.wrong[i] ? ' <span style="color:#d62728">(misclassified)</span>' : ""}` +
      `${extra}</p><p>Map: ${escape(a.label)}, explaining <b>${escape(target)}</b>.</p>` +
      `<p class="note">${escape(d.probabilities[i])}</p>`;
  }

  function layoutGallery(gallery, keep) {
    const n = gallery.data.id.length;
    const x = new Array(n).fill(NaN), y = new Array(n).fill(NaN);
    const cx = new Array(n).fill(NaN), cy = new Array(n).fill(NaN);
    keep.forEach((i, k) => {
      x[i] = k % COLUMNS + 0.04;
      y[i] = -Math.floor(k / COLUMNS) - 0.96;
      cx[i] = x[i] + 0.46;
      cy[i] = y[i] + 0.46;
    });
    gallery.data = {...gallery.data, x, y, cx, cy};
  }

  function filterImages(gallery, view, f) {
    const d = gallery.data, n = d.id.length;
    const on = new Set(f.true_class.active.map((k) => f.classes[k]));
    const mode = f.correctness.active; // 0 all, 1 correct, 2 misclassified
    const keep = [];
    for (let i = 0; i < n; i++) {
      if (!on.has(d.true_class[i])) continue;
      if ((mode === 1 && d.wrong[i]) || (mode === 2 && !d.wrong[i])) continue;
      keep.push(i);
    }
    layoutGallery(gallery, keep);
    view.filter.indices = keep;
    f.count.text = `<span class="astroxai-count">${keep.length}</span> of ${n} test images shown`;
  }

  function startImages(gallery, view, f) {
    filterImages(gallery, view, f);
    const pick = gallery.data.wrong.indexOf(true);
    gallery.selected.indices = [Math.max(pick, 0)];
  }

  window.astroxai = {
    load, row,
    spectra: {
      show: (points, ui) => offerMaps(SPECTRA, points, ui, redrawSpectrum),
      redraw: redrawSpectrum,
      filter: filterSpectra,
      remap,
      start: startSpectra,
    },
    images: {
      show: (gallery, ui) => offerMaps(IMAGES, gallery, ui, redrawImage),
      redraw: redrawImage,
      filter: filterImages,
      start: startImages,
    },
  };
})();
