#include "qinfer/report/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qinfer::report {

const std::string& series_color(size_t i) {
  static const std::string colors[] = {"#4C78A8", "#F58518", "#54A24B", "#B279A2",
                                       "#E45756", "#72B7B2", "#9D755D", "#EECA3B"};
  return colors[i % std::size(colors)];
}

namespace {

constexpr double kLeft = 78, kTop = 44, kRight = 24;

std::string value_label(double v) {
  char buf[32];
  const double a = std::fabs(v);
  std::snprintf(buf, sizeof buf, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3g", v);
  return buf;
}

// A linear axis mapping [lo, hi] (extended to nice ticks) onto pixels [p0, p1].
struct Axis {
  std::vector<double> ticks;
  double lo = 0, hi = 1, p0 = 0, p1 = 1;
  Axis(double data_lo, double data_hi, double pix0, double pix1) : p0(pix0), p1(pix1) {
    ticks = nice_ticks(data_lo, data_hi);
    lo = ticks.front();
    hi = ticks.back();
    if (hi <= lo) hi = lo + 1;
  }
  double operator()(double v) const { return p0 + (v - lo) / (hi - lo) * (p1 - p0); }
  double step() const { return ticks.size() > 1 ? ticks[1] - ticks[0] : 1; }
};

void y_axis(Svg& svg, const Axis& y, double x0, double x1, const std::string& label) {
  for (double t : y.ticks) {
    svg.line(x0, y(t), x1, y(t), "#e3e3e3");
    svg.text(x0 - 6, y(t) + 4, tick_label(t, y.step()), "end", 11, "#444");
  }
  svg.line(x0, y.p0, x0, y.p1, "#333");
  svg.text(16, (y.p0 + y.p1) / 2, label, "middle", 12, "#222", -90);
}

void x_axis(Svg& svg, const Axis& x, double y0, double y1, const std::string& label, double label_y) {
  for (double t : x.ticks) {
    svg.line(x(t), y0, x(t), y1, "#e3e3e3");
    svg.text(x(t), y0 + 16, tick_label(t, x.step()), "middle", 11, "#444");
  }
  svg.line(x.p0, y0, x.p1, y0, "#333");
  svg.text((x.p0 + x.p1) / 2, label_y, label, "middle", 12, "#222");
}

// Legend swatches in a row under the title.
void legend(Svg& svg, const std::vector<std::string>& names, const std::vector<std::string>& colors, double x) {
  double cx = x;
  for (size_t i = 0; i < names.size(); ++i) {
    svg.rect(cx, 30, 12, 12, colors[i]);
    svg.text(cx + 16, 40, names[i], "start", 11, "#333");
    cx += 28 + 7.0 * double(names[i].size());
  }
}

std::string shorten(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

}  // namespace

Svg bar_chart(const BarChart& in) {
  // Leave out the categories with no value in any series.
  BarChart c{in.title, in.y_label, {}, {}};
  for (const auto& s : in.series) c.series.push_back({s.name, {}});
  for (size_t i = 0; i < in.categories.size(); ++i) {
    bool any = false;
    for (const auto& s : in.series) any = any || (i < s.values.size() && std::isfinite(s.values[i]));
    if (!any) continue;
    c.categories.push_back(in.categories[i]);
    for (size_t k = 0; k < in.series.size(); ++k) c.series[k].values.push_back(in.series[k].values[i]);
  }
  const size_t nc = c.categories.size(), ns = std::max<size_t>(1, c.series.size());
  // Groups share a plot at least 860 px wide; bars are at most 64 px.
  const double plot_w = std::max(860.0, (22.0 * double(ns) + 24) * double(nc));
  const double group_w = plot_w / double(std::max<size_t>(1, nc));
  size_t longest = 0;
  for (const auto& cat : c.categories) longest = std::max(longest, cat.size());
  const bool rotate = double(std::min<size_t>(longest, 18)) * 7.0 > group_w - 8;
  const double bottom = rotate ? 120 : 64;
  const double width = kLeft + plot_w + kRight, height = 380 + bottom - 64;
  Svg svg(width, height, c.title);
  svg.text(kLeft, 22, c.title, "start", 15, "#111", 0, true);
  double vmax = 0;
  for (const auto& s : c.series)
    for (double v : s.values)
      if (std::isfinite(v)) vmax = std::max(vmax, v);
  const double plot_bottom = height - bottom;
  const Axis y(0, vmax > 0 ? vmax * 1.08 : 1, plot_bottom, kTop + 18);
  y_axis(svg, y, kLeft, kLeft + plot_w, c.y_label);
  const double bar_w = std::min(64.0, (group_w - 24) / double(ns));
  for (size_t i = 0; i < nc; ++i) {
    const double gx = kLeft + group_w * double(i) + (group_w - bar_w * double(ns)) / 2;
    for (size_t s = 0; s < c.series.size(); ++s) {
      const double v = i < c.series[s].values.size() ? c.series[s].values[i] : NAN;
      if (!std::isfinite(v)) continue;
      const double bx = gx + bar_w * double(s);
      svg.rect(bx + 1, y(v), bar_w - 2, plot_bottom - y(v), series_color(s),
               c.categories[i] + " · " + c.series[s].name + ": " + value_label(v));
      if (ns <= 2 || bar_w >= 34) svg.text(bx + bar_w / 2, y(v) - 4, value_label(v), "middle", 10, "#333");
    }
    const double cx = gx + bar_w * double(ns) / 2;
    if (rotate)
      svg.text(cx + 4, plot_bottom + 14, shorten(c.categories[i], 18), "end", 11, "#222", -35);
    else
      svg.text(cx, plot_bottom + 16, shorten(c.categories[i], 18), "middle", 11, "#222");
  }
  svg.line(kLeft, plot_bottom, kLeft + plot_w, plot_bottom, "#333");
  svg.text(kLeft + plot_w / 2, height - 10, "configuration", "middle", 12, "#222");
  if (c.series.size() > 1) {
    std::vector<std::string> names, colors;
    for (size_t s = 0; s < c.series.size(); ++s) {
      names.push_back(c.series[s].name);
      colors.push_back(series_color(s));
    }
    legend(svg, names, colors, kLeft + plot_w - 70.0 * double(names.size()));
  }
  return svg;
}

Svg scatter_chart(const ScatterChart& c) {
  const double width = 980, height = 460, bottom = 64;
  Svg svg(width, height, c.title);
  svg.text(kLeft, 22, c.title, "start", 15, "#111", 0, true);
  double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
  for (const auto& p : c.points) {
    xl = std::min(xl, p.x);
    xh = std::max(xh, p.x);
    yl = std::min(yl, p.y);
    yh = std::max(yh, p.y);
  }
  if (c.points.empty()) xl = yl = 0, xh = yh = 1;
  const double px = (xh - xl) * 0.08 + 1e-12, py = (yh - yl) * 0.08 + 1e-12;
  const Axis x(std::max(0.0, xl - px), xh + px, kLeft, width - kRight - 140);
  const Axis y(yl - py, yh + py, height - bottom, kTop + 18);
  y_axis(svg, y, kLeft, x.p1, c.y_label);
  x_axis(svg, x, height - bottom, kTop + 18, c.x_label, height - 16);
  std::vector<ScatterPoint> front;
  for (const auto& p : c.points)
    if (p.on_front) front.push_back(p);
  std::sort(front.begin(), front.end(), [](const auto& a, const auto& b) { return a.x < b.x; });
  std::vector<std::pair<double, double>> line;
  for (const auto& p : front) line.emplace_back(x(p.x), y(p.y));
  if (line.size() > 1) svg.polyline(line, "#E45756", 2, "6 4");
  for (const auto& p : c.points) {
    const std::string tip = p.label + ": " + value_label(p.x) + ", " + value_label(p.y);
    if (p.on_front)
      svg.circle(x(p.x), y(p.y), 7, "#E45756", "#8b1e1e", tip);
    else
      svg.circle(x(p.x), y(p.y), 6, "#9aa7b4", "#5b6875", tip);
    svg.text(x(p.x) + 10, y(p.y) - 8, shorten(p.label, 22), "start", 11, p.on_front ? "#8b1e1e" : "#444");
  }
  // Legend at the right.
  const double lx = width - kRight - 128;
  svg.circle(lx + 6, kTop + 30, 6, "#E45756", "#8b1e1e");
  svg.text(lx + 18, kTop + 34, "Pareto front", "start", 11, "#333");
  svg.circle(lx + 6, kTop + 52, 6, "#9aa7b4", "#5b6875");
  svg.text(lx + 18, kTop + 56, "dominated", "start", 11, "#333");
  svg.text(lx, kTop + 78, "lower-left is better", "start", 10, "#666");
  return svg;
}

Svg line_chart(const LineChart& c) {
  const double width = 980, height = 420, bottom = 64;
  Svg svg(width, height, c.title);
  svg.text(kLeft, 22, c.title, "start", 15, "#111", 0, true);
  double xl = INFINITY, xh = -INFINITY, yh = 0;
  for (const auto& s : c.series)
    for (const auto& [px, py] : s.points) {
      xl = std::min(xl, px);
      xh = std::max(xh, px);
      yh = std::max(yh, py);
    }
  if (!std::isfinite(xl)) xl = 0, xh = 1;
  const Axis x(std::min(0.0, xl), xh, kLeft, width - kRight - 150);
  const Axis y(0, yh > 0 ? yh * 1.08 : 1, height - bottom, kTop + 18);
  y_axis(svg, y, kLeft, x.p1, c.y_label);
  x_axis(svg, x, height - bottom, kTop + 18, c.x_label, height - 16);
  for (size_t i = 0; i < c.series.size(); ++i) {
    std::vector<std::pair<double, double>> pts;
    for (const auto& [px, py] : c.series[i].points) pts.emplace_back(x(px), y(py));
    if (pts.size() > 1) svg.polyline(pts, series_color(i), 2.5);
    for (size_t k = 0; k < pts.size(); ++k)
      svg.circle(pts[k].first, pts[k].second, 4, series_color(i), "",
                 c.series[i].name + ": " + value_label(c.series[i].points[k].first) + " → " +
                     value_label(c.series[i].points[k].second));
    const double ly = kTop + 24 + 20 * double(i);
    svg.rect(width - kRight - 136, ly - 10, 12, 12, series_color(i));
    svg.text(width - kRight - 118, ly, shorten(c.series[i].name, 18), "start", 11, "#333");
  }
  return svg;
}

}  // namespace qinfer::report
