// A small SVG writer for the report's charts: shapes and text appended to a
// string, every attribute and text escaped, so any model name is safe.
#pragma once
#include <string>
#include <vector>

namespace qinfer::report {

// Escapes & < > " ' for XML/HTML text and attribute values.
std::string xml_escape(const std::string& s);

// "Nice" axis ticks covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Tick label: as few digits as the step needs ("0.25", "1.5k" style is not used: plain numbers).
std::string tick_label(double v, double step);

class Svg {
 public:
  Svg(double width, double height, const std::string& title);
  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& tooltip = "");
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            const std::string& dash = "");
  void polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke, double width = 2,
                const std::string& dash = "");
  void circle(double cx, double cy, double r, const std::string& fill, const std::string& stroke = "",
              const std::string& tooltip = "");
  // anchor: start|middle|end; rotate: degrees around (x, y).
  void text(double x, double y, const std::string& s, const std::string& anchor = "start", double size = 12,
            const std::string& fill = "#222", double rotate = 0, bool bold = false);
  // The document: standalone=true adds the XML declaration (for .svg files).
  std::string str(bool standalone) const;
  double width() const { return w_; }
  double height() const { return h_; }

 private:
  double w_, h_;
  std::string title_;
  std::string body_;
};

}  // namespace qinfer::report
