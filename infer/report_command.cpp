// `refinery report --config EXPERIMENT.json`: the summary of the results the
// inference commands wrote into the output directory.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "infer/report_html.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"

namespace refinery::cli {

using nlohmann::json;

// `refinery report --config C`: the summary table of the main job from the
// JSON files the measurement commands wrote into the output directory.
int run_report(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Summary table of the measurement's results in the output directory");
  options.add_options()("html",
                        "Also write one self-contained HTML page with the tables and every figure in OUTPUT_DIR/figures "
                        "(default file: OUTPUT_DIR/report.html)",
                        cxxopts::value<std::string>()->implicit_value(""));
  add_common_options(options, true, false);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  const std::string dir = config.document.at("output_dir").get<std::string>();
  std::vector<std::string> found;
  std::string current;  // the file being read, for messages
  auto load = [&](const std::string& name) -> json {
    std::ifstream in(dir + "/" + name);
    if (!in) return json();
    found.push_back(name);
    current = dir + "/" + name;
    try {
      return json::parse(in);
    } catch (const json::exception&) {
      throw InputError(dir + "/" + name, "", "malformed JSON");
    }
  };
  std::ostringstream o;
  o << std::fixed << std::setprecision(4);
  o << "analysis   data                   mu_hat   68.27% profiled interval   width   coverage (toys)      "
       "bias of mu_hat  pull sd     score\n";
  // A result file without the keys read here is not a result of the command
  // that writes it: one error naming the file (never a read of a missing key).
  try {
  for (const char* analysis : {"unbinned", "reference"}) {
    const std::string suffix = std::string(analysis) == "reference" ? "_reference" : "";
    for (const char* what : {"asimov", "toy"}) {
      json f = load(std::string("fit_") + what + suffix + ".json");
      if (f.is_null() || !f.contains("interval_68")) continue;
      const double lo = f.at("interval_68").at("lower").at("value").get<double>(),
                   hi = f.at("interval_68").at("upper").at("value").get<double>();
      o << std::left << std::setw(11) << analysis << std::setw(21) << (std::string(what) == "asimov" ? "Asimov (mu 1)" : "pseudo-experiment")
        << std::right << std::setw(8) << f.at("fit").at("parameters").at(0).at("value").get<double>() << "   [" << lo << ", " << hi
        << "]" << std::setw(18) << hi - lo << "\n";
    }
    json t = load("toys" + suffix + ".csv.json");
    if (!t.is_null())
      for (const auto& s : t.at("per_mu_true")) {
        if (!s.contains("coverage")) continue;
        std::ostringstream label;
        label << s.at("usable").get<int>() << " toys, mu " << std::setprecision(2) << s.at("mu_true").get<double>();
        o << std::left << std::setw(11) << analysis << std::setw(21) << label.str() << std::right << std::setw(8)
          << "-" << std::setw(27) << "-" << std::setw(13) << s.at("mean_width").get<double>() << std::setw(9)
          << s.at("coverage").get<double>() << " +- " << s.at("coverage_error").get<double>() << std::setw(9)
          << s.at("bias").get<double>() << " +- " << s.at("bias_error").get<double>() << std::setw(9)
          << s.at("pull_sd").get<double>() << std::setw(10) << s.at("score").get<double>() << "\n";
      }
  }
  json im = load("impacts.json");
  if (!im.is_null()) {
    o << "\nimpacts on mu (Asimov), post-fit +1/-1 sigma; stat-only error "
      << im.at("impacts").at("stat_only_error").get<double>() << ", total "
      << im.at("impacts").at("mu_error").get<double>() << "\n";
    for (const auto& i : im.at("impacts").at("impacts"))
      o << "  " << std::left << std::setw(14) << i.at("name").get<std::string>() << std::right << std::setw(9)
        << i.at("postfit_up").get<double>() << std::setw(9) << i.at("postfit_down").get<double>() << "\n";
  }
  } catch (const json::exception& e) {
    std::string what = e.what();
    what = what.substr(std::min(what.size(), what.find(']') + 2));
    throw InputError(current, "", "not a refinery result of the expected kind: " + what);
  }
  if (found.empty())
    throw InputError(dir, "", "no results to report: none of fit_asimov.json, fit_toy.json, toys.csv.json, "
                              "impacts.json (and their _reference forms) is there; run refinery fit, toys or impacts first");
  std::cout << o.str();
  if (r->count("html")) {
    std::string path = (*r)["html"].as<std::string>();
    if (path.empty()) path = dir + "/report.html";
    write_text_atomically(path, report_html(config, dir, o.str()));
    if (!common.quiet) std::cout << "wrote " << path << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
