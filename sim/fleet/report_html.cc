#include "sim/fleet/report_html.h"

#include <cstdio>
#include <string_view>

#include "firmware/board/strict_json.h"
#include "hal/linux/fs.h"
#include "sim/fleet/report_json.h"

namespace edgeforge::sim {
namespace {

using Json = nlohmann::ordered_json;

/// Text for HTML element content and attribute values.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// JSON inside <script type="application/json">: nothing may close the
/// element or open a comment, so '<' is written as \u003c (still the same
/// JSON string to the parser).
std::string ScriptSafeJson(const Json& j) {
  const std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Str(const Json& j, const char* a, const char* b, const std::string& fallback = "") {
  if (!j.contains(a) || !j[a].is_object() || !j[a].contains(b)) return fallback;
  const Json& v = j[a][b];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return fallback;
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
    return buf;
  }
  return v.dump();
}

constexpr const char* kStyle = R"CSS(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d9dde5;padding-bottom:4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff}
.pass{background:#1f7a3a}.fail{background:#b3261e}
.meta{color:#555}table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
td,th{border:1px solid #d9dde5;padding:3px 8px;text-align:right}th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}
svg.chart{display:block;width:100%;max-width:920px;height:auto;background:#fff;border:1px solid #e3e6ec;margin:6px 0}
.axis line,.axis path{stroke:#888}.axis text{fill:#444;font-size:11px}.grid{stroke:#eceef2}
.legend text{font-size:12px;fill:#333}.nodata{fill:#888;font-size:14px}
.band{fill:#f4b400;opacity:.16}.band.stage{fill:#4285f4;opacity:.08}.bandlabel{font-size:10px;fill:#8a6d00}
ul.failures{color:#b3261e}.note{color:#666;font-size:12px}
@media print{svg.chart{break-inside:avoid}}
)CSS";

// Draws every chart from the embedded report. Written for this page only:
// no library, no network.
constexpr const char* kScript = R"JS(
(function () {
  'use strict';
  var R = JSON.parse(document.getElementById('report').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var W = 920, H = 280, M = {l: 64, r: 150, t: 16, b: 56};
  var COLORS = ['#1a73e8', '#e8710a', '#188038', '#d93025', '#9334e6', '#12b5cb'];
  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, attrs) {
    var t = el('text', Object.assign({x: x, y: y}, attrs || {}), parent);
    t.textContent = s;
    return t;
  }
  function num(v) { return typeof v === 'number' && isFinite(v); }
  function fmt(v) {
    if (!num(v)) return '\u2014';
    if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en');
    return (Math.round(v * 100) / 100).toString();
  }
  function prepare(id) {
    var svg = document.getElementById(id);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    return svg;
  }
  function noData(svg, why) {
    text(svg, W / 2, H / 2, why, {'text-anchor': 'middle', 'class': 'nodata'});
    svg.setAttribute('data-drawn', '0');
  }
  function ticks(lo, hi, n) {
    if (hi <= lo) hi = lo + 1;
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }
  function frame(svg, x0, x1, y0, y1, xlabel, ylabel, categories) {
    var sx = function (v) { return M.l + (v - x0) / ((x1 - x0) || 1) * (W - M.l - M.r); };
    var sy = function (v) { return H - M.b - (v - y0) / ((y1 - y0) || 1) * (H - M.t - M.b); };
    var g = el('g', {'class': 'axis'}, svg);
    ticks(y0, y1, 5).forEach(function (v) {
      el('line', {x1: M.l, x2: W - M.r, y1: sy(v), y2: sy(v), 'class': 'grid'}, g);
      text(g, M.l - 6, sy(v) + 4, fmt(v), {'text-anchor': 'end'});
    });
    if (!categories) ticks(x0, x1, 8).forEach(function (v) {
      text(g, sx(v), H - M.b + 16, fmt(v), {'text-anchor': 'middle'});
    });
    el('line', {x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b}, g);
    el('line', {x1: M.l, x2: M.l, y1: M.t, y2: H - M.b}, g);
    text(g, (M.l + W - M.r) / 2, H - 6, xlabel, {'text-anchor': 'middle'});
    text(g, 14, (M.t + H - M.b) / 2, ylabel, {'text-anchor': 'middle', transform: 'rotate(-90 14 ' + (M.t + H - M.b) / 2 + ')'});
    return {sx: sx, sy: sy};
  }
  function legend(svg, names) {
    var g = el('g', {'class': 'legend'}, svg);
    names.forEach(function (n, i) {
      el('rect', {x: W - M.r + 12, y: M.t + i * 18, width: 12, height: 12, fill: COLORS[i % COLORS.length]}, g);
      text(g, W - M.r + 30, M.t + i * 18 + 10, n);
    });
  }
  // Fault and stage windows as bands behind a time chart.
  function windows() {
    var out = [];
    (R.stages || []).forEach(function (w) { out.push({w: w, stage: true}); });
    (R.faults || []).forEach(function (w) { out.push({w: w, stage: false}); });
    return out.filter(function (b) { return num(b.w.start_s) && b.w.start_s >= 0; });
  }
  function bands(svg, s, x1) {
    var n = 0;
    windows().forEach(function (b, i) {
      var end = num(b.w.end_s) && b.w.end_s >= 0 ? b.w.end_s : x1;
      var x = s.sx(b.w.start_s), w = Math.max(1, s.sx(end) - x);
      el('rect', {x: x, y: M.t, width: w, height: H - M.t - M.b, 'class': 'band' + (b.stage ? ' stage' : '')}, svg);
      text(svg, x + 2, M.t + 10 + (i % 4) * 11, b.w.name, {'class': 'bandlabel'});
      n++;
    });
    return n;
  }
  function lineChart(id, xs, lines, xlabel, ylabel) {
    var svg = prepare(id);
    var pts = 0, ymax = 0;
    lines.forEach(function (l) { l.ys.forEach(function (y) { if (num(y)) ymax = Math.max(ymax, y); }); });
    if (!xs.length) { noData(svg, 'no data in this report'); return 0; }
    var x0 = xs[0], x1 = xs[xs.length - 1];
    lines.forEach(function (l) { (l.xs || []).forEach(function (x) { x1 = Math.max(x1, x); }); });
    var s = frame(svg, Math.min(0, x0), x1, 0, ymax * 1.1 || 1, xlabel, ylabel);
    bands(svg, s, x1);
    lines.forEach(function (l, i) {
      var p = [], lx = l.xs || xs;
      for (var k = 0; k < lx.length; k++) if (num(l.ys[k])) { p.push(s.sx(lx[k]) + ',' + s.sy(l.ys[k])); pts++; }
      el('polyline', {points: p.join(' '), fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 2,
                      'stroke-dasharray': l.dash ? '6 4' : ''}, svg);
    });
    legend(svg, lines.map(function (l) { return l.name; }));
    svg.setAttribute('data-drawn', String(pts));
    return pts;
  }
  function barChart(id, cats, groups, ylabel, why) {
    var svg = prepare(id);
    var ymax = 0;
    groups.forEach(function (g) { g.ys.forEach(function (y) { if (num(y)) ymax = Math.max(ymax, y); }); });
    if (!cats.length) { noData(svg, why || 'no data in this report'); return 0; }
    var s = frame(svg, 0, cats.length, 0, ymax * 1.15 || 1, '', ylabel, true);
    var slot = (W - M.l - M.r) / cats.length, bw = slot * 0.8 / groups.length, bars = 0;
    cats.forEach(function (c, i) {
      groups.forEach(function (g, j) {
        var y = num(g.ys[i]) ? g.ys[i] : 0;
        var bx = M.l + i * slot + slot * 0.1 + j * bw;
        el('rect', {x: bx, y: s.sy(y), width: Math.max(1, bw - 1),
                    height: Math.max(0, H - M.b - s.sy(y)), fill: COLORS[j % COLORS.length]}, svg);
        text(svg, bx + bw / 2, s.sy(y) - 3, fmt(y), {'text-anchor': 'middle', 'class': 'axis', 'font-size': '10'});
        bars++;
      });
      var lx = M.l + (i + 0.5) * slot, ly = H - M.b + 14;
      text(svg, lx, ly, c, cats.length > 8 ? {'text-anchor': 'end', 'class': 'axis', 'font-size': '10',
                                              transform: 'rotate(-35 ' + lx + ' ' + ly + ')'}
                                           : {'text-anchor': 'middle', 'class': 'axis'});
    });
    legend(svg, groups.map(function (g) { return g.name; }));
    svg.setAttribute('data-drawn', String(bars));
    return bars;
  }
  function table(id, head, rows) {
    var t = document.getElementById(id);
    if (!rows.length) { t.outerHTML = '<p class="note">none in this run</p>'; return; }
    var h = '<tr>' + head.map(function (c) { return '<th>' + esc(c) + '</th>'; }).join('') + '</tr>';
    rows.forEach(function (r) {
      h += '<tr>' + r.map(function (c) { return '<td>' + esc(typeof c === 'number' ? fmt(c) : c == null ? '\u2014' : String(c)) + '</td>'; }).join('') + '</tr>';
    });
    t.innerHTML = h;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; });
  }

  var S = R.series || {};
  var t = S.t_s || [];
  lineChart('connections', t, [{name: 'connected', ys: S.connected || []}, {name: 'online', ys: S.online || []}],
            'seconds since the run started', 'devices');

  var achieved = [], xs = [];
  for (var i = 1; i < t.length; i++) {
    xs.push(t[i]);
    achieved.push(((S.published || [])[i] - (S.published || [])[i - 1]) / ((t[i] - t[i - 1]) || 1));
  }
  var sched = R.schedule || {}, up = (R.connect || {}).up_s;
  var schedLine = {name: 'scheduled', ys: [], xs: [], dash: true};
  if (num(sched.scheduled_per_s) && num(up)) {
    schedLine.xs = [up, up + (sched.measured_s || 0)];
    schedLine.ys = [sched.scheduled_per_s, sched.scheduled_per_s];
  }
  lineChart('rate', xs, [{name: 'achieved', ys: achieved}, schedLine], 'seconds since the run started',
            'messages per second');

  var lat = R.latency;
  if (lat && lat.histogram) {
    var le = lat.histogram.le || [], counts = lat.histogram.counts || [];
    var first = counts.findIndex(function (c) { return c > 0; }), last = -1;
    counts.forEach(function (c, k) { if (c > 0) last = k; });
    var cats = [], ys = [];
    if (first >= 0) for (var k = first; k <= last; k++) {
      var b = le[k];
      cats.push(b === '+Inf' ? '>100 s' : b >= 1 ? '\u2264' + b + ' s' : '\u2264' + Math.round(b * 1e4) / 10 + ' ms');
      ys.push(counts[k]);
    }
    barChart('latency', cats, [{name: 'messages', ys: ys}], 'messages', 'no latency samples');
  } else {
    noData(prepare('latency'), 'no verifier in this run: no latency');
  }
  if (R.latency_series && R.latency_series.length) {
    var ls = R.latency_series;
    lineChart('latency-time', ls.map(function (p) { return p.t_s; }),
              [{name: 'p50', ys: ls.map(function (p) { return p.p50_ms; })},
               {name: 'p99', ys: ls.map(function (p) { return p.p99_ms; })}], 'seconds since the run started', 'ms');
  } else {
    noData(prepare('latency-time'), 'latency over time: not in this report (the histogram above covers the run)');
  }

  var G = R.groups || [];
  barChart('groups', G.map(function (g) { return g.name; }),
           [{name: 'published', ys: G.map(function (g) { return g.published; })},
            {name: 'delivered', ys: G.map(function (g) { return g.delivered; })}], 'messages');
  function problems(id, rows, names, why) {
    var keys = ['lost', 'duplicates', 'invalid', 'conflicts', 'refused', 'dropped'];
    barChart(id, names, keys.map(function (k) { return {name: k, ys: rows.map(function (r) { return r[k]; })}; }),
             'messages', why);
  }
  problems('group-errors', G, G.map(function (g) { return g.name; }));
  table('groups-table', ['group', 'board', 'site', 'devices', 'connected', 'published', 'delivered', 'lost', 'duplicates', 'invalid', 'conflicts', 'refused', 'dropped'],
        G.map(function (g) { return [g.name, g.board, g.site, g.devices, g.connected, g.published, g.delivered, g.lost, g.duplicates, g.invalid, g.conflicts, g.refused, g.dropped]; }));

  if (R.loss) {
    var v = R.verify || {};
    barChart('loss', ['lost', 'duplicates', 'invalid', 'conflicts', 'device side', 'broker side'],
             [{name: 'messages', ys: [v.lost, v.duplicates, v.invalid, v.conflicts, R.loss.device_side, R.loss.broker_side]}],
             'messages');
  } else {
    noData(prepare('loss'), 'no verifier in this run: loss not attributed');
  }

  var W2 = windows();
  var win = lineChart('windows', W2.length ? t : [],
                      [{name: 'connections lost', ys: S.connections_lost || []}, {name: 'dropped', ys: S.dropped || []},
                       {name: 'queued', ys: S.queued || []}], 'seconds since the run started', 'count');
  if (!W2.length) noData(prepare('windows'), 'no fault or stage windows in this run');
  problems('window-errors', W2.map(function (b) { return b.w; }), W2.map(function (b) { return b.w.name; }),
           'no fault or stage windows in this run');
  table('windows-table', ['window', 'kind', 'what', 'devices', 'from s', 'to s', 'published', 'acked', 'connections lost', 'connects failed', 'lost', 'duplicates', 'invalid', 'conflicts', 'refused', 'dropped', 'error'],
        W2.map(function (b) { var w = b.w; return [w.name, w.kind, w.detail, w.devices, w.start_s, w.end_s, w.published, w.delivered, w.connections_lost, w.connect_failures, w.lost, w.duplicates, w.invalid, w.conflicts, w.refused, w.dropped, w.error]; }));
  var RO = [];
  (R.rollouts || []).forEach(function (r) {
    (r.steps || []).forEach(function (s, k) {
      RO.push([r.name, k + 1, Math.round(s.share * 100) + '%', s.devices, s.accepted, s.rejected, s.pending, s.alarms, s.decision, k === r.steps.length - 1 ? r.outcome : '']);
    });
  });
  table('rollouts-table', ['rollout', 'step', 'share', 'devices', 'applied', 'rejected', 'pending', 'alarms', 'decision', 'outcome'], RO);
  document.body.setAttribute('data-charts', 'ok');
})();
)JS";

}  // namespace

std::string ReportHtml(const Json& report) {
  const bool pass = report.contains("result") && report["result"].is_object() && report["result"].contains("pass") &&
                    report["result"]["pass"].is_boolean() && report["result"]["pass"].get<bool>();
  const std::string scenario = Str(report, "run", "scenario", "command-line options");
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>edgeforge run " + Escape(Str(report, "run", "started_utc")) + " (" + Escape(scenario) + ")</title>\n";
  h += "<style>" + std::string(kStyle) + "</style></head>\n<body>\n";
  h += "<h1>edgeforge sim: " + Escape(scenario) + " <span class=\"verdict " + (pass ? "pass\">PASS" : "fail\">FAIL") +
       "</span></h1>\n";
  h += "<p class=\"meta\">started " + Escape(Str(report, "run", "started_utc")) + " &middot; " +
       Escape(Str(report, "run", "devices")) + " devices, " + Escape(Str(report, "run", "workers")) +
       " workers &middot; broker " + Escape(Str(report, "run", "broker")) + " &middot; seed " +
       Escape(Str(report, "run", "seed")) + " &middot; " + Escape(Str(report, "run", "duration_s")) +
       " s measured &middot; edgeforge " +
       Escape(report.contains("edgeforge") && report["edgeforge"].is_string() ? report["edgeforge"].get<std::string>()
                                                                              : "") +
       "</p>\n";
  if (report.contains("result") && report["result"].contains("failures") && report["result"]["failures"].is_array() &&
      !report["result"]["failures"].empty()) {
    h += "<ul class=\"failures\">";
    for (const Json& f : report["result"]["failures"])
      h += "<li>" + Escape(f.is_string() ? f.get<std::string>() : f.dump()) + "</li>";
    h += "</ul>\n";
  }
  h += "<table><tr><th>connected</th><th>scheduled msg/s</th><th>achieved msg/s</th><th>published</th>"
       "<th>delivered</th><th>verified</th><th>lost</th><th>invalid</th><th>p50 ms</th><th>p99 ms</th></tr><tr>";
  for (const auto& [a, b] : std::initializer_list<std::pair<const char*, const char*>>{{"connect", "connected"},
                                                                                       {"schedule", "scheduled_per_s"},
                                                                                       {"schedule", "achieved_per_s"},
                                                                                       {"messages", "published"},
                                                                                       {"messages", "delivered"},
                                                                                       {"verify", "verified"},
                                                                                       {"verify", "lost"},
                                                                                       {"verify", "invalid"},
                                                                                       {"latency", "p50_ms"},
                                                                                       {"latency", "p99_ms"}}) {
    h += "<td>" + Escape(Str(report, a, b, "\u2014")) + "</td>";
  }
  h += "</tr></table>\n";
  h += "<h2>Connections over time</h2><svg class=\"chart\" id=\"connections\"></svg>\n";
  h += "<h2>Messages per second: scheduled and achieved</h2><svg class=\"chart\" id=\"rate\"></svg>\n";
  h += "<h2>Latency (device publish to verifier receive)</h2><svg class=\"chart\" id=\"latency\"></svg>\n";
  h += "<svg class=\"chart\" id=\"latency-time\"></svg>\n";
  h += "<h2>Per group</h2><svg class=\"chart\" id=\"groups\"></svg>\n";
  h += "<svg class=\"chart\" id=\"group-errors\"></svg><table id=\"groups-table\"></table>\n";
  h += "<h2>Loss, duplicates, invalid and where loss happened</h2><svg class=\"chart\" id=\"loss\"></svg>\n";
  h += "<h2>Fault and stage windows</h2><svg class=\"chart\" id=\"windows\"></svg>\n";
  h += "<svg class=\"chart\" id=\"window-errors\"></svg><table id=\"windows-table\"></table>\n";
  h += "<h2>Rollouts</h2><table id=\"rollouts-table\"></table>\n";
  h += "<p class=\"note\">Self-contained: the report below is the data; the charts are drawn from it in the page. "
       "Schema edgeforge.report/1 (docs/report.md).</p>\n";
  h += "<script type=\"application/json\" id=\"report\">" + ScriptSafeJson(report) + "</script>\n";
  h += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return h;
}

Status WriteReportHtml(const std::string& path, const Json& report) {
  return fs::WriteFileAtomically(path, ReportHtml(report), 0644, fs::Durability::kSynced).WithContext(path);
}

Result<Json> ReadReportJson(const std::string& path) {
  auto text = board::ReadBoundedFile(path, kMaxReportBytes, "report");
  if (!text.ok()) return text.status();
  return ParseReportJson(*text, path);
}

Result<Json> ParseReportJson(std::string_view text, const std::string& path) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument(path + ": not valid JSON (a report from edgeforge sim --report-json?)");
  if (!j.is_object()) return InvalidArgument(path + ": must be a JSON object, got " + std::string(j.type_name()));
  if (!j.contains("schema") || !j["schema"].is_string()) {
    return InvalidArgument(path + ": schema: missing (a report says \"" + std::string(kReportSchema) + "\")");
  }
  if (j["schema"] != kReportSchema) {
    return InvalidArgument(path + ": schema: must be \"" + std::string(kReportSchema) + "\", got " +
                           j["schema"].dump());
  }
  return j;
}

}  // namespace edgeforge::sim
