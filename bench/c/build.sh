#!/bin/sh
# Builds the plain-C yardstick of the fused training step: bench/out/step.
#   1. bench/out/tanh_table.h from assembly/tanh-table.ts (the emulator's own table);
#   2. gcc -O3 -march=native -std=c99 -o bench/out/step bench/c/step.c -lm
# Runs from any directory; bench/out/ is gitignored. CC overrides the compiler.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
cd "$root"
mkdir -p bench/out
node bench/c/gen-tanh-header.mjs assembly/tanh-table.ts bench/out/tanh_table.h
"${CC:-gcc}" -O3 -march=native -std=c99 -o bench/out/step bench/c/step.c -lm
echo "built $root/bench/out/step" >&2
