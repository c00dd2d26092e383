#!/bin/bash
# Runs fuzz targets for a fixed number of executions each, one after another,
# with the seed corpora and a work corpus of their own, and prints one line per
# target (executions, seconds, peak RSS, exit status). A crash leaves its input
# as <work>/crash.<target>.* and a non-zero status.
#
#     tests/fuzz/long_run.sh [runs=10000000] [target...]
#
# Targets default to every one CMake built into $INFRARED_BUILD_DIR/fuzz
# (default build/fuzz); the work corpora go to $INFRARED_FUZZ_WORK (default
# /tmp/infrared-fuzz). At nice 19, in a session of its own, so the machine
# stays usable. A work corpus that is empty starts from the one
# tests/fuzz/carry.sh kept in the repository (tests/fuzz/carried/<target>.tar.xz),
# so runs on machines that do not last continue one another.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${INFRARED_BUILD_DIR:-$repo/build}
work=${INFRARED_FUZZ_WORK:-/tmp/infrared-fuzz}
runs=${1:-10000000}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for binary in "$build"/fuzz/*_fuzz; do targets+=("$(basename "$binary")"); done
fi
mkdir -p "$work"
status=0
for target in "${targets[@]}"; do
  binary=$build/fuzz/$target
  corpus=$(grep -o "infrared_fuzzer($target [a-z_0-9]*" "$here/CMakeLists.txt" | awk '{print $2}')
  if [ ! -x "$binary" ] || [ -z "$corpus" ]; then
    echo "$target: not built (or not in tests/fuzz/CMakeLists.txt)"
    status=1
    continue
  fi
  mkdir -p "$work/$target.corpus"
  carried=$here/carried/$target.tar.xz
  if [ -f "$carried" ] && [ -z "$(ls -A "$work/$target.corpus")" ]; then
    tar -xJf "$carried" -C "$work/$target.corpus"
  fi
  start=$(date +%s)
  # A session of its own, so that where the kernel groups tasks by session
  # (autogroup) the fuzzer's nice 19 counts against other sessions too, not
  # only within the shell's.
  ASAN_OPTIONS=detect_leaks=1 setsid sh -c \
    'echo 19 > /proc/self/autogroup 2>/dev/null; exec nice -n 19 "$@"' sh \
    "$binary" -runs="$runs" -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/crash.$target." \
    "$work/$target.corpus" "$here/corpus/$corpus" > "$work/$target.log" 2>&1 &
  fuzzer=$!
  # Outside the terminal's session, the fuzzer hears no ^C of its own: it is
  # passed on, and the target's line still printed before stopping.
  trap 'kill -INT $fuzzer 2>/dev/null; interrupted=1' INT TERM
  wait $fuzzer
  rc=$?
  if [ -n "${interrupted:-}" ]; then
    wait $fuzzer
    rc=$?
  fi
  trap - INT TERM
  executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | awk '{print $2}')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$work/$target.log" | awk '{print $2}')
  echo "$target: ${executed:-?} executions in $(( $(date +%s) - start )) s, peak RSS ${rss:-?} MB, exit $rc"
  [ "$rc" -eq 0 ] || status=1
  [ -z "${interrupted:-}" ] || exit 130
done
exit $status
