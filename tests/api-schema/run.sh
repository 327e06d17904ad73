#!/usr/bin/env bash
# Checks the HTTP API against its own OpenAPI document with schemathesis: every operation of
# /openapi.json, with generated valid and invalid input, all checks (no 5xx, status codes,
# content types and bodies as documented, valid input accepted, invalid input refused, auth
# not ignored, deleted resources gone). Fails on any finding.
#
# Starts the debug binary (target/debug/sluice; `cargo build` first, or set SLUICE_BIN) on
# loopback ports with token auth, JetStream and the plugin API, a stream to read
# (ORDERS on orders.>), a NATS responder so requests get replies, and SLUICE_TEST_COMPONENT
# (default: the passthrough example from `bash plugins/build.sh`) as the plugin uploads.
# schemathesis goes into its own venv (.venv-schemathesis), pinned in requirements.txt beside
# this script.
#
# Bounded: MAX_EXAMPLES per operation (default 25) and MAX_TIME seconds for the run (default
# 120; schemathesis's fuzzing and stateful phases use what the earlier phases leave).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
HERE=$ROOT/tests/api-schema
VENV=${SCHEMATHESIS_VENV:-$ROOT/.venv-schemathesis}
BIN=${SLUICE_BIN:-$ROOT/target/debug/sluice}
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
MAX_TIME=${MAX_TIME:-120}
export SLUICE_TEST_COMPONENT=${SLUICE_TEST_COMPONENT:-$ROOT/plugins/target/wasm32-wasip2/release/passthrough.wasm}
TOKEN=schema-check-token

[[ -x $BIN ]] || { echo "api-schema: $BIN is missing (run cargo build)" >&2; exit 1; }
[[ -f $SLUICE_TEST_COMPONENT ]] || { echo "api-schema: $SLUICE_TEST_COMPONENT is missing (run bash plugins/build.sh)" >&2; exit 1; }

# (Re)install when a pinned requirement is not in the venv as pinned.
wanted() { grep -o '^[^ #]*==[^ ]*' "$HERE/requirements.txt" | tr 'A-Z_' 'a-z-' | sort; }
have() { "$VENV/bin/pip" freeze 2>/dev/null | tr 'A-Z_' 'a-z-' | sort; }
if [[ -n $(comm -23 <(wanted) <(have)) ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/sluice.toml" <<TOML
[nats]
host = "127.0.0.1"
port = -1

[api]
port = -1

[jetstream]
enabled = true
store_dir = "$WORK/data"

[auth]
token = "$TOKEN"
TOML

"$BIN" -c "$WORK/sluice.toml" > "$WORK/sluice.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  grep -q 'Server is ready' "$WORK/sluice.log" && break
  sleep 0.1
done
API=$(sed -n 's/.*Listening for API requests on \([0-9.:]*\).*/\1/p' "$WORK/sluice.log")
NATS=$(sed -n 's/.*Listening for client connections on \([0-9.:]*\).*/\1/p' "$WORK/sluice.log")
[[ -n $API && -n $NATS ]] || { cat "$WORK/sluice.log" >&2; exit 1; }

# A responder for /v1/request, and the ORDERS stream for /v1/streams/{name}.
"$VENV/bin/python" "$HERE/responder.py" "$NATS" "$TOKEN" > "$WORK/responder.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  grep -q ready "$WORK/responder.log" && break
  sleep 0.1
done
grep -q ready "$WORK/responder.log" || { cat "$WORK/responder.log" >&2; exit 1; }

echo "api-schema: schemathesis against http://$API/openapi.json (max $MAX_EXAMPLES examples per operation, ${MAX_TIME}s)"
status=0
SCHEMATHESIS_HOOKS=hooks PYTHONPATH=$HERE \
  "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" run "http://$API/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --seed "${SEED:-1}" \
  --no-color \
  --report junit,har,ndjson --report-dir "${REPORT_DIR:-$WORK/report}" || status=$?
if [[ $status -ne 0 ]]; then
  echo "api-schema: FAILED (server log follows)" >&2
  tail -n 50 "$WORK/sluice.log" >&2
fi
exit $status
