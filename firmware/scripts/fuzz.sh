#!/bin/sh
# npm run fuzz:firmware -- the C frame decoder and message handler under ASan + UBSan:
# the seeded random/mutation driver for FUZZ_BYTES input bytes (default 10 million),
# then libFuzzer on the same harness for FUZZ_SECONDS (default 60) when clang's
# libFuzzer runtime is installed (libclang-rt-14-dev). Any sanitizer report, crash or
# state change by a refused request stops it with a non-zero exit.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
cd "$root"
bytes=${FUZZ_BYTES:-10000000}
seconds=${FUZZ_SECONDS:-60}
make -s -C firmware fuzz
echo "random/mutation driver, $bytes bytes, seed ${FUZZ_SEED:-1}:" >&2
build/firmware/fuzz/fuzz_link "$bytes" "${FUZZ_SEED:-1}"
if make -s -C firmware fuzz-libfuzzer 2>/dev/null; then
  echo "libFuzzer, $seconds s:" >&2
  log=$(mktemp)
  dir=$(mktemp -d)
  status=0
  (cd "$dir" && "$root/build/firmware/fuzz/fuzz_link_libfuzzer" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1) >"$log" 2>&1 || status=$?
  tail -n 12 "$log"
  if [ "$status" -ne 0 ]; then
    echo "libFuzzer failed (exit $status); the crashing input is in $dir" >&2
    exit "$status"
  fi
  rm -rf "$dir" "$log"
else
  echo "libFuzzer not available (apt-get install libclang-rt-14-dev); the driver above is the run" >&2
fi
