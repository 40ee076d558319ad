// The report's charts, drawn with report/svg.h: grouped bars, a scatter with
// its Pareto front, and lines. Each has axes with ticks, axis titles with
// units, and a legend when there is more than one series.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "qinfer/report/svg.h"

namespace qinfer::report {

// Colours of series 0, 1, ...; cycles.
const std::string& series_color(size_t i);

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category; NaN: no bar
};
struct BarChart {
  std::string title;
  std::string y_label;  // with unit: "tokens/s"
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
};
Svg bar_chart(const BarChart& c);

struct ScatterPoint {
  std::string label;
  double x = 0, y = 0;
  bool on_front = false;  // drawn highlighted and joined by the front line
};
struct ScatterChart {
  std::string title, x_label, y_label;
  std::vector<ScatterPoint> points;
};
Svg scatter_chart(const ScatterChart& c);

struct LineSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // sorted by x
};
struct LineChart {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;
};
Svg line_chart(const LineChart& c);

}  // namespace qinfer::report
