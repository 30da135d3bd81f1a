#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs formatting, lint and
# every test (unit, property, golden, integration with a real nats-server, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
NATS_SERVER_BIN="$(scripts/install-tools.sh)"
export NATS_SERVER_BIN
echo "== nats-server: $("$NATS_SERVER_BIN" --version)"
echo "== cargo fmt --check"
cargo fmt --all -- --check
scripts/check-helm.sh
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
