#!/usr/bin/env bash
# The benchmark suite: runs on this one machine, in one go, and writes BENCHMARKS.md with its
# SVG charts (docs/bench/). Measures decoding per protocol (criterion), the JetStream ceiling,
# gateway acked throughput and ack latency at 1k and 10k connections, idle connections and
# memory per connection, end-to-end latency at fixed offered loads, and decoder scaling with the
# CPU each tier used. Works from a fresh clone: installs nats-server (scripts/install-tools.sh)
# and builds the release binaries itself. Needs Rust and Python 3 (no other Python packages).
#
#   scripts/bench.sh                      # full run: ~5 min release build + ~15 min of measurements
#   scripts/bench.sh --smoke              # seconds (after a debug build): checks the harness,
#                                         # report in target/bench/smoke/, BENCHMARKS.md untouched
#   scripts/bench.sh --only end_to_end    # one or more sections (comma list)
#
# Not part of CI (scripts/test.sh): timings on shared CI machines mean nothing, and the full run
# opens 100 000 connections.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
for arg in "$@"; do
  [ "$arg" = "--smoke" ] && smoke=1
done

NATS_SERVER_BIN="$(scripts/install-tools.sh)"
export NATS_SERVER_BIN

# 100 000 device connections need as many descriptors in the gateway and in the load generator.
# As root the hard limit can be raised (up to fs.nr_open); otherwise use what the hard limit allows.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
echo "== $(nproc) cores; ulimit -n $(ulimit -Sn) (hard $(ulimit -Hn)); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

if [ "$smoke" = 1 ]; then
  cargo build --bins --locked -p gateway -p decoder-worker -p event-worker -p astra-tests >&2
  bin_dir=target/debug
else
  cargo build --release --bins --locked >&2
  bin_dir=target/release
fi

exec python3 scripts/bench.py --bin-dir "$bin_dir" --nats-bin "$NATS_SERVER_BIN" "$@"
