"""Reads a refinery event file with h5py and prints a one-line digest that
tests/test_event_io.cpp compares against what it wrote."""
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f:
    x = f["features"]
    w = f["weights"][:]
    p = f["process"][:]
    nu = f["nuisances"][:]
    assert x.dtype == "float32" and w.dtype == "float64" and p.dtype == "int32"
    names = [n if isinstance(n, str) else n.decode() for n in f.attrs["feature_names"]]
    nuis = [n if isinstance(n, str) else n.decode() for n in f.attrs["nuisance_names"]]
    gen = f.attrs["generator"]
    gen = gen if isinstance(gen, str) else gen.decode()
    print("%d %s %.12f %.2f %d %.1f %s %.1f %s %d" % (
        x.shape[0], ",".join(names), w.sum(), x[199, 2], p.sum(), nu[0, 0], ",".join(nuis),
        f.attrs["luminosity"], gen, f.attrs["seed"]))
