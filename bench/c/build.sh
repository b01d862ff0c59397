#!/bin/sh
# Builds the native yardsticks of the fused training step (same source, same bits):
#   1. bench/out/tanh_table.h from assembly/tanh-table.ts (the emulator's own table);
#   2. bench/out/step       plain C (bench/c/step.c, auto-vectorised loops)
#   3. bench/out/step-avx2  tuned native (-DTUNED: bench/c/tuned.h, AVX2 intrinsics;
#                           without AVX2 the same file falls back to portable loops)
# gcc -O3 -march=native -std=c99. Runs from any directory; bench/out/ is gitignored.
# CC overrides the compiler.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
cd "$root"
mkdir -p bench/out
node bench/c/gen-tanh-header.mjs assembly/tanh-table.ts bench/out/tanh_table.h
"${CC:-gcc}" -O3 -march=native -std=c99 -o bench/out/step bench/c/step.c -lm
"${CC:-gcc}" -O3 -march=native -std=c99 -DTUNED -o bench/out/step-avx2 bench/c/step.c -lm
echo "built $root/bench/out/step and step-avx2" >&2
