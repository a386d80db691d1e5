#!/usr/bin/env bash
# cmake/check_link_layers.sh refuses a call across the layers: six tiny
# archives where the core calls a function defined in infer/ through a
# forward declaration (no include for check_layers.cmake to see).
#   tests/link_layers_violation.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=${1:?} work=${2:?}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
echo 'int measure(int); int core_entry(int x) { return measure(x) + 1; }' > core.cpp
echo 'int measure(int x) { return 2 * x; }' > infer.cpp
echo 'int models_entry(int x) { return x; }' > models.cpp
for layer in base core models data train infer; do
  [[ -f $layer.cpp ]] || echo "int ${layer}_entry() { return 0; }" > $layer.cpp
  ${CXX:-c++} -c $layer.cpp -o $layer.o
  ar rcs librefinery_$layer.a $layer.o
done
if out=$(bash "$src/cmake/check_link_layers.sh" "$work"); then
  echo "check_link_layers.sh accepted a call from the core into infer/"; exit 1
fi
echo "$out"
[[ $out == *"librefinery_core calls into librefinery_infer (it may use: base): measure(int)"* ]]
