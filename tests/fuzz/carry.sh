#!/bin/bash
# Keeps fuzz targets' work corpora (what long_run.sh grew) in the repository,
# for the next long run to start from: each is merged to the smallest set of
# inputs with the same coverage (libFuzzer -merge=1) and written to
# tests/fuzz/carried/<target>.tar.xz.
#
#     tests/fuzz/carry.sh target...
#
# Same $INFRARED_BUILD_DIR and $INFRARED_FUZZ_WORK as long_run.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${INFRARED_BUILD_DIR:-$repo/build}
work=${INFRARED_FUZZ_WORK:-/tmp/infrared-fuzz}
[ $# -gt 0 ] || { echo "usage: $0 target..." >&2; exit 2; }
mkdir -p "$here/carried"
for target; do
  binary=$build/fuzz/$target
  if [ ! -x "$binary" ] || [ ! -d "$work/$target.corpus" ]; then
    echo "$target: no binary at $binary or no work corpus at $work/$target.corpus" >&2
    exit 1
  fi
  merged=$(mktemp -d)
  if ! ASAN_OPTIONS=detect_leaks=0 nice -n 19 "$binary" -merge=1 -rss_limit_mb=2048 "$merged" \
      "$work/$target.corpus" > "$work/$target.merge.log" 2>&1; then
    echo "$target: the merge failed, see $work/$target.merge.log" >&2
    rm -rf "$merged"
    exit 1
  fi
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cJf \
    "$here/carried/$target.tar.xz" -C "$merged" .
  echo "$target: $(ls "$merged" | wc -l) inputs of $(ls "$work/$target.corpus" | wc -l)," \
    "$(stat -c %s "$here/carried/$target.tar.xz") bytes in tests/fuzz/carried/$target.tar.xz"
  rm -rf "$merged"
done
