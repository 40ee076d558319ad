#include "qinfer/report/svg.h"

#include <cmath>
#include <cstdio>

namespace qinfer::report {

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0 at all.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += "\xEF\xBF\xBD";
        else out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + (lo == 0 ? 1 : std::fabs(lo));
  const double raw = (hi - lo) / std::max(1, target);
  int e = int(std::floor(std::log10(raw)));
  int m = 10;
  for (int c : {1, 2, 5, 10})
    if (raw <= c * std::pow(10.0, e) * 1.0000001) {
      m = c;
      break;
    }
  // Tick k is k·m·10^e; dividing by an exact power of ten for e < 0 gives the
  // double nearest the decimal (0.15, not 0.15000000000000002).
  const double scale = std::pow(10.0, std::abs(e));
  auto value = [&](int64_t k) { return e < 0 ? double(k * m) / scale : double(k * m) * scale; };
  const double step = value(1);
  const int64_t k0 = int64_t(std::floor(lo / step + 1e-9));
  std::vector<double> ticks;
  for (int64_t k = k0; value(k) <= hi + step * 0.999 && ticks.size() < 64; ++k) ticks.push_back(value(k));
  return ticks;
}

std::string tick_label(double v, double step) {
  int decimals = 0;
  if (step > 0 && step < 1) decimals = int(std::ceil(-std::log10(step) - 1e-9));
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 9), v);
  return buf;
}

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}
std::string title_el(const std::string& tooltip) {
  return tooltip.empty() ? "" : "<title>" + xml_escape(tooltip) + "</title>";
}
}  // namespace

Svg::Svg(double width, double height, const std::string& title) : w_(width), h_(height), title_(title) {}

void Svg::rect(double x, double y, double w, double h, const std::string& fill, const std::string& tooltip) {
  body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(std::max(0.0, w)) + "\" height=\"" +
           num(std::max(0.0, h)) + "\" fill=\"" + xml_escape(fill) + "\">" + title_el(tooltip) + "</rect>\n";
}

void Svg::line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
               const std::string& dash) {
  body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
           "\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + num(width) + "\"" +
           (dash.empty() ? "" : " stroke-dasharray=\"" + xml_escape(dash) + "\"") + "/>\n";
}

void Svg::polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke, double width,
                   const std::string& dash) {
  std::string p;
  for (const auto& [x, y] : pts) p += num(x) + "," + num(y) + " ";
  body_ += "<polyline points=\"" + p + "\" fill=\"none\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" +
           num(width) + "\"" + (dash.empty() ? "" : " stroke-dasharray=\"" + xml_escape(dash) + "\"") + "/>\n";
}

void Svg::circle(double cx, double cy, double r, const std::string& fill, const std::string& stroke,
                 const std::string& tooltip) {
  body_ += "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) + "\" fill=\"" + xml_escape(fill) +
           "\"" + (stroke.empty() ? "" : " stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"2\"") + ">" +
           title_el(tooltip) + "</circle>\n";
}

void Svg::text(double x, double y, const std::string& s, const std::string& anchor, double size,
               const std::string& fill, double rotate, bool bold) {
  body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + xml_escape(anchor) +
           "\" font-size=\"" + num(size) + "\" fill=\"" + xml_escape(fill) + "\"" +
           (bold ? " font-weight=\"bold\"" : "") +
           (rotate != 0 ? " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"" : "") + ">" +
           xml_escape(s) + "</text>\n";
}

std::string Svg::str(bool standalone) const {
  std::string out = standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : "";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(w_) + "\" height=\"" + num(h_) +
         "\" viewBox=\"0 0 " + num(w_) + " " + num(h_) +
         "\" font-family=\"Helvetica, Arial, sans-serif\" role=\"img\">\n<title>" + xml_escape(title_) +
         "</title>\n<rect x=\"0\" y=\"0\" width=\"" + num(w_) + "\" height=\"" + num(h_) + "\" fill=\"#ffffff\"/>\n";
  return out + body_ + "</svg>\n";
}

}  // namespace qinfer::report
