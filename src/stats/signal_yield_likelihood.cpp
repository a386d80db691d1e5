#include "src/stats/signal_yield_likelihood.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "src/core/error.h"
#include "src/core/text.h"

namespace refinery::stats {

namespace {

const char* kSampleName = "refinery_signal_yields";
std::string yield_modifier(const std::string& channel) { return "refinery_yield_" + channel; }

bool scaled_by(const histfactory::Sample& s, const std::string& poi) {
  for (const auto& m : s.modifiers)
    if (m.type == "normfactor" && m.name == poi) return true;
  return false;
}

const histfactory::Channel* find_channel(const histfactory::Workspace& ws, const std::string& name) {
  for (const auto& c : ws.channels)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

std::string TemplateBin::name() const { return channel + "[" + std::to_string(bin) + "]"; }

std::vector<TemplateBin> signal_template(const histfactory::Workspace& background,
                                         const std::vector<histfactory::Workspace>& signals,
                                         const std::string& measurement, const std::string& where) {
  std::set<std::pair<std::string, int>> used;
  for (const auto& ws : signals) {
    const std::string poi = ws.measurement(measurement).poi;
    for (const auto& c : ws.channels)
      for (const auto& s : c.samples)
        if (scaled_by(s, poi))
          for (int b = 0; b < int(s.data.size()); ++b)
            if (s.data[b] != 0.0) used.insert({c.name, b});
  }
  std::vector<TemplateBin> out;
  for (const auto& c : background.channels)
    for (int b = 0; b < int(c.bins()); ++b)
      if (used.count({c.name, b})) out.push_back({c.name, b});
  if (out.empty())
    throw InputError(where, "patches", "no signal (a sample scaled by the POI) with a yield in any channel of " + background.file);
  return out;
}

std::vector<TemplateBin> parse_signal_template(const histfactory::Workspace& background,
                                               const std::vector<std::string>& items, const std::string& flag) {
  std::set<std::pair<std::string, int>> used;
  for (const auto& item : items) {
    std::string name = item;
    int bin = -1;
    const auto open = item.find('[');
    if (open != std::string::npos) {
      if (item.back() != ']' || open + 2 > item.size() - 1)
        throw InputError("", flag, "expected CHANNEL or CHANNEL[BIN], got '" + item + "'");
      name = item.substr(0, open);
      const std::string digits = item.substr(open + 1, item.size() - open - 2);
      if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        throw InputError("", flag, "bin of '" + item + "' is not a non-negative integer");
      bin = std::stoi(digits);
    }
    const histfactory::Channel* c = find_channel(background, name);
    if (!c) {
      std::vector<std::string> names;
      for (const auto& ch : background.channels) names.push_back(ch.name);
      throw InputError("", flag, "no channel '" + name + "' (channels: " + join(names) + ")");
    }
    if (bin >= int(c->bins()))
      throw InputError("", flag, "channel '" + name + "' has " + std::to_string(c->bins()) + " bins, not bin " + std::to_string(bin));
    for (int b = 0; b < int(c->bins()); ++b)
      if (bin < 0 || b == bin)
        if (!used.insert({name, b}).second) throw InputError("", flag, "bin " + name + "[" + std::to_string(b) + "] named twice");
  }
  std::vector<TemplateBin> out;
  for (const auto& c : background.channels)
    for (int b = 0; b < int(c.bins()); ++b)
      if (used.count({c.name, b})) out.push_back({c.name, b});
  if (out.empty()) throw InputError("", flag, "no bins named");
  return out;
}

Eigen::VectorXd signal_yields(const histfactory::Workspace& signal, const std::vector<TemplateBin>& bins,
                              const std::string& measurement, double* outside) {
  const std::string poi = signal.measurement(measurement).poi;
  std::map<std::pair<std::string, int>, int> index;
  for (int k = 0; k < int(bins.size()); ++k) index[{bins[k].channel, bins[k].bin}] = k;
  Eigen::VectorXd s = Eigen::VectorXd::Zero(int(bins.size()));
  double rest = 0.0;
  for (const auto& c : signal.channels)
    for (const auto& sample : c.samples)
      if (scaled_by(sample, poi))
        for (int b = 0; b < int(sample.data.size()); ++b) {
          const auto it = index.find({c.name, b});
          if (it != index.end()) s[it->second] += sample.data[b];
          else rest += sample.data[b];
        }
  if (outside) *outside = rest;
  return s;
}

SignalYieldLikelihood::SignalYieldLikelihood(const histfactory::Workspace& background, std::vector<TemplateBin> bins,
                                             const std::string& measurement, histfactory::InterpOptions interp)
    : bins_(std::move(bins)), file_(background.file) {
  if (bins_.empty()) throw InputError(background.file, "signal template", "no bins");
  histfactory::Workspace ws = background;
  poi_name_ = ws.measurement(measurement).poi;
  if (poi_name_.empty())
    throw InputError(background.file, "measurements[].config.poi",
                     "empty: the signal strength needs a name (the patches' normfactor)");
  for (const auto& c : ws.channels)
    for (const auto& s : c.samples)
      if (scaled_by(s, poi_name_))
        throw InputError(background.file, "channels",
                         "sample '" + s.name + "' of channel '" + c.name + "' is already scaled by the POI " + poi_name_ +
                             ": give the background-only workspace (the signal is the yields)");
  std::map<std::string, std::vector<int>> per_channel;
  for (const auto& b : bins_) {
    const histfactory::Channel* c = find_channel(ws, b.channel);
    if (!c || b.bin < 0 || b.bin >= int(c->bins()))
      throw InputError(background.file, "signal template", "no bin " + b.name());
    per_channel[b.channel].push_back(b.bin);
  }
  for (auto& c : ws.channels) {
    const auto it = per_channel.find(c.name);
    if (it == per_channel.end()) continue;
    for (const auto& s : c.samples)
      if (s.name == kSampleName) throw InputError(background.file, "channels", std::string("a sample is already named ") + kSampleName);
    histfactory::Sample s;
    s.name = kSampleName;
    s.data.assign(c.bins(), 0.0);
    for (int b : it->second) s.data[b] = 1.0;
    histfactory::Modifier mu;
    mu.name = poi_name_;
    mu.type = "normfactor";
    histfactory::Modifier yield;
    yield.name = yield_modifier(c.name);
    yield.type = "shapefactor";
    s.modifiers = {mu, yield};
    c.samples.push_back(s);
  }
  auto model = std::make_shared<histfactory::HistFactoryModel>(ws, measurement, interp);
  poi_ = model->require_poi();
  for (const auto& b : bins_) {
    const int i = model->parameter_index(yield_modifier(b.channel) + "[" + std::to_string(b.bin) + "]");
    if (i < 0) throw std::logic_error("signal yield parameter missing for " + b.name());
    model->set_bounds(i, 0.0, 1e300);
    yield_index_.push_back(i);
  }
  model_ = model;
  observed_ = std::make_unique<WorkspaceModel>(model_);
  // Bins of a template channel outside the template: nominal 0, factor held at 0.
  for (const auto& [channel, used] : per_channel)
    for (int b = 0; b < int(find_channel(ws, channel)->bins()); ++b)
      if (std::find(used.begin(), used.end(), b) == used.end()) {
        const int i = observed_->index(yield_modifier(channel) + "[" + std::to_string(b) + "]");
        observed_->set_init(i, 0.0);
        observed_->set_fixed(i, true);
      }
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(dimension());
  const Label b = evaluate(*observed_, zero, nullptr);
  if (!b.ok) throw InputError(background.file, "observations", "the background-only fit failed: " + b.reason);
  background_observed_ = b.nll;
  background_best_observed_ = b.best;
  asimov_ = std::make_unique<WorkspaceModel>(model_, model_->expected_data(b.best));
  for (int i = 0; i < observed_->size(); ++i) {  // the same held factors
    asimov_->set_init(i, observed_->parameters()[i].init);
    asimov_->set_fixed(i, observed_->parameters()[i].fixed);
  }
  const Label a = evaluate(*asimov_, zero, &b.best);
  if (!a.ok) throw InputError(background.file, "observations", "the background-only fit to the Asimov data failed: " + a.reason);
  background_asimov_ = a.nll;
  background_best_asimov_ = a.best;
}

std::vector<std::string> SignalYieldLikelihood::bin_names() const {
  std::vector<std::string> out;
  for (const auto& b : bins_) out.push_back(b.name());
  return out;
}

SignalYieldLikelihood::Label SignalYieldLikelihood::evaluate(const WorkspaceModel& data, const Eigen::VectorXd& s,
                                                             const Eigen::VectorXd* start) const {
  if (s.size() != dimension()) throw std::invalid_argument("signal yields: wrong dimension");
  FitOptions options;
  options.covariance = false;
  options.hold.push_back({poi_, 1.0});
  for (int k = 0; k < dimension(); ++k) options.hold.push_back({yield_index_[k], s[k]});
  // The profiled NLL can have several minima where a large signal must be
  // absorbed (a background's MC-statistics factor driven to 0 at its bound
  // against an interior minimum, seen on the stau workspace): the label is
  // the lowest of the fits from the given start, from the background-only
  // best fit and from the model's initial values; the last is skipped when
  // the first two end at the same minimum.
  const Eigen::VectorXd& background_best = &data == observed_.get() ? background_best_observed_ : background_best_asimov_;
  std::vector<const Eigen::VectorXd*> starts;
  if (start) starts.push_back(start);
  if (background_best.size()) starts.push_back(&background_best);
  starts.push_back(nullptr);
  FitResult r;
  double first = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = 0; i < starts.size(); ++i) {
    if (i == 2 && std::abs(first - r.nll) < 1e-7 * std::max(1.0, std::abs(r.nll))) break;
    options.start = starts[i] ? *starts[i] : Eigen::VectorXd();
    FitResult f = fit(data, options);
    const bool good = f.ok() && std::isfinite(f.nll);
    if (i == 0) first = good ? f.nll : std::numeric_limits<double>::quiet_NaN();
    if (!good) {
      if (!r.ok()) r = std::move(f);
      continue;
    }
    if (!r.ok() || !std::isfinite(r.nll) || f.nll < r.nll) r = std::move(f);
  }
  Label out;
  out.ok = r.ok() && std::isfinite(r.nll);
  out.nll = r.nll;
  out.reason = r.reason;
  out.best = r.x;
  return out;
}

SignalYieldLikelihood::Label SignalYieldLikelihood::observed(const Eigen::VectorXd& s, const Eigen::VectorXd* start) const {
  return evaluate(*observed_, s, start);
}

SignalYieldLikelihood::Label SignalYieldLikelihood::asimov(const Eigen::VectorXd& s, const Eigen::VectorXd* start) const {
  return evaluate(*asimov_, s, start);
}

SignalYieldLikelihood::Expansion SignalYieldLikelihood::expansion(bool asimov) const {
  const WorkspaceModel& data = asimov ? *asimov_ : *observed_;
  Eigen::VectorXd x = asimov ? background_best_asimov_ : background_best_observed_;
  x[poi_] = 1.0;
  for (int i : yield_index_) x[i] = 0.0;
  Eigen::VectorXd grad;
  Eigen::MatrixXd hess;
  data.nll(x, &grad, &hess);
  // The nuisances the fit moves: not fixed, not the POI or a yield, not held
  // at a bound by the gradient.
  std::vector<int> free;
  const auto& p = data.parameters();
  for (int i = 0; i < data.size(); ++i) {
    if (p[i].fixed || i == poi_ || std::find(yield_index_.begin(), yield_index_.end(), i) != yield_index_.end()) continue;
    const double tol = 1e-9 * (1.0 + std::abs(x[i]));
    if ((x[i] <= p[i].lower + tol && grad[i] >= 0) || (x[i] >= p[i].upper - tol && grad[i] <= 0)) continue;
    free.push_back(i);
  }
  const int K = dimension(), F = int(free.size());
  Eigen::MatrixXd h_ss(K, K), h_sf(K, F), h_ff(F, F);
  Eigen::VectorXd g_s(K), g_f(F);
  for (int a = 0; a < K; ++a) {
    g_s[a] = grad[yield_index_[a]];
    for (int b = 0; b < K; ++b) h_ss(a, b) = hess(yield_index_[a], yield_index_[b]);
    for (int b = 0; b < F; ++b) h_sf(a, b) = hess(yield_index_[a], free[b]);
  }
  for (int a = 0; a < F; ++a) {
    g_f[a] = grad[free[a]];
    for (int b = 0; b < F; ++b) h_ff(a, b) = hess(free[a], free[b]);
  }
  Expansion e;
  e.gradient = g_s;
  e.hessian = h_ss;
  if (F > 0) {
    // H_ff^-1 on its positive eigenvalues (a direction the data and
    // constraints leave flat, e.g. an unconstrained factor of an empty
    // bin, does not move with s); a negative one means no minimum.
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(0.5 * (h_ff + h_ff.transpose()));
    const Eigen::VectorXd lambda = eigen.eigenvalues();
    const double largest = std::max(lambda.cwiseAbs().maxCoeff(), 1e-300);
    if (eigen.info() != Eigen::Success || lambda.minCoeff() < -1e-8 * largest)
      throw InputError(file_, "observations", "the background-only minimum is not a proper minimum: no expansion at s = 0");
    Eigen::VectorXd inverse = Eigen::VectorXd::Zero(F);
    for (int i = 0; i < F; ++i)
      if (lambda[i] > 1e-12 * largest) inverse[i] = 1.0 / lambda[i];
    const Eigen::MatrixXd& V = eigen.eigenvectors();
    const Eigen::MatrixXd h_sf_v = h_sf * V;
    // The gradient at the Newton-corrected minimum (the fit's residual
    // gradient in the nuisances removed), then the Schur complement.
    e.gradient -= h_sf_v * inverse.asDiagonal() * (V.transpose() * g_f);
    e.hessian -= h_sf_v * inverse.asDiagonal() * h_sf_v.transpose();
  }
  e.hessian = 0.5 * (e.hessian + e.hessian.transpose()).eval();
  return e;
}

std::unique_ptr<WorkspaceModel> SignalYieldLikelihood::model_at(const Eigen::VectorXd& s) const {
  if (s.size() != dimension()) throw std::invalid_argument("signal yields: wrong dimension");
  auto m = std::make_unique<WorkspaceModel>(*observed_);
  m->set_init(poi_, 1.0);
  m->set_fixed(poi_, false);
  for (int k = 0; k < dimension(); ++k) {
    m->set_init(yield_index_[k], s[k]);
    m->set_fixed(yield_index_[k], true);
  }
  return m;
}

}  // namespace refinery::stats
