#!/bin/sh
# Unpacks nanopb's C runtime (pb_*.c, pb*.h) into $1, from Debian's nanopb source
# package: the same version as the installed generator (nanopb_generator.py), which
# Debian ships without the runtime sources. Needs a deb-src line for the Debian
# archive (.ci/run adds one) or NANOPB_TARBALL pointing at nanopb's source tarball.
set -eu
dest=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${NANOPB_TARBALL:-}" ]; then
  cp "$NANOPB_TARBALL" "$work/"
else
  (cd "$work" && apt-get source --download-only nanopb >/dev/null 2>&1) || {
    echo "nanopb-src.sh: 'apt-get source nanopb' failed; add a deb-src line for the Debian archive (see .ci/run) or set NANOPB_TARBALL" >&2
    exit 1
  }
fi
tarball=$(ls "$work"/nanopb_*.orig.tar.gz "$work"/nanopb-*.tar.gz 2>/dev/null | head -n 1)
mkdir -p "$work/x" "$dest"
tar xzf "$tarball" -C "$work/x"
src=$(dirname "$(find "$work/x" -name pb_encode.c | head -n 1)")
cp "$src"/pb.h "$src"/pb_common.c "$src"/pb_common.h "$src"/pb_encode.c "$src"/pb_encode.h "$src"/pb_decode.c "$src"/pb_decode.h "$dest"/
echo "nanopb runtime from $(basename "$tarball") in $dest" >&2
