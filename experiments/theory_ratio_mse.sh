#!/usr/bin/env bash
# CARL, ALICES and RASCAL (the plain form, ensembles of 3) at four data
# seeds of `refinery simulate theory`, their MSE against the exact log ratio
# (experiments/theory_ratio_mse.py); the table in docs/madminer.md. About
# 3 minutes on 2 cores. Usage: experiments/theory_ratio_mse.sh [DIR=theory_mse]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
R="${REFINERY:-$here/../build/refinery}"
dir="${1:-theory_mse}"
mkdir -p "$dir"
"$R" simulate theory --sample events --events 50000 --theta 0,0 --seed 72 --quiet --out "$dir/sm.h5"
for seed in 61 71 81 91; do
  "$R" simulate theory --sample ratio --events 50000 --seed $seed --quiet --out "$dir/aug$seed.h5"
  for loss in carl alices rascal; do
    "$R" train ratio "$dir/aug$seed.h5" --form plain --loss $loss --epochs 20 --lr-decay 0.9 --members 3 --seed 5 --quiet \
      --out "$dir/${loss}_$seed.pt"
  done
done
/usr/bin/python3 "$here/theory_ratio_mse.py" "$dir/sm.h5" "$dir"/{carl,alices,rascal}_{61,71,81,91}.pt
