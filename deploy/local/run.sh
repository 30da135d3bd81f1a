#!/usr/bin/env bash
# Runs the whole system on this machine: a single-node NATS server with JetStream and one of each
# service (gateway on :5103, decoder-worker, event-worker). Ctrl-C stops everything.
#
#   deploy/local/run.sh                 # debug build
#   PROFILE=release deploy/local/run.sh # optimised build
#
# Data (the JetStream store) lives in .tools/local/ and survives restarts.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
profile="${PROFILE:-debug}"
nats_port="${NATS_PORT:-4222}"

nats_server="$(scripts/install-tools.sh)"
if [ "$profile" = release ]; then
  cargo build --release --bins
else
  cargo build --bins
fi
bin="$root/target/$profile"
data="$root/.tools/local"
mkdir -p "$data"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$nats_server" -js -a 127.0.0.1 -p "$nats_port" -sd "$data/jetstream" &
pids+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break
  sleep 0.1
done

export ASTRA_NATS_URL="nats://127.0.0.1:$nats_port"
"$bin/gateway" &
pids+=($!)
"$bin/decoder-worker" run &
pids+=($!)
"$bin/event-worker" &
pids+=($!)

cat <<MSG

Astra cluster running:
  devices     tcp/udp 0.0.0.0:5103
  NATS        $ASTRA_NATS_URL   (positions: subject astra.position.>, stream ASTRA_POSITIONS)
  gateway      admin http://127.0.0.1:9103/metrics   gRPC Commands 127.0.0.1:50103
  decoder      admin http://127.0.0.1:9102/metrics   gRPC Decoder  127.0.0.1:50053
  event-worker admin http://127.0.0.1:9104/healthz
Ctrl-C stops everything.
MSG
wait -n
