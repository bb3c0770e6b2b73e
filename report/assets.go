package report

// The page's style and script, inlined into every report so that it opens
// anywhere without fetching anything.

const pageCSS = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); margin: 0; }
main { max-width: 960px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.meta, p.note, .caveats { color: var(--muted); margin: 4px 0; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { background: var(--band); }
td.worse { color: #b42318; font-weight: 600; }
td.better { color: #1a7f37; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
svg.chart { width: 100%; height: auto; display: block; margin: 4px 0 14px; overflow: visible; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
svg.chart .xt, svg.chart .xtitle { text-anchor: middle; }
svg.chart .yt { text-anchor: end; }
svg.chart .ytitle { text-anchor: middle; }
svg.chart .grid line { stroke: #eaeef2; stroke-width: 1; }
svg.chart .frame { fill: none; stroke: var(--line); }
svg.chart .legend text { fill: var(--fg); }
svg.chart .guide { stroke: #8c959f; stroke-width: 1; stroke-dasharray: 3 3; pointer-events: none; }
pre { background: var(--band); border: 1px solid var(--line); padding: 10px; overflow-x: auto; font-size: 12px; }
details summary { cursor: pointer; color: var(--muted); }
.problem { color: #b42318; }
.headline { margin: .2em 0; font-size: 1.05em; }
#tip { position: absolute; display: none; pointer-events: none; white-space: pre; background: #1f2328; color: #fff;
  font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; padding: 6px 8px; border-radius: 4px; z-index: 10; }
@media print { #tip { display: none !important; } }
`

// pageJS adds the hover read-out: each chart carries its read-outs in
// data-hover ({x: [pixel], t: [text]}); the script draws a guide line at the
// nearest one and shows its text.
const pageJS = `
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  var ns = "http://www.w3.org/2000/svg";
  var charts = document.querySelectorAll("svg.chart[data-hover]");
  Array.prototype.forEach.call(charts, function (svg) {
    var d;
    try { d = JSON.parse(svg.getAttribute("data-hover")); } catch (e) { return; }
    if (!d || !d.x || !d.x.length) { return; }
    var plot = svg.getAttribute("data-plot").split(" ").map(Number);
    var guide = document.createElementNS(ns, "line");
    guide.setAttribute("class", "guide");
    guide.setAttribute("y1", plot[1]);
    guide.setAttribute("y2", plot[3]);
    guide.style.display = "none";
    svg.appendChild(guide);
    function hide() { guide.style.display = "none"; tip.style.display = "none"; }
    svg.addEventListener("mouseleave", hide);
    svg.addEventListener("mousemove", function (ev) {
      var m = svg.getScreenCTM();
      if (!m) { return; }
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(m.inverse());
      if (p.x < plot[0] || p.x > plot[2] || p.y < plot[1] || p.y > plot[3]) { hide(); return; }
      var xs = d.x, lo = 0, hi = xs.length - 1;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (xs[mid] < p.x) { lo = mid + 1; } else { hi = mid; } }
      if (lo > 0 && Math.abs(xs[lo - 1] - p.x) < Math.abs(xs[lo] - p.x)) { lo--; }
      guide.setAttribute("x1", xs[lo]);
      guide.setAttribute("x2", xs[lo]);
      guide.style.display = "";
      tip.textContent = d.t[lo];
      tip.style.display = "block";
      tip.style.left = (ev.pageX + 14) + "px";
      tip.style.top = (ev.pageY + 12) + "px";
    });
  });
})();
`
