"""Copies a refinery event file and tags every row with one nuisance point
(the `nuisances` dataset and the `nuisance_names` attribute, docs/formats.md),
as a sample simulated at that point would be. tests/test_measurement_cli.cpp
uses it to check how the measurement reads such an expected-yield sample.

usage: with_nuisances.py IN.h5 OUT.h5 NAME=VALUE[,NAME=VALUE...]"""
import shutil
import sys

import h5py
import numpy as np

source, target, point = sys.argv[1], sys.argv[2], sys.argv[3]
names, values = [], []
for item in point.split(","):
    name, value = item.split("=")
    names.append(name)
    values.append(float(value))
shutil.copyfile(source, target)
with h5py.File(target, "r+") as f:
    n = f["weights"].shape[0]
    if "nuisances" in f:
        del f["nuisances"]
    column = np.tile(np.asarray(values, dtype=np.float32), (n, 1))
    f.create_dataset("nuisances", data=column, chunks=(min(n, 16384), len(names)), maxshape=(None, len(names)))
    f.attrs["nuisance_names"] = np.array(names, dtype=h5py.string_dtype("utf-8"))
