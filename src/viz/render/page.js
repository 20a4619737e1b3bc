// kindred plot page: the scatter drawn on a canvas, with wheel zoom about the cursor, drag to
// pan, double-click to reset, a hover card found through a grid index, and a legend whose
// entries hide or show their points. Written for this page; it uses no library.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("plot-data").textContent);
  var n = data.x.length;
  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var box = document.getElementById("plot");
  var tip = document.getElementById("tip");
  // Room around the plotting area for ticks and axis labels, in CSS pixels.
  var margin = { left: 70, right: 12, top: 8, bottom: 54 };
  var marker = markerFor(n);
  var visible = data.legend.map(function () { return true; });
  var home = extent();
  var view = copy(home);
  var bySlot = pointsBySlot();
  var grid = buildGrid(home, 128);
  var size = { w: 0, h: 0 };
  var hovered = -1;
  var drag = null;
  var pending = false;

  buildLegend();
  listen();
  resize();

  // ---- geometry -------------------------------------------------------------------------

  // The data range widened by 5 % each side; a single value gets a unit-wide range.
  function extent() {
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (var i = 0; i < n; i++) {
      x0 = Math.min(x0, data.x[i]); x1 = Math.max(x1, data.x[i]);
      y0 = Math.min(y0, data.y[i]); y1 = Math.max(y1, data.y[i]);
    }
    var xs = widen(x0, x1), ys = widen(y0, y1);
    return { x0: xs[0], x1: xs[1], y0: ys[0], y1: ys[1] };
  }

  function widen(lo, hi) {
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9 * Math.max(Math.abs(lo), 1)) {
      var half = Math.max(Math.abs(lo) * 0.05, 0.5);
      lo -= half; hi += half;
    }
    var pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  }

  function copy(v) { return { x0: v.x0, x1: v.x1, y0: v.y0, y1: v.y1 }; }

  function plotWidth() { return Math.max(size.w - margin.left - margin.right, 10); }
  function plotHeight() { return Math.max(size.h - margin.top - margin.bottom, 10); }
  function screenX(x) { return margin.left + (x - view.x0) / (view.x1 - view.x0) * plotWidth(); }
  function screenY(y) { return margin.top + (1 - (y - view.y0) / (view.y1 - view.y0)) * plotHeight(); }
  function dataX(sx) { return view.x0 + (sx - margin.left) / plotWidth() * (view.x1 - view.x0); }
  function dataY(sy) { return view.y0 + (1 - (sy - margin.top) / plotHeight()) * (view.y1 - view.y0); }

  // Smaller, fainter markers as points crowd (the SVG uses the same steps).
  function markerFor(count) {
    if (count <= 500) return { r: 3.5, alpha: 0.8 };
    if (count <= 5000) return { r: 2.5, alpha: 0.7 };
    if (count <= 20000) return { r: 1.8, alpha: 0.6 };
    return { r: 1.3, alpha: 0.5 };
  }

  // Round ticks spaced 1, 2, 2.5 or 5 times a power of ten, at most `most` of them.
  function niceTicks(lo, hi, most) {
    var raw = (hi - lo) / Math.max(most, 2);
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10], step = 10 * magnitude;
    for (var k = 0; k < steps.length; k++) {
      if (steps[k] * magnitude >= raw) { step = steps[k] * magnitude; break; }
    }
    var ticks = [];
    for (var i = Math.ceil(lo / step); i <= Math.floor(hi / step); i++) ticks.push(i * step);
    var decimals = 0;
    while (decimals < 12 && Math.abs(step * Math.pow(10, decimals) -
        Math.round(step * Math.pow(10, decimals))) > 1e-6 * Math.max(step * Math.pow(10, decimals), 1)) {
      decimals++;
    }
    return ticks.map(function (t) {
      var label = t.toFixed(decimals);
      if (/^-?[0.]+$/.test(label)) label = label.replace("-", "");
      return { value: t, label: label.replace("-", "\u2212") };
    });
  }

  // ---- indexes --------------------------------------------------------------------------

  // Point indices per legend entry; entries are drawn largest first so small ones stay on top.
  function pointsBySlot() {
    var lists = data.legend.map(function () { return []; });
    for (var i = 0; i < n; i++) lists[data.slot[i]].push(i);
    var order = lists.map(function (_, s) { return s; });
    order.sort(function (a, b) { return lists[b].length - lists[a].length; });
    return order.map(function (s) { return { slot: s, points: lists[s] }; });
  }

  // A cells x cells grid over the data range, as offsets into one index array (no object per
  // point: 50,000 points stay cheap), so hover looks only at the cells near the cursor.
  function buildGrid(range, cells) {
    var count = new Int32Array(cells * cells + 1);
    var cellOf = new Int32Array(n);
    for (var i = 0; i < n; i++) {
      cellOf[i] = cellIndex(range, cells, data.x[i], data.y[i]);
      count[cellOf[i] + 1]++;
    }
    for (var c = 0; c < cells * cells; c++) count[c + 1] += count[c];
    var fill = count.slice(0, cells * cells);
    var items = new Int32Array(n);
    for (var j = 0; j < n; j++) items[fill[cellOf[j]]++] = j;
    return { range: range, cells: cells, start: count, items: items };
  }

  function cellIndex(range, cells, x, y) {
    return cellRow(range.y0, range.y1, cells, y) * cells + cellRow(range.x0, range.x1, cells, x);
  }

  function cellRow(lo, hi, cells, v) {
    return Math.min(cells - 1, Math.max(0, Math.floor((v - lo) / (hi - lo) * cells)));
  }

  // The visible point nearest to the cursor within the marker's reach, or -1.
  function hitTest(sx, sy) {
    var reach = marker.r + 4;
    var g = grid, r = g.range;
    var xa = cellRow(r.x0, r.x1, g.cells, dataX(sx - reach));
    var xb = cellRow(r.x0, r.x1, g.cells, dataX(sx + reach));
    var ya = cellRow(r.y0, r.y1, g.cells, dataY(sy + reach));
    var yb = cellRow(r.y0, r.y1, g.cells, dataY(sy - reach));
    var best = -1, bestDistance = reach * reach;
    for (var cy = ya; cy <= yb; cy++) {
      for (var cx = xa; cx <= xb; cx++) {
        var cell = cy * g.cells + cx;
        for (var k = g.start[cell]; k < g.start[cell + 1]; k++) {
          var i = g.items[k];
          if (!visible[data.slot[i]]) continue;
          var dx = screenX(data.x[i]) - sx, dy = screenY(data.y[i]) - sy;
          if (dx * dx + dy * dy <= bestDistance) { best = i; bestDistance = dx * dx + dy * dy; }
        }
      }
    }
    return best;
  }

  // ---- drawing --------------------------------------------------------------------------

  function resize() {
    var ratio = window.devicePixelRatio || 1;
    size.w = box.clientWidth; size.h = box.clientHeight;
    canvas.width = Math.round(size.w * ratio);
    canvas.height = Math.round(size.h * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    draw();
  }

  function redraw() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; draw(); });
  }

  function draw() {
    ctx.clearRect(0, 0, size.w, size.h);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size.w, size.h);
    var xTicks = niceTicks(view.x0, view.x1, Math.max(3, Math.floor(plotWidth() / 80)));
    var yTicks = niceTicks(view.y0, view.y1, Math.max(3, Math.floor(plotHeight() / 60)));
    drawGrid(xTicks, yTicks);
    var drawn = drawPoints();
    drawHover();
    drawAxes(xTicks, yTicks);
    document.body.dataset.pointsDrawn = String(drawn);
  }

  function drawGrid(xTicks, yTicks) {
    ctx.strokeStyle = "#ececec";
    ctx.lineWidth = 1;
    ctx.beginPath();
    xTicks.forEach(function (t) {
      var x = Math.round(screenX(t.value)) + 0.5;
      ctx.moveTo(x, margin.top); ctx.lineTo(x, margin.top + plotHeight());
    });
    yTicks.forEach(function (t) {
      var y = Math.round(screenY(t.value)) + 0.5;
      ctx.moveTo(margin.left, y); ctx.lineTo(margin.left + plotWidth(), y);
    });
    ctx.stroke();
  }

  // One path per legend entry: filling 50,000 arcs this way takes milliseconds.
  function drawPoints() {
    var drawn = 0, r = marker.r;
    var left = margin.left - r, right = margin.left + plotWidth() + r;
    var top = margin.top - r, bottom = margin.top + plotHeight() + r;
    ctx.save();
    ctx.beginPath();
    ctx.rect(margin.left, margin.top, plotWidth(), plotHeight());
    ctx.clip();
    ctx.globalAlpha = marker.alpha;
    bySlot.forEach(function (group) {
      if (!visible[group.slot]) return;
      ctx.fillStyle = data.legend[group.slot].colour;
      ctx.beginPath();
      group.points.forEach(function (i) {
        var x = screenX(data.x[i]), y = screenY(data.y[i]);
        if (x < left || x > right || y < top || y > bottom) return;
        ctx.moveTo(x + r, y);
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        drawn++;
      });
      ctx.fill();
    });
    ctx.restore();
    return drawn;
  }

  function drawHover() {
    if (hovered < 0) return;
    ctx.beginPath();
    ctx.arc(screenX(data.x[hovered]), screenY(data.y[hovered]), marker.r + 3, 0, 2 * Math.PI);
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }

  function drawAxes(xTicks, yTicks) {
    var w = plotWidth(), h = plotHeight(), bottom = margin.top + h;
    ctx.strokeStyle = "#333";
    ctx.lineWidth = 1;
    ctx.strokeRect(margin.left + 0.5, margin.top + 0.5, w - 1, h - 1);
    ctx.fillStyle = "#333";
    ctx.font = "12px 'DejaVu Sans', Verdana, Arial, sans-serif";
    ctx.beginPath();
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    xTicks.forEach(function (t) {
      var x = Math.round(screenX(t.value)) + 0.5;
      ctx.moveTo(x, bottom); ctx.lineTo(x, bottom + 5);
      ctx.fillText(t.label, x, bottom + 8);
    });
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    yTicks.forEach(function (t) {
      var y = Math.round(screenY(t.value)) + 0.5;
      ctx.moveTo(margin.left - 5, y); ctx.lineTo(margin.left, y);
      ctx.fillText(t.label, margin.left - 8, y);
    });
    ctx.stroke();
    ctx.fillStyle = "#222";
    ctx.font = "14px 'DejaVu Sans', Verdana, Arial, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(data.xLabel, margin.left + w / 2, size.h - 8);
    ctx.save();
    ctx.translate(16, margin.top + h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "top";
    ctx.fillText(data.yLabel, 0, 0);
    ctx.restore();
  }

  // ---- legend and hover card ------------------------------------------------------------

  function buildLegend() {
    var aside = document.getElementById("legend");
    var heading = document.createElement("h2");
    heading.textContent = data.legendTitle;
    aside.appendChild(heading);
    var list = document.createElement("ul");
    data.legend.forEach(function (entry, slot) {
      var item = document.createElement("li");
      item.title = entry.name + " (" + entry.count + "): click to hide or show";
      item.appendChild(span("swatch", "")).style.background = entry.colour;
      item.appendChild(span("name", entry.label));
      item.appendChild(span("count", entry.count.toLocaleString("en-US")));
      item.addEventListener("click", function () {
        visible[slot] = !visible[slot];
        item.classList.toggle("off", !visible[slot]);
        hideTip();
        redraw();
      });
      list.appendChild(item);
    });
    aside.appendChild(list);
    var hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = "Scroll to zoom, drag to pan, double-click to reset. " +
      "Hover a point to read its passage; click a legend entry to hide it.";
    aside.appendChild(hint);
  }

  function span(className, text) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function showTip(i, sx, sy) {
    tip.textContent = "";
    tip.appendChild(line("id", data.id[i]));
    var category = data.category[i] >= 0 ? data.categories[data.category[i]]
      : data.legend[data.slot[i]].name;
    tip.appendChild(line("meta", data.legendTitle + ": " + category));
    if (data.source[i] !== null) tip.appendChild(line("meta", "source: " + data.source[i]));
    if (data.score[i] !== null) {
      tip.appendChild(line("meta", (data.scoreLabel || "score") + ": " +
        Number(data.score[i]).toFixed(3)));
    }
    if (data.text[i]) tip.appendChild(line("passage", data.text[i]));
    tip.style.display = "block";
    var left = sx + 14, top = sy + 14;
    if (left + tip.offsetWidth > size.w) left = Math.max(0, sx - tip.offsetWidth - 14);
    if (top + tip.offsetHeight > size.h) top = Math.max(0, sy - tip.offsetHeight - 14);
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }

  function line(className, text) {
    var element = document.createElement("div");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function hideTip() {
    tip.style.display = "none";
    if (hovered >= 0) { hovered = -1; redraw(); }
  }

  // ---- input ----------------------------------------------------------------------------

  function listen() {
    window.addEventListener("resize", function () { resize(); });
    canvas.addEventListener("wheel", onWheel, { passive: false });
    canvas.addEventListener("pointerdown", function (event) {
      drag = { x: event.offsetX, y: event.offsetY, view: copy(view) };
      canvas.setPointerCapture(event.pointerId);
      canvas.classList.add("dragging");
      hideTip();
    });
    canvas.addEventListener("pointermove", onMove);
    canvas.addEventListener("pointerup", function () {
      drag = null;
      canvas.classList.remove("dragging");
    });
    canvas.addEventListener("pointerleave", function () { if (!drag) hideTip(); });
    canvas.addEventListener("dblclick", function () {
      view = copy(home);
      redraw();
    });
  }

  // Zooms about the cursor: the data point under it stays under it.
  function onWheel(event) {
    event.preventDefault();
    var lines = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? size.h : 1;
    var factor = Math.exp(event.deltaY * lines * 0.0015);
    var cx = dataX(event.offsetX), cy = dataY(event.offsetY);
    view = {
      x0: cx - (cx - view.x0) * factor, x1: cx + (view.x1 - cx) * factor,
      y0: cy - (cy - view.y0) * factor, y1: cy + (view.y1 - cy) * factor
    };
    hideTip();
    redraw();
  }

  function onMove(event) {
    if (drag) {
      var dx = (event.offsetX - drag.x) / plotWidth() * (drag.view.x1 - drag.view.x0);
      var dy = (event.offsetY - drag.y) / plotHeight() * (drag.view.y1 - drag.view.y0);
      view = { x0: drag.view.x0 - dx, x1: drag.view.x1 - dx, y0: drag.view.y0 + dy, y1: drag.view.y1 + dy };
      redraw();
      return;
    }
    var i = hitTest(event.offsetX, event.offsetY);
    if (i < 0) { hideTip(); return; }
    if (i !== hovered) { hovered = i; redraw(); }
    showTip(i, event.offsetX, event.offsetY);
  }
})();
