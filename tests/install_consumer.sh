#!/usr/bin/env bash
# Installs refinery into a temporary prefix, then configures, builds and runs
# a downstream project that uses find_package(refinery); then runs the
# installed executable: the front end on a workspace (in-process) and a
# command it hands to the full executable in libexec/refinery.
# Usage: install_consumer.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build="$1"; src="$2"; work="$3"
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$src/tests/install_consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/consumer" > "$work/build.log"
out=$("$work/consumer/consumer")
echo "$out"
[[ "$out" == refinery\ 0.1.0* ]]
ws="$src/tests/data/pyhf/workspaces/onebin_normsys.json"
"$work/prefix/bin/refinery" hypotest "$ws" --json | grep -q '"status":"converged"'
"$work/prefix/bin/refinery" --version | grep -q '^refinery 0.1.0.*LibTorch'
