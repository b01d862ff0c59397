#!/bin/sh
# docs/firmware.md's size table: the Cortex-M4 image (ports/mps2-an386) built for a
# board of RAM KiB with a frame limit of F bytes; the kernel arena is what is left of
# RAM after the link buffers, the rest of .data/.bss and an 8 KiB stack. Prints one
# markdown row per build: flash (text + data) and RAM (data + bss) from
# arm-none-eabi-size, the arena, and the largest H (I = O = 1) at B = 1, K = 1 and at
# B = 4, K = 50 (largest_h; codes are stored as int16 at every width, so 8- and 16-bit
# formats need the same RAM), and with an eligibility trace (int32, 4 H (I + H) bytes
# more) at B = 1, K = 1 and B = 4, K = 50.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
cd "$root"
out=build/firmware/sizes
mkdir -p "$out"
cc -O2 -std=c99 -o "$out/largest_h" firmware/tests/largest_h.c firmware/core/kernel.c -Ibuild/firmware/gen -lm
echo "| RAM | frame F | flash (text+data) | RAM used (data+bss) | kernel arena | largest H, B=1 K=1 | largest H, B=4 K=50 | with a trace, B=1 K=1 | with a trace, B=4 K=50 |"
echo "|---|---|---|---|---|---|---|---|---|"
for ram in 64 192 256; do
  for F in 1024 4096 16384; do
    # the link's fixed RAM at this F: build once with a 1-byte arena, measure
    rm -f "$out/probe/mps2/anpt-firmware.elf" "$out/b/mps2/anpt-firmware.elf"
    make -s -C firmware BUILD="$root/$out/probe" NANOPB_SRC="$root/build/firmware/nanopb" MPS2_DEFS="-DANPT_ARENA_BYTES=8u -DANPT_MAX_FRAME_BYTES=$F" mps2 >/dev/null
    set -- $(arm-none-eabi-size "$out/probe/mps2/anpt-firmware.elf" | tail -n 1)
    fixed=$(( $2 + $3 - 8 ))
    arena=$(( ram * 1024 - fixed - 8192 ))
    [ "$arena" -gt 0 ] || { echo "| $ram KiB | $F | - | - | does not fit | - | - | - | - |"; continue; }
    h1=$("$out/largest_h" "$arena" 1 1 1 1)
    h4=$("$out/largest_h" "$arena" 1 1 4 50)
    t1=$("$out/largest_h" "$arena" 1 1 1 1 1)
    t4=$("$out/largest_h" "$arena" 1 1 4 50 1)
    make -s -C firmware BUILD="$root/$out/b" NANOPB_SRC="$root/build/firmware/nanopb" MPS2_DEFS="-DANPT_ARENA_BYTES=${arena}u -DANPT_MAX_FRAME_BYTES=$F -DANPT_MAX_HIDDEN=$h1" mps2 >/dev/null
    set -- $(arm-none-eabi-size "$out/b/mps2/anpt-firmware.elf" | tail -n 1)
    echo "| $ram KiB | $F | $(( $1 + $2 )) | $(( $2 + $3 )) | $arena | $h1 | $h4 | $t1 | $t4 |"
  done
done
