#include "infer/report_html.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/config/schema.h"
#include "src/core/error.h"
#include "src/core/version.h"

namespace refinery::cli {

using nlohmann::json;

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 | (unsigned char)bytes[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = (unsigned char)bytes[i] << 16;
    if (i + 1 < bytes.size()) v |= (unsigned char)bytes[i + 1] << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A result file of the run (null where absent; read_json_file's errors,
// with line and column, where it is not JSON).
json load(const std::string& path) {
  if (!std::filesystem::exists(path)) return json();
  return read_json_file(path);
}

std::string number(const json& v, int digits = 4) {
  if (!v.is_number()) return "&ndash;";
  std::ostringstream s;
  s << std::setprecision(digits) << v.get<double>();
  return s.str();
}

// One table: a header row and rows of cells (already HTML).
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream o;
  o << "<table><tr>";
  for (const auto& h : header) o << "<th>" << escape(h) << "</th>";
  o << "</tr>\n";
  for (const auto& row : rows) {
    o << "<tr>";
    for (const auto& c : row) o << "<td>" << c << "</td>";
    o << "</tr>\n";
  }
  o << "</table>\n";
  return o.str();
}

std::string fits_section(const std::string& dir) {
  std::ostringstream o;
  for (const char* analysis : {"", "_reference"}) {
    for (const char* data : {"asimov", "toy", "data"}) {
      const std::string name = std::string("fit_") + data + analysis + ".json";
      const json f = load(dir + "/" + name);
      if (!f.is_object() || !f.contains("fit") || !f["fit"].contains("parameters")) continue;
      o << "<h3>" << escape(name) << ": " << escape(f.value("data", "")) << " (" << escape(f.value("analysis", ""))
        << ", fit " << escape(f["fit"].value("status", "")) << ")</h3>\n";
      std::vector<std::vector<std::string>> rows;
      for (const json& p : f["fit"]["parameters"])
        rows.push_back({escape(p.value("name", "")), number(p.value("value", json())), number(p.value("error", json()))});
      o << table({"parameter", "value", "Hessian error"}, rows);
      if (f.contains("interval_68") && f["interval_68"].contains("lower"))
        o << "<p>68.27% profiled interval of " << escape(f["interval_68"].value("parameter", "the POI")) << ": ["
          << number(f["interval_68"]["lower"].value("value", json())) << ", "
          << number(f["interval_68"]["upper"].value("value", json())) << "]</p>\n";
    }
  }
  return o.str();
}

std::string toys_section(const std::string& dir) {
  std::ostringstream o;
  for (const char* name : {"toys.csv.json", "toys_reference.csv.json"}) {
    const json t = load(dir + "/" + name);
    if (!t.is_object() || !t.contains("per_mu_true")) continue;
    o << "<h3>" << escape(name) << ": " << escape(t.value("analysis", "")) << ", nuisances "
      << escape(t.value("nu_true", "")) << "</h3>\n";
    std::vector<std::vector<std::string>> rows;
    for (const json& s : t["per_mu_true"])
      rows.push_back({number(s.value("mu_true", json())), number(s.value("usable", json()), 6),
                      number(s.value("coverage", json())) + " &plusmn; " + number(s.value("coverage_error", json()), 2),
                      number(s.value("mean_width", json())),
                      number(s.value("bias", json())) + " &plusmn; " + number(s.value("bias_error", json()), 2),
                      number(s.value("pull_mean", json()), 3), number(s.value("pull_sd", json()), 3),
                      number(s.value("score", json()))});
    o << table({"mu_true", "toys", "coverage of the 68.27% interval", "mean width", "bias of mu_hat", "pull mean",
                "pull sd", "score"},
               rows);
  }
  return o.str();
}

std::string impacts_section(const std::string& dir) {
  const json im = load(dir + "/impacts.json");
  if (!im.is_object() || !im.contains("impacts") || !im["impacts"].contains("impacts")) return "";
  const json& i = im["impacts"];
  std::ostringstream o;
  o << "<p>" << escape(i.value("poi", "POI")) << " = " << number(i.value("mu_hat", json())) << " &plusmn; "
    << number(i.value("mu_error", json())) << " (statistical alone " << number(i.value("stat_only_error", json()))
    << ")</p>\n";
  std::vector<std::vector<std::string>> rows;
  for (const json& p : i["impacts"])
    rows.push_back({escape(p.value("name", "")), number(p.value("nu_hat", json()), 3), number(p.value("nu_error", json()), 3),
                    number(p.value("prefit_up", json()), 3), number(p.value("prefit_down", json()), 3),
                    number(p.value("postfit_up", json()), 3), number(p.value("postfit_down", json()), 3)});
  o << table({"nuisance", "post-fit value", "post-fit error", "pre-fit impact +1", "pre-fit impact -1", "post-fit impact +1",
              "post-fit impact -1"},
             rows);
  return o.str();
}

std::string figures_section(const std::string& dir, int* count) {
  std::vector<std::filesystem::path> figures;
  const std::filesystem::path fdir = std::filesystem::path(dir) / "figures";
  if (std::filesystem::is_directory(fdir))
    for (const auto& e : std::filesystem::directory_iterator(fdir))
      if (e.is_regular_file() && e.path().extension() == ".png") figures.push_back(e.path());
  std::sort(figures.begin(), figures.end());
  std::ostringstream o;
  for (const auto& path : figures) {
    const json sidecar = load(path.string() + ".series.json");
    std::string caption = path.filename().string();
    if (sidecar.is_object()) {
      caption += ": " + sidecar.value("kind", std::string("figure")) + " of " + sidecar.value("result", std::string("?"));
      std::vector<std::string> series;
      for (const json& s : sidecar.value("series", json::array())) series.push_back(s.value("name", ""));
      if (!series.empty()) {
        caption += " (series:";
        for (std::size_t k = 0; k < series.size() && k < 8; ++k) caption += " " + series[k];
        if (series.size() > 8) caption += " and " + std::to_string(series.size() - 8) + " more";
        caption += ")";
      }
    }
    o << "<figure><img alt=\"" << escape(path.filename().string()) << "\" src=\"data:image/png;base64,"
      << base64(read_bytes(path.string())) << "\"><figcaption>" << escape(caption) << "</figcaption></figure>\n";
    ++*count;
  }
  if (figures.empty()) o << "<p>No figures in " << escape(fdir.string()) << " (refinery plot writes them).</p>\n";
  return o.str();
}

}  // namespace

std::string report_html(const ExperimentConfig& config, const std::string& dir, const std::string& summary) {
  const std::string name = config.document.value("name", std::string("experiment"));
  int figures = 0;
  const std::string figure_html = figures_section(dir, &figures);
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>refinery report: " << escape(name)
    << "</title>\n<style>\n"
       "body{font-family:sans-serif;margin:2em auto;max-width:1100px;color:#222}\n"
       "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}\n"
       "th{background:#eee}td:first-child{text-align:left}pre{background:#f6f6f6;padding:0.8em;overflow-x:auto}\n"
       "figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.9em;color:#555}\n"
       "</style></head>\n<body data-figures=\"pending\">\n";
  o << "<h1>refinery report: " << escape(name) << "</h1>\n<p>" << escape(config.document.value("description", std::string()))
    << "</p>\n<p>config " << escape(config.file) << " (hash " << escape(config.hash) << "), seed "
    << config.document.value("seed", json()).dump() << ", run directory " << escape(dir) << ", " << escape(version())
    << "</p>\n";
  o << "<h2>Summary</h2>\n<pre>" << escape(summary) << "</pre>\n";
  const std::string fits = fits_section(dir), toys = toys_section(dir), impacts = impacts_section(dir);
  if (!fits.empty()) o << "<h2>Fits</h2>\n" << fits;
  if (!toys.empty()) o << "<h2>Pseudo-experiments</h2>\n" << toys;
  if (!impacts.empty()) o << "<h2>Impacts</h2>\n" << impacts;
  o << "<h2>Figures (" << figures << ")</h2>\n" << figure_html;
  // Marks the page once every image has been decoded (or failed to).
  o << "<script>\n"
       "window.addEventListener('load', function () {\n"
       "  var images = document.images, loaded = 0;\n"
       "  for (var i = 0; i < images.length; ++i) if (images[i].complete && images[i].naturalWidth > 0) ++loaded;\n"
       "  document.body.setAttribute('data-figures', loaded + '/' + images.length);\n"
       "});\n</script>\n</body></html>\n";
  return o.str();
}

}  // namespace refinery::cli
