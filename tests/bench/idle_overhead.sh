#!/usr/bin/env bash
# Prints the agent's own CPU use while the host is idle, and its memory.
#   tests/bench/idle_overhead.sh [seconds=60] [scrape_every_seconds=0]
# With scrape_every_seconds > 0, /metrics is fetched that often during the run,
# as a Prometheus would. Needs root and a built agent (scripts/build).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-60}
SCRAPE_EVERY=${2:-0}
BINARY=${INFRARED_BINARY:-build/infrared}
PORT=${INFRARED_BENCH_PORT:-19499}
TICKS=$(getconf CLK_TCK)

"$BINARY" --web.listen-address "127.0.0.1:$PORT" 2>/tmp/infrared-bench.log &
AGENT=$!
trap 'kill $AGENT 2>/dev/null; wait $AGENT 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "agent did not become ready" >&2; exit 1; }
sleep 2  # let start-up work (seeding /proc) settle

cpu_ticks() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
start_ticks=$(cpu_ticks)
start_time=$(date +%s.%N)
if ((SCRAPE_EVERY > 0)); then
  end=$((SECONDS + SECONDS_TO_RUN))
  while ((SECONDS < end)); do
    curl -sf "http://127.0.0.1:$PORT/metrics" -o /dev/null
    sleep "$SCRAPE_EVERY"
  done
else
  sleep "$SECONDS_TO_RUN"
fi
end_ticks=$(cpu_ticks)
end_time=$(date +%s.%N)
processes=$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^infrared_tracked_processes /{print $2}')

awk -v t0="$start_ticks" -v t1="$end_ticks" -v s0="$start_time" -v s1="$end_time" -v hz="$TICKS" \
  'BEGIN { cpu = (t1 - t0) / hz; wall = s1 - s0;
           printf "cpu_seconds %.3f over wall_seconds %.1f = %.3f%% of one core\n", cpu, wall, 100 * cpu / wall }'
grep -E '^(VmRSS|VmHWM):' "/proc/$AGENT/status" | awk '{printf "%s %s kB\n", $1, $2}'
echo "tracked_processes $processes"
echo "scrape_every_seconds $SCRAPE_EVERY"
