#include "src/stats/impacts.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace refinery::stats {

Impacts compute_impacts(const Model& model, const FitResult& best, int poi, const FitOptions& options) {
  const auto& pars = model.parameters();
  Impacts out;
  out.poi = pars[poi].name;
  out.mu_hat = best.x[poi];
  out.mu_error = best.error[poi];
  auto shifted = [&](int i, double value) {
    FitOptions o = options;
    o.covariance = false;
    o.start = best.x;
    o.hold.push_back({i, std::clamp(value, pars[i].lower, pars[i].upper)});
    const FitResult r = fit(model, o);
    return r.ok() ? r.x[poi] - best.x[poi] : std::numeric_limits<double>::quiet_NaN();
  };
  for (int i = 0; i < model.size(); ++i) {
    const Parameter& p = pars[i];
    if (i == poi || p.fixed || p.poi) continue;
    Impact im;
    im.name = p.name;
    im.nu_hat = best.x[i];
    im.nu_error = best.error[i];
    if (p.constraint != Constraint::kNone) {
      // Around nu_hat, by the constraint's width (log-normal: a factor).
      const auto [down, up] = prefit_range(p.constraint, best.x[i], p.width);
      im.prefit_error = p.constraint == Constraint::kLogNormal ? p.width : 0.5 * (up - down);
      im.prefit_up = shifted(i, up);
      im.prefit_down = shifted(i, down);
    }
    im.postfit_up = shifted(i, best.x[i] + best.error[i]);
    im.postfit_down = shifted(i, best.x[i] - best.error[i]);
    out.ranked.push_back(im);
  }
  std::stable_sort(out.ranked.begin(), out.ranked.end(), [](const Impact& a, const Impact& b) {
    return std::max(std::abs(a.postfit_up), std::abs(a.postfit_down)) >
           std::max(std::abs(b.postfit_up), std::abs(b.postfit_down));
  });
  FitOptions stat = options;
  stat.start = best.x;
  for (int i = 0; i < model.size(); ++i)
    if (i != poi) stat.hold.push_back({i, best.x[i]});
  const FitResult r = fit(model, stat);
  out.stat_only_error = r.error[poi];
  return out;
}

nlohmann::json Impacts::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& i : ranked)
    rows.push_back({{"name", i.name}, {"nu_hat", i.nu_hat}, {"nu_error", i.nu_error}, {"prefit_error", i.prefit_error},
                    {"prefit_up", i.prefit_up}, {"prefit_down", i.prefit_down}, {"postfit_up", i.postfit_up},
                    {"postfit_down", i.postfit_down}});
  return {{"poi", poi}, {"mu_hat", mu_hat}, {"mu_error", mu_error}, {"stat_only_error", stat_only_error},
          {"syst_error", std::sqrt(std::max(mu_error * mu_error - stat_only_error * stat_only_error, 0.0))},
          {"impacts", rows}};
}

std::string Impacts::table() const {
  std::ostringstream s;
  s << std::setprecision(4);
  s << poi << "_hat = " << mu_hat << " +- " << mu_error << " (stat only " << stat_only_error << ")\n";
  size_t width = 14;
  for (const auto& i : ranked) width = std::max(width, i.name.size() + 2);
  s << std::left << std::setw(int(width)) << "nuisance" << std::right << std::setw(10) << "nu_hat" << std::setw(10)
    << "error" << std::setw(11) << "pre +" << std::setw(11) << "pre -" << std::setw(11) << "post +" << std::setw(11)
    << "post -" << "\n";
  for (const auto& i : ranked) {
    s << std::left << std::setw(int(width)) << i.name << std::right << std::setw(10) << i.nu_hat << std::setw(10)
      << i.nu_error;
    // A free parameter has no pre-fit uncertainty: no pre-fit impact.
    if (i.prefit_error > 0) s << std::setw(11) << i.prefit_up << std::setw(11) << i.prefit_down;
    else s << std::setw(11) << "-" << std::setw(11) << "-";
    s << std::setw(11) << i.postfit_up << std::setw(11) << i.postfit_down << "\n";
  }
  return s.str();
}

}  // namespace refinery::stats
