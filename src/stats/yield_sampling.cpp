#include "src/stats/yield_sampling.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "src/core/error.h"
#include "src/core/random_seed.h"
#include "src/core/worker_threads.h"

namespace refinery::stats {

bool YieldSamplingOptions::IsValid(std::string* error) const {
  auto fail = [&](const char* what) {
    if (error) *error = what;
    return false;
  };
  if (points < 1 || points > 100000000) return fail("points must lie in [1, 1e8]");
  if (!(ray_fraction >= 0.0 && ray_fraction <= 1.0)) return fail("ray fraction must lie in [0, 1]");
  if (points_per_ray < 1 || points_per_ray > 100000) return fail("points per ray must lie in [1, 1e5]");
  if (chains < 1 || chains > 100000) return fail("chains must lie in [1, 1e5]");
  if (!(reach > 0.0 && reach <= 1e4)) return fail("reach must lie in (0, 1e4]");
  return true;
}

namespace {

struct Point {
  Eigen::VectorXd s;
  double obs, asimov;
  std::uint8_t source;
};

// The labels of one stream of nearby points (a ray or a chain), each fit
// started from the previous minimum.
class Walker {
 public:
  Walker(const SignalYieldLikelihood& l, std::atomic<std::int64_t>& done, std::atomic<std::int64_t>& failed,
         const std::function<void(std::int64_t)>& progress)
      : l_(l), done_(done), failed_(failed), progress_(progress) {}
  // Labels s, the fits started from the last labelled point's minima (or
  // from `from`'s when given); false (and nothing kept) when a fit fails.
  bool label(const Eigen::VectorXd& s, std::uint8_t source, std::vector<Point>* out, double* obs, double* asimov,
             const Walker* from = nullptr) {
    const Walker& w = from ? *from : *this;
    const auto o = l_.observed(s, w.warm_obs_.size() ? &w.warm_obs_ : nullptr);
    const auto a = o.ok ? l_.asimov(s, w.warm_asimov_.size() ? &w.warm_asimov_ : nullptr) : o;
    if (!o.ok || !a.ok) {
      ++failed_;
      return false;
    }
    warm_obs_ = o.best;
    warm_asimov_ = a.best;
    out->push_back({s, o.nll, a.nll, source});
    *obs = o.nll;
    *asimov = a.nll;
    const std::int64_t n = ++done_;
    if (progress_) progress_(n);
    return true;
  }
  // Continues from another walker's last minima.
  void adopt(const Walker& other) {
    warm_obs_ = other.warm_obs_;
    warm_asimov_ = other.warm_asimov_;
  }

 private:
  const SignalYieldLikelihood& l_;
  std::atomic<std::int64_t>& done_;
  std::atomic<std::int64_t>& failed_;
  const std::function<void(std::int64_t)>& progress_;
  Eigen::VectorXd warm_obs_, warm_asimov_;
};

// One finished ray or chain: its points and counters (the journal's unit).
struct Unit {
  std::int64_t failed = 0, accepted = 0, counted = 0;
  double extra = 0.0;  // an axis ray's t_max
  int reached = 0;     // whether an axis ray reached the reach
  std::vector<Point> points;
};

// The journal of a resumable run: a header line naming the run, then one
// line per finished unit, "U kind index failed accepted counted extra
// reached n", the n points (K yields, the two NLLs, the source) and "E".
// Lines are appended whole and flushed as units finish; a last line cut by
// a kill lacks its "E" and is ignored.
class Journal {
 public:
  Journal(const std::string& path, const std::string& header, int K) : path_(path), K_(K) {
    if (path.empty()) return;
    // One run per journal: a second run with the same output would
    // interleave its units with the first's (an advisory lock, held while
    // this object lives; released by the kernel when a run dies).
    // (A member: released even where this constructor throws below.)
    lock_.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_.fd < 0) throw InputError(path, "", "cannot write the journal");
    if (::flock(lock_.fd, LOCK_EX | LOCK_NB) != 0) {
      throw InputError(path, "", "another run is writing this journal (a second run with the same --out): wait for it, or "
                                 "choose another --out");
    }
    std::ifstream in(path);
    bool fresh = true;
    if (in) {
      std::string line;
      if (std::getline(in, line) && !line.empty()) {
        if (line != header)
          throw InputError(path, "header",
                           "a journal of another run (other workspace, template, seed or options): remove it to start "
                           "afresh, or rerun with the options it was made with");
        fresh = false;
        while (std::getline(in, line)) read_unit(line);
      }
    }
    out_ = std::fopen(path.c_str(), fresh ? "w" : "a");
    if (!out_) throw InputError(path, "", "cannot write the journal");
    if (fresh) std::fprintf(out_, "%s\n", header.c_str());
    std::fflush(out_);
  }
  ~Journal() {
    if (out_) std::fclose(out_);
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const Unit* find(int kind, std::int64_t index) const {
    auto it = units_.find({kind, index});
    return it == units_.end() ? nullptr : &it->second;
  }
  std::int64_t loaded_units() const { return std::int64_t(units_.size()); }
  std::int64_t loaded_points() const {
    std::int64_t n = 0;
    for (const auto& entry : units_) n += std::int64_t(entry.second.points.size());
    return n;
  }
  void append(int kind, std::int64_t index, const Unit& u) {
    if (!out_) return;
    std::string line;
    char b[64];
    std::snprintf(b, sizeof b, "U %d %lld %lld %lld %lld %.17g %d %zu", kind, (long long)index, (long long)u.failed,
                  (long long)u.accepted, (long long)u.counted, u.extra, u.reached, u.points.size());
    line += b;
    for (const Point& p : u.points) {
      for (int k = 0; k < K_; ++k) {
        std::snprintf(b, sizeof b, " %.17g", p.s[k]);
        line += b;
      }
      std::snprintf(b, sizeof b, " %.17g %.17g %d", p.obs, p.asimov, int(p.source));
      line += b;
    }
    line += " E\n";
    std::lock_guard<std::mutex> lock(mutex_);
    if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fflush(out_) != 0)
      throw InputError(path_, "", "cannot write the journal (disk full?)");
  }

 private:
  void read_unit(const std::string& line) {
    std::istringstream in(line);
    std::string tag;
    int kind = 0, reached = 0;
    long long index = 0, failed = 0, accepted = 0, counted = 0;
    std::size_t n = 0;
    Unit u;
    if (!(in >> tag >> kind >> index >> failed >> accepted >> counted >> u.extra >> reached >> n) || tag != "U") return;
    u.failed = failed, u.accepted = accepted, u.counted = counted, u.reached = reached;
    for (std::size_t i = 0; i < n; ++i) {
      Point p{Eigen::VectorXd(K_), 0.0, 0.0, 0};
      int source = 0;
      for (int k = 0; k < K_; ++k)
        if (!(in >> p.s[k])) return;
      if (!(in >> p.obs >> p.asimov >> source)) return;
      p.source = std::uint8_t(source);
      u.points.push_back(std::move(p));
    }
    std::string end;
    if (!(in >> end) || end != "E") return;  // cut by a kill: computed again
    units_[{kind, std::int64_t(index)}] = std::move(u);
  }

  std::string path_;
  int K_;
  std::FILE* out_ = nullptr;
  struct Lock {  // the run's lock on the journal, held by its open descriptor
    int fd = -1;
    ~Lock() {
      if (fd >= 0) ::close(fd);
    }
  } lock_;
  std::mutex mutex_;
  std::map<std::pair<int, std::int64_t>, Unit> units_;
};

// A point of the simplex, uniform (normalised exponentials).
Eigen::VectorXd simplex_point(int k, std::mt19937_64& rng) {
  std::exponential_distribution<double> e(1.0);
  Eigen::VectorXd u(k);
  for (int i = 0; i < k; ++i) u[i] = e(rng);
  return u / u.sum();
}

}  // namespace

YieldPoints sample_yields(const SignalYieldLikelihood& l, const YieldSamplingOptions& o,
                          const std::function<void(std::int64_t)>& progress) {
  std::string why;
  if (!o.IsValid(&why)) throw std::invalid_argument("yield sampling: " + why);
  const int K = l.dimension();
  const double f0_obs = l.background_observed(), f0_a = l.background_asimov();
  std::atomic<std::int64_t> done{0}, failed{0};
  std::string header;
  {
    char b[512];
    std::snprintf(b, sizeof b,
                  "refinery-yield-journal-1 K=%d points=%lld ray_fraction=%.17g points_per_ray=%d chains=%d reach=%.17g "
                  "seed=%llu f0_observed=%.17g f0_asimov=%.17g",
                  K, (long long)o.points, o.ray_fraction, o.points_per_ray, o.chains, o.reach,
                  (unsigned long long)o.seed, f0_obs, f0_a);
    header = b;
    for (const auto& name : l.bin_names()) header += " " + name;
    if (!o.journal_identity.empty()) header += " identity=" + o.journal_identity;
  }
  Journal journal(o.journal, header, K);
  // A unit from the journal, or computed (and then journalled): `compute`
  // fills the unit's points and counters, its failures counted in `unit_failed`.
  auto run_unit = [&](int kind, std::int64_t index, const std::function<void(Unit&, std::atomic<std::int64_t>&)>& compute) {
    if (const Unit* u = journal.find(kind, index)) {
      done += std::int64_t(u->points.size());
      failed += u->failed;
      if (progress) progress(done.load());
      return *u;
    }
    Unit u;
    std::atomic<std::int64_t> unit_failed{0};
    compute(u, unit_failed);
    u.failed = unit_failed.load();
    failed += u.failed;
    journal.append(kind, index, u);
    return u;
  };

  // Twice the NLL above the background-only minima (observed: above the
  // lowest value seen on the way, for an excess).
  auto rise = [&](double obs, double asimov, double lowest_obs) {
    return std::max(2.0 * (obs - std::min(f0_obs, lowest_obs)), 2.0 * (asimov - f0_a));
  };
  // A ray t * d: doubling and bisection to where the rise crosses the reach,
  // then points uniform in [0, t_max]. Returns t_max; *reached says whether
  // the rise crossed the reach (the doubling stops at 2^25 / 4 ~ 8e6 events).
  auto ray = [&](const Eigen::VectorXd& d, std::mt19937_64& rng, std::vector<Point>* out, bool* reached,
                 std::atomic<std::int64_t>& failed_here) {
    Walker w(l, done, failed_here, progress);
    double lowest = f0_obs, obs, asimov;
    double lo = 0.0, hi = 0.25;
    bool crossed = false;
    for (int k = 0; k < 26 && !crossed; ++k) {
      if (!w.label(hi * d, 0, out, &obs, &asimov)) break;
      lowest = std::min(lowest, obs);
      if (rise(obs, asimov, lowest) >= o.reach) crossed = true;
      else {
        lo = hi;
        hi *= 2.0;
      }
    }
    if (!crossed) hi = lo > 0.0 ? lo : hi;
    for (int k = 0; k < 4 && crossed; ++k) {
      const double mid = 0.5 * (lo + hi);
      if (!w.label(mid * d, 0, out, &obs, &asimov)) break;
      lowest = std::min(lowest, obs);
      (rise(obs, asimov, lowest) >= o.reach ? hi : lo) = mid;
    }
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> ts(o.points_per_ray);
    for (double& t : ts) t = hi * u(rng);
    std::sort(ts.begin(), ts.end());
    Walker fresh(l, done, failed_here, progress);
    for (double t : ts) fresh.label(t * d, 0, out, &obs, &asimov);
    if (reached) *reached = crossed;
    return hi;
  };

  YieldPoints result;
  // 1. Each bin's scale: the axis rays with unit direction.
  std::vector<std::vector<Point>> axis(K);
  result.scale.resize(K);
  std::vector<char> reached(K, 0);
  parallel_for(K, [&](std::int64_t k) {
    Unit u = run_unit(0, k, [&](Unit& unit, std::atomic<std::int64_t>& failed_here) {
      std::mt19937_64 rng(stream_seed(o.seed, {0, std::uint64_t(k)}));
      Eigen::VectorXd d = Eigen::VectorXd::Zero(K);
      d[k] = 1.0;
      bool r = false;
      unit.extra = ray(d, rng, &unit.points, &r, failed_here);
      unit.reached = r;
    });
    result.scale[k] = u.extra;
    reached[k] = char(u.reached);
    axis[k] = std::move(u.points);
  });
  for (int k = 0; k < K; ++k)
    if (!reached[k] || !(result.scale[k] > 0.0) || !std::isfinite(result.scale[k]))
      throw InputError("", "signal template",
                       "bin " + l.bins()[k].name() + ": a signal there alone never raises twice the NLL by the reach (" +
                           std::to_string(o.reach) + ", tried up to " + std::to_string(result.scale[k]) +
                           " events): the likelihood does not constrain it; leave it out of the template");

  // 2. Rays in random directions.
  const std::int64_t axis_points = done.load();
  const std::int64_t ray_target = std::max<std::int64_t>(0, std::llround(o.points * o.ray_fraction) - axis_points);
  const std::int64_t rays = (ray_target + o.points_per_ray + 5) / (o.points_per_ray + 6);
  std::vector<std::vector<Point>> ray_points(rays);
  parallel_for(rays, [&](std::int64_t r) {
    ray_points[r] = run_unit(1, r, [&](Unit& unit, std::atomic<std::int64_t>& failed_here) {
                      std::mt19937_64 rng(stream_seed(o.seed, {1, std::uint64_t(r)}));
                      const Eigen::VectorXd d = simplex_point(K, rng).cwiseProduct(result.scale);
                      ray(d, rng, &unit.points, nullptr, failed_here);
                    }).points;
  });

  // 3. Chains. The region's shape from the ray points inside the reach: its
  // covariance shapes the proposals (the region is far from axis-aligned
  // where a signal in one bin can be absorbed by a background
  // normalisation), and the chains start at such points.
  std::vector<const Point*> inside;
  for (const auto* group : {&axis, &ray_points})
    for (const auto& v : *group)
      for (const auto& p : v)
        if (std::max(2.0 * (p.obs - f0_obs), 2.0 * (p.asimov - f0_a)) <= o.reach) inside.push_back(&p);
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(K, K);
  Eigen::VectorXd centre = Eigen::VectorXd::Zero(K);
  for (const Point* p : inside) centre += p->s / double(inside.size());
  for (const Point* p : inside) cov += (p->s - centre) * (p->s - centre).transpose() / double(inside.size());
  for (int k = 0; k < K; ++k) cov(k, k) += 1e-6 * result.scale[k] * result.scale[k];
  if (inside.size() < std::size_t(2 * K)) cov = result.scale.array().square().matrix().asDiagonal();
  const Eigen::MatrixXd shape = Eigen::LLT<Eigen::MatrixXd>(cov).matrixL();
  // The chains' domain: the ellipsoid (in the ray cloud's metric) 1.5 times
  // as far out as the farthest ray point inside the reach. The target is
  // truncated there (exact Metropolis-Hastings for the truncated target);
  // a proposal outside is rejected without a fit: such points lie far
  // beyond the reach, cost the slowest fits and teach the surrogate little.
  double radius = 0.0;
  for (const Point* p : inside)
    radius = std::max(radius, shape.triangularView<Eigen::Lower>().solve(p->s - centre).norm());
  radius = radius > 0.0 ? 1.5 * radius : std::numeric_limits<double>::infinity();
  auto in_domain = [&](const Eigen::VectorXd& x) {
    return shape.triangularView<Eigen::Lower>().solve(x - centre).norm() <= radius;
  };
  const std::int64_t chain_target = std::max<std::int64_t>(0, o.points - done.load());
  const int chains = chain_target > 0 ? o.chains : 0;
  const std::int64_t steps = chains > 0 ? std::max<std::int64_t>(1, chain_target / chains) : 0;
  const double T = o.reach / (2.0 * K);
  std::vector<std::vector<Point>> chain_points(chains);
  std::vector<std::int64_t> accepted(chains, 0), counted(chains, 0);
  parallel_for(chains, [&](std::int64_t c) {
    Unit done_unit = run_unit(2, c, [&](Unit& unit, std::atomic<std::int64_t>& failed_here) {
    std::mt19937_64 rng(stream_seed(o.seed, {2, std::uint64_t(c)}));
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    Walker w(l, done, failed_here, progress);
    auto& out = unit.points;
    Eigen::VectorXd s = inside.empty() ? Eigen::VectorXd(0.3 * simplex_point(K, rng).cwiseProduct(result.scale))
                                       : inside[std::min<std::size_t>(inside.size() - 1, std::size_t(u(rng) * inside.size()))]->s;
    double obs, asimov;
    for (int tries = 0; tries < 20 && !w.label(s, 1, &out, &obs, &asimov); ++tries) s *= 0.5;
    if (out.empty()) return;
    double log_target = -std::max(obs - f0_obs, asimov - f0_a) / T;
    // A random walk's best step is about 2.38 / sqrt(K) of the target's
    // width (Gelman, Roberts, Gilks 1996); the tempered target is narrower
    // than the region: start at half that, then adapt.
    double step = 1.19 / std::sqrt(double(K));
    const std::int64_t burn_in = std::max<std::int64_t>(steps / 10, std::min<std::int64_t>(steps / 2, 200));
    std::int64_t window = 0, window_accepted = 0;
    // Until the chain has labelled its share (proposals outside the domain count as rejected steps).
    for (std::int64_t i = 1; std::int64_t(out.size()) < steps && i < 20 * steps; ++i) {
      Eigen::VectorXd proposal(K);
      // Reflected at 0: a symmetric proposal on s >= 0.
      Eigen::VectorXd z(K);
      for (int k = 0; k < K; ++k) z[k] = g(rng);
      proposal = (s + step * (shape * z)).cwiseAbs();
      bool accept = false;
      double po, pa;
      // The proposal's fits start from the chain's current state (a rejected
      // far proposal's minimum would be a poor start).
      Walker trial = w;
      if (in_domain(proposal) && trial.label(proposal, 1, &out, &po, &pa, &w)) {
        const double lt = -std::max(po - f0_obs, pa - f0_a) / T;
        if (std::log(u(rng)) < lt - log_target) {
          accept = true;
          s = proposal;
          log_target = lt;
          w.adopt(trial);
        }
      }
      ++window;
      window_accepted += accept;
      if (i > burn_in) {
        ++unit.counted;
        unit.accepted += accept;
      } else if (window == 20) {  // adapt the proposal's size towards an acceptance of 0.3
        step *= std::exp(double(window_accepted) / window - 0.3);
        window = window_accepted = 0;
      }
    }
    });
    accepted[c] = done_unit.accepted;
    counted[c] = done_unit.counted;
    chain_points[c] = std::move(done_unit.points);
  });

  std::int64_t n = 0;
  for (const auto& v : axis) n += std::int64_t(v.size());
  for (const auto& v : ray_points) n += std::int64_t(v.size());
  for (const auto& v : chain_points) n += std::int64_t(v.size());
  result.yields.resize(n, K);
  result.nll_observed.resize(n);
  result.nll_asimov.resize(n);
  result.source.reserve(n);
  std::int64_t i = 0;
  for (const auto* group : {&axis, &ray_points, &chain_points})
    for (const auto& v : *group)
      for (const auto& p : v) {
        result.yields.row(i) = p.s.transpose();
        result.nll_observed[i] = p.obs;
        result.nll_asimov[i] = p.asimov;
        result.source.push_back(p.source);
        ++i;
      }
  result.failed = failed.load();
  result.resumed_units = journal.loaded_units();
  result.resumed_points = journal.loaded_points();
  std::int64_t acc = 0, cnt = 0;
  for (int c = 0; c < chains; ++c) {
    acc += accepted[c];
    cnt += counted[c];
  }
  result.acceptance = cnt > 0 ? double(acc) / double(cnt) : 0.0;
  return result;
}

}  // namespace refinery::stats
