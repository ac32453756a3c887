// Charts as inline SVG, drawn from data (no library): histograms, before/after
// dumbbells, stacked bars. Each has a title for screen readers; the pages put the
// numbers in a table beside it.
import { s } from "./dom.js";

const W = 560;

function frame(height, label, width = W) {
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label }, s("title", {}, label));
}

function scale(min, max, from, to) {
  return (v) => from + ((v - min) / (max - min || 1)) * (to - from);
}

function ticks(min, max, count = 5) {
  const raw = (max - min) / count;
  const step = [1, 2, 5, 10, 20, 25, 50].find((x) => x >= raw) || Math.ceil(raw);
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(v);
  return out;
}

/** Counts of `values` in bins of width `bin` over [min, max]; bars coloured by `classFor(binStart)`. */
export function histogram({ values, min, max, bin, thresholds = [], label, xLabel, yLabel, classFor = (/** @type {number} */ _start) => "" }) {
  const width = 400;
  const height = 230;
  const left = 34;
  const right = width - 12;
  const top = 22;
  const bottom = height - 36;
  const bins = [];
  for (let start = min; start < max; start += bin) bins.push({ start, end: Math.min(start + bin, max), n: 0 });
  for (const v of values) {
    const i = Math.min(bins.length - 1, Math.max(0, Math.floor((v - min) / bin)));
    bins[i].n++;
  }
  const peak = Math.max(1, ...bins.map((b) => b.n));
  const x = scale(min, max, left, right);
  const y = scale(0, peak, bottom, top);
  const svg = frame(height, label, width);
  for (const v of ticks(0, peak, Math.min(peak, 5))) {
    svg.append(
      s("line", { class: "grid", x1: left, x2: right, y1: y(v), y2: y(v) }),
      s("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, String(v)),
    );
  }
  for (const b of bins) {
    if (!b.n) continue;
    svg.append(
      s(
        "rect",
        { class: `bar ${classFor(b.start)}`, x: x(b.start) + 1, y: y(b.n), width: Math.max(1, x(b.end) - x(b.start) - 2), height: bottom - y(b.n) },
        s("title", {}, `${b.start}–${b.end}: ${b.n}`),
      ),
    );
  }
  for (const th of thresholds) {
    svg.append(
      s("line", { class: "threshold", x1: x(th.at), x2: x(th.at), y1: top - 4, y2: bottom }),
      s("text", { x: x(th.at) + 3, y: top + 6, class: "muted" }, th.label),
    );
  }
  svg.append(s("line", { class: "axis", x1: left, x2: right, y1: bottom, y2: bottom, stroke: "#8a94a3" }));
  for (const v of ticks(min, max, 10)) {
    svg.append(s("text", { x: x(v), y: bottom + 16, "text-anchor": "middle" }, String(v)));
  }
  svg.append(
    s("text", { x: (left + right) / 2, y: height - 4, "text-anchor": "middle", class: "muted" }, xLabel),
    s("text", { x: 4, y: 10, class: "muted" }, yLabel),
  );
  return svg;
}

/** One row per item: ○ before, ● after, an arrow between (green up, red down). */
export function dumbbell({ rows, min, max, thresholds = [], label, beforeLabel, afterLabel }) {
  const rowH = 26;
  const left = 190;
  const right = W - 16;
  const top = 26;
  const height = top + rows.length * rowH + 30;
  const x = scale(min, max, left, right);
  const svg = frame(height, label);
  for (const v of ticks(min, max, 10)) {
    svg.append(
      s("line", { class: "grid", x1: x(v), x2: x(v), y1: top - 6, y2: top + rows.length * rowH }),
      s("text", { x: x(v), y: top + rows.length * rowH + 16, "text-anchor": "middle" }, String(v)),
    );
  }
  for (const th of thresholds) {
    svg.append(
      s("line", { class: "threshold", x1: x(th.at), x2: x(th.at), y1: top - 10, y2: top + rows.length * rowH }),
      s("text", { x: x(th.at) + 3, y: top - 12, class: "muted" }, th.label),
    );
  }
  rows.forEach((row, i) => {
    const cy = top + i * rowH + rowH / 2;
    const way = row.after > row.before ? "up" : row.after < row.before ? "down" : "";
    svg.append(
      s("text", { x: left - 10, y: cy + 4, "text-anchor": "end" }, row.label, s("title", {}, row.title || row.label)),
      s("line", { class: way, x1: x(row.before), x2: x(row.after), y1: cy, y2: cy, stroke: "#8a94a3" }),
      s("circle", { class: "before", cx: x(row.before), cy, r: 5 }, s("title", {}, `${beforeLabel}: ${row.beforeText}`)),
      s("circle", { class: "after", cx: x(row.after), cy, r: 5 }, s("title", {}, `${afterLabel}: ${row.afterText}`)),
    );
    const tail = [row.delta, row.note].filter(Boolean).join(" · ");
    if (tail) svg.append(s("text", { x: Math.max(x(row.before), x(row.after)) + 9, y: cy + 4, class: `delta delta-${way}` }, tail));
  });
  return svg;
}

/** One bar per group, stacked by level; `cap` marked with a red tick. */
export function stackedBars({ groups, levels, label, capLabel }) {
  const rowH = 30;
  const left = 120;
  const right = W - 16;
  const top = 10;
  const height = top + groups.length * rowH + 26;
  const most = Math.max(1, ...groups.map((g) => levels.reduce((n, lv) => n + (g.counts[lv] || 0), 0)));
  const x = scale(0, most, left, right);
  const svg = frame(height, label);
  for (const v of ticks(0, most, 8)) {
    svg.append(
      s("line", { class: "grid", x1: x(v), x2: x(v), y1: top, y2: top + groups.length * rowH }),
      s("text", { x: x(v), y: top + groups.length * rowH + 16, "text-anchor": "middle" }, String(v)),
    );
  }
  groups.forEach((g, i) => {
    const y0 = top + i * rowH + 4;
    let at = 0;
    svg.append(s("text", { x: left - 8, y: y0 + 15, "text-anchor": "end" }, g.label));
    for (const lv of levels) {
      const n = g.counts[lv] || 0;
      if (!n) continue;
      svg.append(
        s("rect", { class: `bar level-${lv}`, x: x(at), y: y0, width: x(at + n) - x(at), height: rowH - 8 }, s("title", {}, `${g.label} · ${lv}: ${n}`)),
      );
      if (x(at + n) - x(at) > 22) {
        svg.append(s("text", { x: (x(at) + x(at + n)) / 2, y: y0 + 15, "text-anchor": "middle", class: "on-bar" }, String(n)));
      }
      at += n;
    }
    if (g.cap !== null && g.cap !== undefined) {
      svg.append(
        s("line", { class: "cap", x1: x(g.cap), x2: x(g.cap), y1: y0 - 3, y2: y0 + rowH - 5 }, s("title", {}, `${capLabel}: ${g.cap}`)),
      );
    }
  });
  return svg;
}
