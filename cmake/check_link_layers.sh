#!/usr/bin/env bash
# The layers as the linker sees them (docs/design.md section 9): every
# symbol a layer's library leaves undefined must be defined in its own
# library or in the layers below it, never in a layer beside or above it.
# Include checks (check_layers.cmake) cannot see a call through a forward
# declaration; this can. Strong definitions only (T, D, B, R): inline
# functions and template instances (weak) are every library's own.
#   cmake/check_link_layers.sh DIR    (DIR holds librefinery_<layer>.a)
set -euo pipefail
dir=${1:?usage: check_link_layers.sh DIR}
layers=(base core models data train infer)
declare -A below=([base]="" [core]="base" [models]="core base" [data]="core base"
                  [train]="models data core base" [infer]="models data core base")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for layer in "${layers[@]}"; do
  lib="$dir/librefinery_$layer.a"
  [[ -f $lib ]] || { echo "check_link_layers: $lib: missing (build first)"; exit 2; }
  nm --defined-only --format=posix "$lib" 2>/dev/null | awk 'NF >= 2 && $2 ~ /^[TDBR]$/ {print $1}' | sort -u > "$work/$layer.defined"
  nm --defined-only --format=posix "$lib" 2>/dev/null | awk 'NF >= 2 {print $1}' | sort -u > "$work/$layer.own"
  nm --undefined-only --format=posix "$lib" 2>/dev/null | awk 'NF >= 2 {print $1}' | sort -u |
    comm -23 - "$work/$layer.own" > "$work/$layer.undefined"
done
status=0
for layer in "${layers[@]}"; do
  for other in "${layers[@]}"; do
    [[ $other == "$layer" || " ${below[$layer]} " == *" $other "* ]] && continue
    calls=$(comm -12 "$work/$layer.undefined" "$work/$other.defined" | head -3 | c++filt | paste -sd ';' -)
    if [[ -n $calls ]]; then
      echo "librefinery_$layer calls into librefinery_$other (it may use: ${below[$layer]:-nothing}): $calls"
      status=1
    fi
  done
done
[[ $status == 0 ]] && echo "check_link_layers: ${#layers[@]} libraries, every call within its layer or below"
exit $status
