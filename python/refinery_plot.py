"""Figures of refinery's results, in the field's conventions (`refinery plot`).

Usage (Debian's python3 with matplotlib; `refinery plot` calls it):
  refinery_plot.py KIND RESULT.json OUT.{png,pdf,svg} [--region NAME] [--prefit]

KIND and the result it reads:
  distributions  `refinery yields`: stacked processes, data with Poisson
                 errors, hatched uncertainty band, data / prediction panel
  pulls          `refinery fit` or `impacts`: (theta_hat - centre) / pre-fit error
                 with the constraint (post-fit / pre-fit error) of each
                 constrained parameter
  correlation    `refinery fit`: the correlation matrix of the free parameters
  impacts        `refinery impacts`: ranked impacts on the POI (pulls left,
                 pre- and post-fit impacts right)
  scan           `refinery scan` (1D): t(poi) with the 68.27% / 95% lines
  contour        `refinery scan --poi2`: t on the grid, the 68.27% / 95%
                 contours (2 degrees of freedom)
  gof            `refinery gof`: the toys' statistic and the observed value
  teststat       `refinery hypotest --calculator toybased`: the test
                 statistic under both hypotheses and the observed value
  brazil         `refinery limit --scan LO:HI:N`: CLs against the POI, observed
                 and expected with the +-1 and +-2 sigma bands, the level
  coverage       `refinery toys` (its summary OUT.csv.json, the CSV next to it):
                 coverage against mu_true with binomial errors, pull histogram
  reliability    `refinery train classifier` (OUT.json): reliability curves per
                 class on the test events, before and after calibration
  training       a training report (`train classifier` OUT.json, `train dcr`):
                 training and validation loss per epoch, the best epoch
  closure        `refinery closure`: learned / simulated per bin, per
                 nu-point and feature, with chi2/ndf and the verdict
  exclusion      `refinery contour`: the signal points and the observed and
                 expected (+-1, +-2 sigma) CLs = level contours

Next to the figure, OUT.series.json lists what was drawn (kind, size in
pixels, each series' name, type, count and ranges): tests compare it with
the result file. Bad input (a result of the wrong kind, an unknown region)
is one line on stderr and exit 2; the figure is written atomically.
"""
import json
import math
import os
import sys
import tempfile

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import numpy as np
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "refinery plot: error: needs Debian's python3-matplotlib and python3-numpy "
        "(scripts/setup --plot): %s\n" % e
    )
    sys.exit(1)

DPI = 100


class InputError(Exception):
    """Bad input: reported as one line, exit 2."""


def style():
    """A clean HEP style: ticks inside on all four sides, minor ticks, no grid."""
    plt.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.size": 11,
            "axes.labelsize": 12,
            "axes.linewidth": 1.0,
            "xtick.direction": "in",
            "ytick.direction": "in",
            "xtick.top": True,
            "ytick.right": True,
            "xtick.minor.visible": True,
            "ytick.minor.visible": True,
            "xtick.major.size": 6,
            "ytick.major.size": 6,
            "xtick.minor.size": 3,
            "ytick.minor.size": 3,
            "legend.frameon": False,
            "legend.fontsize": 10,
            "savefig.dpi": DPI,
        }
    )


def label(ax, text):
    """The experiment-style label in the top-left corner."""
    ax.text(0.03, 0.96, "refinery", transform=ax.transAxes, fontweight="bold", fontstyle="italic", va="top")
    ax.text(0.03, 0.90, text, transform=ax.transAxes, va="top", fontsize=10)


class Series:
    """What a figure drew, for the sidecar."""

    def __init__(self):
        self.items = []

    def add(self, name, kind, x=None, y=None, **extra):
        item = {"name": name, "type": kind}
        for key, values in (("y", y), ("x", x)):  # n: the count of x where given
            if values is None:
                continue
            flat = [a for a in np.ravel(np.array(values, dtype=object)) if a is not None]
            v = [float(a) for a in flat if np.isfinite(float(a))]
            item["n"] = len(np.ravel(np.array(values, dtype=object)))
            item[key + "_range"] = [min(v), max(v)] if v else None
        item.update(extra)
        self.items.append(item)


def need(result, keys, kind, path):
    for k in keys:
        if k not in result:
            raise InputError("%s: %s: not in the file: a %s figure needs the result of %s" % (path, k, kind, SOURCES[kind]))


# ---------------------------------------------------------------- Poisson errors


def poisson_cdf(n, lam):
    """P(N <= n) for N ~ Poisson(lam), summed in logs."""
    if lam <= 0:
        return 1.0
    return sum(math.exp(k * math.log(lam) - lam - math.lgamma(k + 1)) for k in range(int(n) + 1))


def bisect(f, lo, hi):
    """The root of a function that is positive below it and negative above."""
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def garwood(n, cl=0.682689492137):
    """The central Poisson interval of an observed count n (Garwood,
    Biometrika 28 (1936) 437): exact sums up to n = 100, above that the
    Wilson-Hilferty approximation of the chi-square quantiles it equals
    (lower = chi2(alpha/2; 2n) / 2, upper = chi2(1 - alpha/2; 2n + 2) / 2)."""
    alpha = 1.0 - cl
    if n > 100:
        z = -math.sqrt(2.0) * erfcinv(alpha)  # the normal quantile of alpha / 2

        def chi2(p_z, k):
            return k * (1.0 - 2.0 / (9.0 * k) + p_z * math.sqrt(2.0 / (9.0 * k))) ** 3

        return 0.5 * chi2(z, 2 * n), 0.5 * chi2(-z, 2 * n + 2)
    upper = bisect(lambda lam: poisson_cdf(n, lam) - alpha / 2, n, n + 20 * math.sqrt(n + 1) + 20)
    if n <= 0:
        return 0.0, upper
    lower = bisect(lambda lam: alpha / 2 - (1.0 - poisson_cdf(n - 1, lam)), 0.0, n)
    return lower, upper


def erfcinv(y):
    """x with erfc(x) = y, by bisection (0 < y < 2)."""
    return bisect(lambda x: math.erfc(x) - y, -10.0, 10.0)


# ---------------------------------------------------------------- figures


def distributions(result, path, series, region=None, prefit=False):
    need(result, ["prefit", "data"], "distributions", path)
    which = "prefit" if prefit or "postfit" not in result else "postfit"
    rows = result[which]
    regions = []
    for r in rows:
        if r["region"] not in regions:
            regions.append(r["region"])
    if region is not None:
        if region not in regions:
            raise InputError("%s: --region: no region '%s' (regions: %s)" % (path, region, ", ".join(regions)))
        regions = [region]
    data = {d["region"]: d["bins"] for d in result["data"]}
    fig = plt.figure(figsize=(5.0 * len(regions), 5.5))
    grid = fig.add_gridspec(2, len(regions), height_ratios=[3, 1], hspace=0.0, wspace=0.3)
    colours = plt.get_cmap("tab10")
    processes = []
    for r in rows:
        if r["process"] != "total" and r["process"] not in processes:
            processes.append(r["process"])
    for c, reg in enumerate(regions):
        top = fig.add_subplot(grid[0, c])
        bottom = fig.add_subplot(grid[1, c], sharex=top)
        mine = [r for r in rows if r["region"] == reg]
        total = next(r for r in mine if r["process"] == "total")
        nb = len(total["bins"])
        edges = np.arange(nb + 1, dtype=float)
        binning = result.get("binning")
        in_variable = binning is not None and reg in binning.get("regions", []) and len(binning["edges"]) == nb + 1
        if in_variable:
            edges = np.array(binning["edges"], dtype=float)
            if nb > 1 and edges[-1] - edges[-2] > 10 * (edges[-2] - edges[-3] if nb > 2 else 1.0):
                edges[-1] = edges[-2] + (edges[-2] - edges[-3] if nb > 2 else 1.0)  # an open last bin, drawn as wide as its neighbour
            if nb > 1 and edges[1] - edges[0] > 10 * (edges[2] - edges[1]):
                edges[0] = edges[1] - (edges[2] - edges[1])
        widths = np.diff(edges)
        base = np.zeros(nb)
        for r in mine:
            if r["process"] == "total":
                continue
            y = np.array(r["bins"], dtype=float)
            top.bar(edges[:-1], y, width=widths, bottom=base, align="edge", color=colours(processes.index(r["process"]) % 10),
                    edgecolor="black", linewidth=0.5, label=r["process"])
            series.add("%s/%s" % (reg, r["process"]), "stacked_bars", x=edges[:-1], y=y)
            base = base + y
        tot = np.array(total["bins"], dtype=float)
        err = np.array(total.get("errors", [0.0] * nb), dtype=float)
        top.bar(edges[:-1], 2 * err, width=widths, bottom=tot - err, align="edge", fill=False, hatch="////",
                edgecolor="0.3", linewidth=0.0, label="uncertainty")
        series.add("%s/uncertainty" % reg, "band", x=edges[:-1], y=err)
        n = np.array(data.get(reg, [np.nan] * nb), dtype=float)
        intervals = [garwood(v) for v in n]
        lo = np.array([v - a for v, (a, b) in zip(n, intervals)])
        hi = np.array([b - v for v, (a, b) in zip(n, intervals)])
        centres = edges[:-1] + 0.5 * widths
        top.errorbar(centres, n, yerr=[lo, hi], fmt="o", color="black", markersize=4, label="data")
        series.add("%s/data" % reg, "points", x=centres, y=n)
        top.set_ylim(0, 1.45 * max(np.nanmax(n + hi), np.max(tot + err)))
        top.set_ylabel("events / bin")
        top.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=6, prune="lower"))
        label(top, "%s, %s" % (reg, "post-fit" if which == "postfit" else "pre-fit"))
        top.legend(loc="upper right")
        plt.setp(top.get_xticklabels(), visible=False)
        safe = np.where(tot > 0, tot, np.nan)
        bottom.bar(edges[:-1], 2 * err / safe, width=widths, bottom=1 - err / safe, align="edge", fill=False, hatch="////",
                   edgecolor="0.3", linewidth=0.0)
        bottom.errorbar(centres, n / safe, yerr=[lo / safe, hi / safe], fmt="o", color="black", markersize=4)
        series.add("%s/ratio" % reg, "points", x=centres, y=n / safe)
        bottom.axhline(1.0, color="0.4", linestyle="--", linewidth=1)
        bottom.set_ylim(0.5, 1.5)
        bottom.set_yticks([0.6, 1.0, 1.4])
        bottom.set_ylabel("data / pred.")
        bottom.set_xlabel(binning["variable"] if in_variable else "bin")
        bottom.set_xlim(edges[0], edges[-1])
    return fig


def constrained_rows(result, path, kind):
    need(result, ["parameters", "fit"], kind, path)
    fitted = {p["name"]: p for p in result["fit"]["parameters"]}
    rows = []
    for p in result["parameters"]:
        if p["constraint"] == "none" or p["fixed"] or p["prefit_error"] <= 0 or p["name"] not in fitted:
            continue
        f = fitted[p["name"]]
        rows.append((p["name"], (f["value"] - p["centre"]) / p["prefit_error"], f["error"] / p["prefit_error"]))
    return rows


def pulls(result, path, series):
    rows = constrained_rows(result, path, "pulls")
    if not rows:
        raise InputError("%s: parameters: the model has no constrained parameter to show a pull of" % path)
    fig, ax = plt.subplots(figsize=(6.4, max(3.0, 0.35 * len(rows) + 1.5)))
    y = np.arange(len(rows))[::-1]
    ax.axvspan(-2, 2, color="#ffe066", zorder=0)
    ax.axvspan(-1, 1, color="#7bd17b", zorder=0)
    ax.errorbar([r[1] for r in rows], y, xerr=[r[2] for r in rows], fmt="o", color="black", markersize=4)
    series.add("pulls", "points", x=[r[1] for r in rows], y=y, names=[r[0] for r in rows],
               constraints=[r[2] for r in rows])
    ax.set_yticks(y)
    ax.set_yticklabels([r[0] for r in rows])
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # one row per parameter: no minor ticks
    ax.set_xlim(-3, 3)
    ax.set_ylim(-1, len(rows))
    ax.set_xlabel(r"$(\hat\theta - \theta_0) / \Delta\theta$")
    fig.tight_layout()
    return fig


def correlation(result, path, series):
    need(result, ["fit"], "correlation", path)
    fit = result["fit"]
    if "correlation" not in fit:
        raise InputError("%s: fit.correlation: not in the file (the fit has no covariance)" % path)
    names = [p["name"] for p in fit["parameters"] if not p.get("fixed")]
    c = np.array(fit["correlation"], dtype=float)
    if c.shape != (len(names), len(names)):
        names = [p["name"] for p in fit["parameters"]][: c.shape[0]]
    size = max(4.8, 0.45 * len(names) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(c, cmap="RdBu_r", vmin=-1, vmax=1)
    fig.colorbar(image, ax=ax, label="correlation")
    series.add("correlation", "matrix", x=np.arange(len(names)), y=c, names=names)
    ax.set_xticks(range(len(names)))
    ax.set_yticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90)
    ax.set_yticklabels(names)
    ax.minorticks_off()
    if len(names) <= 12:
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, "%.2f" % c[i, j], ha="center", va="center", fontsize=8,
                        color="white" if abs(c[i, j]) > 0.6 else "black")
    fig.tight_layout()
    return fig


def impacts(result, path, series):
    need(result, ["impacts", "parameters"], "impacts", path)
    im = result["impacts"]
    rows = im["impacts"]
    if not rows:
        raise InputError("%s: impacts.impacts: no nuisance parameter to rank" % path)
    table = {p["name"]: p for p in result["parameters"]}
    fig, (left, right) = plt.subplots(1, 2, sharey=True, figsize=(9.0, max(4.0, 0.4 * len(rows) + 1.6)),
                                      gridspec_kw={"width_ratios": [1, 1.3], "wspace": 0.05})
    y = np.arange(len(rows))[::-1]
    pull, width = [], []
    for r in rows:
        p = table.get(r["name"], {})
        pre = r["prefit_error"] if r["prefit_error"] > 0 else None
        centre = p.get("centre", 0.0)
        pull.append((r["nu_hat"] - centre) / pre if pre else np.nan)
        width.append(r["nu_error"] / pre if pre else np.nan)
    left.axvspan(-2, 2, color="#ffe066", zorder=0)
    left.axvspan(-1, 1, color="#7bd17b", zorder=0)
    left.errorbar(pull, y, xerr=width, fmt="o", color="black", markersize=4)
    series.add("pulls", "points", x=pull, y=y, names=[r["name"] for r in rows])
    left.set_xlim(-3, 3)
    left.set_xlabel(r"$(\hat\theta - \theta_0) / \Delta\theta$")
    left.set_yticks(y)
    left.set_yticklabels([r["name"] for r in rows])
    left.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # one row per parameter: no minor ticks
    h = 0.35
    for key, colour, fill, name in (("prefit", "#4a90d9", False, "pre-fit"), ("postfit", "#4a90d9", True, "post-fit")):
        up = np.array([r[key + "_up"] for r in rows])
        down = np.array([r[key + "_down"] for r in rows])
        kw = dict(height=h, color=colour if fill else "none", edgecolor=colour, linewidth=1.2)
        right.barh(y, up, label=r"%s $+1\sigma$" % name, **kw)
        kw2 = dict(kw)
        kw2["color"] = "#d9534f" if fill else "none"
        kw2["edgecolor"] = "#d9534f"
        right.barh(y, down, label=r"%s $-1\sigma$" % name, **kw2)
        series.add(name + "_impacts", "bars", x=np.concatenate([up, down]), y=y, names=[r["name"] for r in rows])
    right.axvline(0, color="black", linewidth=0.8)
    right.set_xlabel(r"$\Delta\hat\mu$ (%s)" % im["poi"])
    right.legend(loc="lower right", fontsize=8)
    right.set_title(r"$\hat{%s} = %.3g \pm %.2g$" % ("\\mu", im["mu_hat"], im["mu_error"]), fontsize=10)
    fig.subplots_adjust(left=0.25, right=0.97, bottom=0.15, top=0.9)
    return fig


def scan(result, path, series):
    need(result, ["scan"], "scan", path)
    s = result["scan"]
    if len(s["parameters"]) != 1:
        raise InputError("%s: scan.parameters: a 2D scan: use the contour figure" % path)
    pts = [p for p in s["points"] if p["converged"]]
    x = np.array([p["value"] for p in pts])
    t = np.array([p["t"] for p in pts])
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.plot(x, t, "-", color="black", label="profile likelihood")
    ax.plot(x, t, "o", color="black", markersize=3)
    series.add("t", "line", x=x, y=t)
    for level, text in ((1.0, "68.27%"), (3.8414588206941236, "95%")):
        ax.axhline(level, color="0.5", linestyle="--", linewidth=1)
        ax.text(x.max(), level, " " + text, va="bottom", ha="right", color="0.3", fontsize=9)
    for key, colour in (("interval_68", "#2a7ab9"), ("interval_95", "#d98c1a")):
        iv = result.get(key)
        if iv and iv["lower"]["found"] and iv["upper"]["found"]:
            for side in ("lower", "upper"):
                ax.axvline(iv[side]["value"], color=colour, linewidth=1)
    ax.set_xlabel(s["parameters"][0])
    ax.set_ylabel(r"$t = -2\,\Delta\ln L$")
    ax.set_ylim(0, max(5.0, 1.1 * t.max()))
    label(ax, "profile scan")
    return fig


def contour(result, path, series):
    need(result, ["scan"], "contour", path)
    s = result["scan"]
    if len(s["parameters"]) != 2:
        raise InputError("%s: scan.parameters: a 1D scan: use the scan figure" % path)
    pts = s["points"]
    xs = sorted({p["value"][0] for p in pts})
    ys = sorted({p["value"][1] for p in pts})
    t = np.full((len(ys), len(xs)), np.nan)
    for p in pts:
        if p["converged"]:
            t[ys.index(p["value"][1]), xs.index(p["value"][0])] = p["t"]
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    image = ax.pcolormesh(xs, ys, t, shading="nearest", cmap="viridis_r")
    fig.colorbar(image, ax=ax, label=r"$t = -2\,\Delta\ln L$")
    levels = [2.295748928898636, 5.991464547107979]  # 68.27% and 95% for 2 degrees of freedom
    lines = ax.contour(xs, ys, t, levels=levels, colors=["white", "#d98c1a"], linewidths=1.5)
    series.add("t", "grid", x=np.array(xs), y=t)
    series.add("contours", "contour", levels=levels, paths=[len(c) for c in lines.allsegs])
    best = np.unravel_index(np.nanargmin(t), t.shape)
    ax.plot(xs[best[1]], ys[best[0]], "+", color="white", markersize=12)
    ax.set_xlabel(s["parameters"][0])
    ax.set_ylabel(s["parameters"][1])
    return fig


def hist_with_observed(ax, samples, observed, name, colour, series, bins):
    v = np.array([q for q in samples if q is not None], dtype=float)
    ax.hist(v, bins=bins, histtype="step", color=colour, linewidth=1.5, label=name)
    series.add(name, "hist", x=v)
    return v


def gof(result, path, series):
    need(result, ["gof"], "gof", path)
    g = result["gof"]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    q = np.array([v for v in g["toys"]["q"] if v is not None], dtype=float)
    if len(q) == 0:
        raise InputError("%s: gof.toys.q: no pseudo-experiment to draw (run gof with --ntoys)" % path)
    bins = np.linspace(0, max(q.max(), g["q_obs"]) * 1.05, 40)
    hist_with_observed(ax, q, g["q_obs"], "pseudo-experiments", "#2a7ab9", series, bins)
    ax.axvline(g["q_obs"], color="black", linewidth=2, label="observed")
    series.add("observed", "line", x=[g["q_obs"]])
    ax.set_xlabel(r"$q_\mathrm{saturated}$")
    ax.set_ylabel("pseudo-experiments")
    ax.legend(loc="upper right")
    label(ax, "goodness of fit, p = %.3g $\\pm$ %.2g" % (g["p_value"], g["p_value_error"] or 0.0))
    return fig


def teststat(result, path, series):
    need(result, ["toys", "q_obs", "test_stat"], "teststat", path)
    if result.get("calculator") != "toybased":
        raise InputError("%s: calculator: not a toy-based hypotest (refinery hypotest --calculator toybased)" % path)
    t = result["toys"]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    all_q = [v for v in t["null"]["q"] + t["alt"]["q"] if v is not None]
    top = max(max(all_q) if all_q else 1.0, result["q_obs"]) * 1.05 or 1.0
    bins = np.linspace(0, top, 50)
    q0 = result["test_stat"] == "q0"
    hist_with_observed(ax, t["null"]["q"], result["q_obs"], r"$\mu = %g$ (null)" % t["null"]["mu"], "#2a7ab9", series,
                       bins)
    hist_with_observed(ax, t["alt"]["q"], result["q_obs"], r"$\mu = %g$" % t["alt"]["mu"], "#d9534f", series, bins)
    ax.axvline(result["q_obs"], color="black", linewidth=2, label="observed")
    series.add("observed", "line", x=[result["q_obs"]])
    ax.set_yscale("log")
    ax.set_xlabel({"qtilde": r"$\tilde q_\mu$", "q": r"$q_\mu$", "q0": r"$q_0$"}[result["test_stat"]])
    ax.set_ylabel("pseudo-experiments")
    ax.legend(loc="upper right")
    def number(v):
        return "nan" if v is None else "%.3g" % v

    if q0:
        label(ax, "p0 = %s" % number(result["p0_obs"]))
    else:
        label(ax, "CLs = %s $\\pm$ %s" % (number(result["cls_obs"]), number(result["cls_obs_error"])))
    return fig


def exclusion(result, path, series):
    need(result, ["contours", "points", "level"], "exclusion", path)
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    pts = [p for p in result["points"] if p["status"] == "converged"]
    excluded = [p for p in pts if p["cls_obs"] < result["level"]]
    allowed = [p for p in pts if p["cls_obs"] >= result["level"]]
    for group, marker, name in ((excluded, "x", "excluded points"), (allowed, "o", "allowed points")):
        if group:
            ax.scatter([p["x"] for p in group], [p["y"] for p in group], marker=marker, s=18, color="0.5",
                       facecolors="none" if marker == "o" else None, label=name)
        series.add(name, "points", x=[p["x"] for p in group], y=[p["y"] for p in group])
    styles = (
        ("expected_m2", dict(color="#d9b400", linestyle=":", linewidth=1.2), None),
        ("expected_p2", dict(color="#d9b400", linestyle=":", linewidth=1.2), r"expected $\pm 2\sigma$"),
        ("expected_m1", dict(color="#2ca02c", linestyle="--", linewidth=1.2), None),
        ("expected_p1", dict(color="#2ca02c", linestyle="--", linewidth=1.2), r"expected $\pm 1\sigma$"),
        ("expected", dict(color="black", linestyle="--", linewidth=1.6), "expected"),
        ("observed", dict(color="#d62728", linestyle="-", linewidth=2.0), "observed"),
    )
    for key, kw, name in styles:
        lines = result["contours"].get(key, [])
        for k, line in enumerate(lines):
            xy = np.array(line, dtype=float)
            ax.plot(xy[:, 0], xy[:, 1], label=name if k == 0 else None, **kw)
        xs = [v[0] for line in lines for v in line]
        ys = [v[1] for line in lines for v in line]
        series.add(key, "contour", x=xs, y=ys, lines=len(lines))
    labels = result.get("labels", ["x", "y"])
    if pts:  # room for the legend above the points
        low, high = min(p["y"] for p in pts), max(p["y"] for p in pts)
        ax.set_ylim(low - 0.05 * (high - low), high + 0.45 * (high - low))
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(loc="upper right", fontsize=9)
    label(ax, "CLs = %g, $\\mu$ = %g" % (result["level"], result.get("mu", 1.0)))
    return fig


def brazil(result, path, series):
    need(result, ["upper_limit_obs", "upper_limit_exp", "level"], "brazil", path)
    if "scan" not in result:
        raise InputError("%s: scan: not in the file (run refinery limit with --scan LO:HI:N)" % path)
    pts = [p for p in result["scan"] if p["converged"]]
    mu = np.array([p["mu"] for p in pts])
    obs = np.array([p["cls_obs"] for p in pts])
    exp = np.array([p["cls_exp"] for p in pts])
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.fill_between(mu, exp[:, 0], exp[:, 4], color="#ffe066", label=r"expected $\pm 2\sigma$")
    ax.fill_between(mu, exp[:, 1], exp[:, 3], color="#7bd17b", label=r"expected $\pm 1\sigma$")
    ax.plot(mu, exp[:, 2], "--", color="black", label="expected")
    ax.plot(mu, obs, "-", color="black", linewidth=2, label="observed")
    ax.axhline(result["level"], color="#d62728", linewidth=1, label="CLs = %g" % result["level"])
    series.add("band_2sigma", "band", x=mu, y=np.concatenate([exp[:, 0], exp[:, 4]]))
    series.add("band_1sigma", "band", x=mu, y=np.concatenate([exp[:, 1], exp[:, 3]]))
    series.add("expected", "line", x=mu, y=exp[:, 2])
    series.add("observed", "line", x=mu, y=obs)
    if result["upper_limit_obs"] is not None:
        ax.axvline(result["upper_limit_obs"], color="0.4", linewidth=1, linestyle=":")
    series.add("upper_limit_obs", "line", x=[result["upper_limit_obs"]])
    ax.set_xlabel(result.get("poi") or "POI")
    ax.set_ylabel("CLs")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(mu.min(), mu.max())
    ax.legend(loc="upper right")
    upper = result["upper_limit_obs"]
    label(ax, "%g%% CL upper limit %s" % (100 * (1 - result["level"]), "%.3g" % upper if upper is not None else "none"))
    return fig


def coverage(result, path, series):
    need(result, ["overall", "per_mu_true"], "coverage", path)
    table = path[:-5] if path.endswith(".json") else None
    if not table or not os.path.exists(table):
        raise InputError("%s: the toys' CSV file (%s) is not next to the summary" % (path, table or path + " without .json"))
    import csv

    pulls = []
    with open(table) as f:
        for row in csv.DictReader(f):
            if row["converged"] == "1" and row["interval_ok"] == "1" and float(row["mu_error"]) > 0:
                pulls.append((float(row["mu_hat"]) - float(row["mu_true"])) / float(row["mu_error"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.5), gridspec_kw={"wspace": 0.3})
    rows = [r for r in result["per_mu_true"] if r.get("usable", 0) > 0]
    mu = [r["mu_true"] for r in rows]
    cov = [r["coverage"] for r in rows]
    err = [r["coverage_error"] for r in rows]
    left.errorbar(mu, cov, yerr=err, fmt="o", color="black", markersize=5, label="pseudo-experiments")
    series.add("coverage", "points", x=mu, y=cov)
    left.axhline(0.6827, color="#d62728", linewidth=1, label="68.27%")
    left.set_xlabel(r"$\mu_\mathrm{true}$")
    left.set_ylabel("coverage of the 68.27% interval")
    left.set_ylim(0, 1.15)
    if len(mu) == 1:
        left.set_xlim(mu[0] - 1, mu[0] + 1)
    left.legend(loc="lower right")
    o = result["overall"]
    label(left, "pooled %.3f $\\pm$ %.3f (%d toys)" % (o["coverage"], o["coverage_error"], o["usable"]))
    p = np.array(pulls)
    bins = np.linspace(-4, 4, 33)
    right.hist(p, bins=bins, histtype="step", color="black", linewidth=1.5, label="pulls")
    series.add("pulls", "hist", x=p)
    grid = np.linspace(-4, 4, 200)
    right.plot(grid, len(p) * (bins[1] - bins[0]) * np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi), color="#2a7ab9",
               label="unit Gaussian")
    right.set_xlabel(r"$(\hat\mu - \mu_\mathrm{true}) / \sigma_{\hat\mu}$")
    right.set_ylabel("pseudo-experiments")
    right.set_ylim(0, right.get_ylim()[1] * 1.3)
    right.legend(loc="upper right")
    label(right, "mean %.2f, sd %.2f" % (o["pull_mean"], o["pull_sd"]))
    return fig


def reliability(result, path, series):
    need(result, ["calibration"], "reliability", path)
    cal = result["calibration"]
    for key in ("test_before", "test_after"):
        if key not in cal:
            raise InputError("%s: calibration.%s: not in the file" % (path, key))
    classes = list(cal["test_after"]["classes"].keys())
    fig, ax = plt.subplots(figsize=(6.4, 6.0))
    ax.plot([0, 1], [0, 1], color="0.6", linewidth=1, label="perfect calibration")
    colours = plt.get_cmap("tab10")
    for k, name in enumerate(classes):
        for key, style, tag in (("test_before", "--", "before"), ("test_after", "-", "after")):
            bins = [b for b in cal[key]["classes"][name]["bins"] if b["weight_fraction"] > 0]
            x = [b["mean_predicted"] for b in bins]
            y = [b["observed"] for b in bins]
            ece = cal[key]["classes"][name]["ece"]
            ax.plot(x, y, style, marker="o" if tag == "after" else None, markersize=3, color=colours(k % 10),
                    label="%s %s (ECE %.3f)" % (name, tag, ece))
            series.add("%s/%s" % (tag, name), "line", x=x, y=y)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed frequency (test events)")
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    label(ax, "reliability, staged isotonic calibration")
    return fig


def training(result, path, series):
    runs = []
    if isinstance(result.get("training"), dict) and "epochs" in result["training"]:
        runs.append(("", result["training"]))
    for k, run in enumerate(result.get("runs", [])):
        if isinstance(run, dict) and isinstance(run.get("training"), dict) and "epochs" in run["training"]:
            runs.append(("init %d " % k, run["training"]))
    if not runs:
        sannt = sannt_runs(result)
        if sannt:
            return sannt_training(sannt, series)
        raise InputError("%s: training: not in the file: a training figure needs the report of refinery train" % path)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    colours = plt.get_cmap("tab10")
    for k, (tag, t) in enumerate(runs):
        epochs = [e["epoch"] for e in t["epochs"]]
        ax.plot(epochs, [e["train_loss"] for e in t["epochs"]], "--", color=colours(k % 10), label=tag + "training")
        ax.plot(epochs, [e["val_loss"] for e in t["epochs"]], "-", color=colours(k % 10), label=tag + "validation")
        series.add(tag + "train_loss", "line", x=epochs, y=[e["train_loss"] for e in t["epochs"]])
        series.add(tag + "val_loss", "line", x=epochs, y=[e["val_loss"] for e in t["epochs"]])
        if t.get("best_epoch", -1) >= 0:
            ax.axvline(t["best_epoch"], color=colours(k % 10), linewidth=0.8, linestyle=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(loc="upper right", fontsize=8)
    label(ax, "training (%s)" % runs[0][1].get("stop_reason", ""))
    return fig


def sannt_runs(result):
    """The networks of a `refinery train sannt` report: (label, training) per
    network, under benchmarks/<b>/runs or <problem>/runs."""
    found = []
    groups = result.get("benchmarks", {}) if isinstance(result.get("benchmarks"), dict) else {}
    for name, group in list(groups.items()) + [(k, v) for k, v in result.items() if k != "benchmarks"]:
        if not isinstance(group, dict) or not isinstance(group.get("runs"), list):
            continue
        tag = ("benchmark %s" % name) if name in groups else name
        for k, run in enumerate(group["runs"]):
            t = run.get("training") if isinstance(run, dict) else None
            if isinstance(t, dict) and isinstance(t.get("train"), dict) and "epochs" in t["train"]:
                found.append(("%s, network %d" % (tag, k), t))
    return found


def sannt_training(runs, series):
    """SANNT's two phases side by side: the cross-entropy pre-training (where
    it ran) and the training on sigma(mu) from the binned likelihood's Fisher
    information, training (dashed) and validation (solid) per network."""
    pretrained = any(t.get("pretrain", {}).get("epochs") for _, t in runs)
    fig, axes = plt.subplots(1, 2 if pretrained else 1, figsize=(11.0 if pretrained else 6.4, 4.8), squeeze=False)
    colours = plt.get_cmap("tab10")
    phases = ([("pretrain", "cross entropy", axes[0][0])] if pretrained else []) + [("train", r"$\sigma(\mu)$", axes[0][-1])]
    for phase, loss, ax in phases:
        for k, (tag, t) in enumerate(runs):
            epochs = t.get(phase, {}).get("epochs", [])
            if not epochs:
                continue
            x = [e["epoch"] for e in epochs]
            for key, style_, what in (("train_loss", "--", "training"), ("val_loss", "-", "validation")):
                y = [e[key] for e in epochs]
                ax.plot(x, y, style_, color=colours(k % 10), label="%s, %s" % (tag, what) if len(runs) <= 5 else None)
                series.add("%s/%s/%s" % (tag, phase, key), "line", x=x, y=y)
        ax.set_xlabel("epoch")
        ax.set_ylabel(loss)
        if len(runs) <= 5:
            ax.legend(loc="upper right", fontsize=7)
        label(ax, "SANNT: " + ("pre-training" if phase == "pretrain" else "training on the POI's uncertainty"))
    return fig


def closure(result, path, series):
    need(result, ["points", "limit"], "closure", path)
    pts = result["points"]
    if not pts:
        raise InputError("%s: points: no nu-point to draw" % path)
    features = [f["name"] for f in pts[0]["features"]]
    rows, cols = len(pts), len(features)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for i, p in enumerate(pts):
        for j, f in enumerate(p["features"]):
            ax = axes[i][j]
            s = np.array([b["simulated"] for b in f["bins"]])
            l = np.array([b["learned"] for b in f["bins"]])
            e = np.array([b["error"] for b in f["bins"]])
            x = np.arange(len(s))
            ok = s > 0
            ax.errorbar(x[ok], l[ok] / s[ok], yerr=e[ok] / s[ok], fmt="o", color="black", markersize=3)
            ax.axhline(1.0, color="0.5", linewidth=1)
            series.add("%s/%s" % (p["label"], f["name"]), "points", x=x[ok], y=l[ok] / s[ok], chi2_ndf=f["chi2_ndf"])
            verdict = "pass" if f["chi2_ndf"] < result["limit"] else "FAIL"
            ax.set_title("%s: $\\chi^2$/ndf %.2f %s" % (f["name"], f["chi2_ndf"], verdict), fontsize=8,
                         color="black" if verdict == "pass" else "#d62728")
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel("learned / simulated\n" + p["label"], fontsize=7)
            if i == rows - 1:
                ax.set_xlabel("bin (equal nominal weight)", fontsize=7)
    fig.tight_layout()
    return fig


KINDS = {
    "distributions": distributions,
    "pulls": pulls,
    "correlation": correlation,
    "impacts": impacts,
    "scan": scan,
    "contour": contour,
    "gof": gof,
    "teststat": teststat,
    "exclusion": exclusion,
    "brazil": brazil,
    "coverage": coverage,
    "reliability": reliability,
    "training": training,
    "closure": closure,
}
SOURCES = {
    "distributions": "refinery yields",
    "pulls": "refinery fit or impacts",
    "correlation": "refinery fit",
    "impacts": "refinery impacts",
    "scan": "refinery scan",
    "contour": "refinery scan --poi2",
    "gof": "refinery gof",
    "teststat": "refinery hypotest --calculator toybased",
    "exclusion": "refinery contour",
    "brazil": "refinery limit --scan",
    "coverage": "refinery toys",
    "reliability": "refinery train classifier (its OUT.json)",
    "training": "refinery train (its report)",
    "closure": "refinery closure",
}


def main(argv):
    args = [a for a in argv[1:]]
    region, prefit = None, False
    if "--prefit" in args:
        args.remove("--prefit")
        prefit = True
    if "--region" in args:
        i = args.index("--region")
        if i + 1 >= len(args):
            raise InputError("--region: needs a region name")
        region = args[i + 1]
        del args[i : i + 2]
    if len(args) != 3:
        raise InputError("usage: refinery plot KIND RESULT.json --out FILE.{png,pdf,svg}")
    kind, path, out = args
    if kind not in KINDS:
        raise InputError("KIND: unknown figure '%s' (known: %s)" % (kind, ", ".join(KINDS)))
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".png", ".pdf", ".svg"):
        raise InputError("--out: %s: the figure's format comes from its extension: .png, .pdf or .svg" % out)
    try:
        with open(path) as f:
            result = json.load(f)
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e.strerror))
    except ValueError as e:
        raise InputError("%s: not JSON: %s" % (path, e))
    if not isinstance(result, dict):
        raise InputError("%s: not the result of a refinery command (a JSON object)" % path)
    if (region is not None or prefit) and kind != "distributions":
        raise InputError("--region/--prefit: only for the distributions figure")
    style()
    series = Series()
    if kind == "distributions":
        fig = distributions(result, path, series, region=region, prefit=prefit)
    else:
        fig = KINDS[kind](result, path, series)
    width, height = (int(round(v * DPI)) for v in fig.get_size_inches())
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise InputError("--out: %s: no such directory" % directory)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=ext)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=DPI)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    plt.close(fig)
    sidecar = {"kind": kind, "result": path, "figure": out, "width_px": width, "height_px": height,
               "series": series.items}
    with open(out + ".series.json.tmp", "w") as f:
        json.dump(sidecar, f, indent=1)
    os.replace(out + ".series.json.tmp", out + ".series.json")
    print("wrote %s (%dx%d px) and %s.series.json" % (out, width, height, out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except InputError as e:
        sys.stderr.write("refinery plot: error: %s\n" % e)
        sys.exit(2)
    except (KeyError, TypeError, IndexError) as e:
        sys.stderr.write("refinery plot: error: %s: not the result this figure reads (%s: %s)\n"
                         % (sys.argv[2] if len(sys.argv) > 2 else "RESULT", type(e).__name__, e))
        sys.exit(2)
