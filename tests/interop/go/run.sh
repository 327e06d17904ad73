#!/usr/bin/env bash
# Go interop: the seed document's JetStream program (nats.go), examples/go/jetstream-events,
# against the server under test.
#
#   bash tests/interop/go/run.sh                                   # against sluice
#   INTEROP_KIND=nats-server INTEROP_SERVER=.venv/bin/nats-server \
#     bash tests/interop/go/run.sh                                 # against the reference
#
# What it does:
#   1. installs Debian's Go (golang-go, 1.19) and nats.go (golang-github-nats-io-go-nats-dev,
#      1.22.1) with apt-get if either is missing, and builds the program in GOPATH mode
#      against /usr/share/gocode (no module proxy needed) into a temp dir;
#   2. starts the server as `<bin> -a 127.0.0.1 -p -1 -js -sd <tmp>` (plus `--api_port -1`
#      for sluice) and reads the port from its `Listening for client connections on H:P` line;
#   3. run 1: starts the program with EXIT_AFTER=20 (it creates stream EVENTS and the durable
#      pull consumer event-processor), publishes event-1..event-20 to events.<n> with nats-py
#      (retrying the first publish until the stream exists), and checks the program printed
#      `Processing: event-1` .. `event-20` in order and exited 0, then the stream and consumer
#      config and that the consumer's ack floor is 20 with nothing pending;
#   4. run 2: publishes event-21..event-25, runs the program again (AddStream/AddConsumer
#      with the same config must succeed again) with EXIT_AFTER=5, and checks it printed
#      exactly event-21..event-25 (the durable resumed) and the ack floor is 25.
# Any failure exits non-zero with a message; the last line is `go-interop: N passed`.
#
# Environment: INTEROP_SERVER (default target/debug/sluice; relative to the current
# directory), INTEROP_KIND (sluice | nats-server), INTEROP_PYTHON (default .venv/bin/python,
# needs nats-py).
set -Eeuo pipefail
# Anything failing without its own message still says where.
trap 'echo "go-interop (${INTEROP_KIND:-sluice}): FAIL: command failed at line $LINENO: $BASH_COMMAND" >&2' ERR

ORIG_PWD=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

KIND=${INTEROP_KIND:-sluice}
case $KIND in
  sluice | nats-server) ;;
  *) echo "go-interop: INTEROP_KIND must be sluice or nats-server, not '$KIND'" >&2; exit 1 ;;
esac
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ORIG_PWD/$1" ;; esac; }
SERVER=$(abspath "${INTEROP_SERVER:-$ROOT/target/debug/sluice}")
PYTHON=$(abspath "${INTEROP_PYTHON:-$ROOT/.venv/bin/python}")

PASSED=0
fail() { echo "go-interop ($KIND): FAIL: $*" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); echo "ok $PASSED - $*"; }

[[ -x $SERVER ]] || fail "server binary not found or not executable: $SERVER (set INTEROP_SERVER)"
[[ -x $PYTHON ]] || fail "python not found: $PYTHON (set INTEROP_PYTHON, or create .venv as .ci/run does)"
"$PYTHON" -c 'import nats' 2>/dev/null || fail "$PYTHON cannot import nats (nats-py)"

TMP=$(mktemp -d)
SERVER_PID=
PROG_PID=
cleanup() {
  [[ -n $PROG_PID ]] && kill "$PROG_PID" 2>/dev/null || true
  if [[ -n $SERVER_PID ]]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- 1. Go toolchain, nats.go and the build ----------------------------------------
GOPKG=golang-github-nats-io-go-nats-dev
GOSRC=/usr/share/gocode/src/github.com/nats-io/nats.go
if ! command -v go >/dev/null || [[ ! -f $GOSRC/js.go ]]; then
  echo "go-interop: installing golang-go and $GOPKG (apt-get)"
  SUDO=
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go "$GOPKG" >/dev/null
fi
go version
# GOPATH mode: Debian's packages install their sources under /usr/share/gocode/src; the
# build cache goes to the temp dir so nothing is written outside it.
BIN=$TMP/jetstream-events
(cd "$ROOT/examples/go/jetstream-events" &&
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$TMP/gocache GOFLAGS= go build -o "$BIN" .) ||
  fail "go build of examples/go/jetstream-events failed"
ok "go build examples/go/jetstream-events (nats.go $(sed -n 's/.*Version *= *"\(.*\)".*/\1/p' $GOSRC/nats.go | head -n 1))"

# ---- 2. the server ---------------------------------------------------------------
args=(-a 127.0.0.1 -p -1 -js -sd "$TMP/store")
[[ $KIND == sluice ]] && args+=(--api_port -1)
# nats-server reserves a stream's MaxBytes (10 GB here) against 75% of the disk space free
# at start-up, and the program's second run asks for the stream again: on a machine with
# less than ~27 GB free that fails with "insufficient storage resources". The test is
# about the client protocol, not this machine's disk, so the reference gets a fixed limit.
if [[ $KIND == nats-server ]]; then
  printf 'jetstream { store_dir: "%s", max_file_store: 1TB }\n' "$TMP/store" >"$TMP/nats.conf"
  args=(-a 127.0.0.1 -p -1 -c "$TMP/nats.conf")
fi
# Its own session / process group, so cleanup can kill it and anything it started.
: >"$TMP/server.log" # exists before the loop below reads it
setsid "$SERVER" "${args[@]}" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 200); do
  # tracing may colour the log; match on plain text
  plain=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$TMP/server.log")
  if [[ -z $PORT ]]; then
    PORT=$(sed -n 's/.*Listening for client connections on [^ ]*:\([0-9][0-9]*\).*/\1/p' <<<"$plain" | head -n 1)
  fi
  [[ -n $PORT ]] && grep -q 'Server is ready' <<<"$plain" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; fail "server exited during startup"; }
  sleep 0.1
done
[[ -n $PORT ]] && grep -q 'Server is ready' <<<"$plain" ||
  { cat "$TMP/server.log" >&2; fail "server not ready within 20 s"; }
URL=nats://127.0.0.1:$PORT
ok "$KIND started with JetStream on $URL"

# ---- nats-py helper: publish and inspect ------------------------------------------
cat >"$TMP/js.py" <<'PY'
import asyncio, json, sys, time
import nats
from nats.errors import NoRespondersError
from nats.js.errors import NoStreamResponseError

async def main(url, cmd, *args):
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        if cmd == "publish":
            # publish FIRST LAST: event-<n> to events.<n>. The program creates the stream,
            # so retry the first publish until the stream answers: until then the request has
            # no responders, which nats-py's js.publish reports as NoStreamResponseError.
            first, last = int(args[0]), int(args[1])
            deadline = time.monotonic() + 20
            for n in range(first, last + 1):
                while True:
                    try:
                        ack = await js.publish(f"events.{n}", f"event-{n}".encode())
                        break
                    except (NoRespondersError, NoStreamResponseError):
                        if n != first or time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.1)
                if ack.stream != "EVENTS" or ack.seq != n:
                    sys.exit(f"publish events.{n}: ack {ack}, expected stream EVENTS seq {n}")
        elif cmd in ("stream", "consumer"):
            # The server's own JSON (durations in nanoseconds), not nats-py's parsed copy.
            subject = {"stream": "$JS.API.STREAM.INFO.EVENTS",
                       "consumer": "$JS.API.CONSUMER.INFO.EVENTS.event-processor"}[cmd]
            msg = await nc.request(subject, b"", timeout=5)
            print(msg.data.decode())
        else:
            sys.exit(f"unknown command {cmd}")
    finally:
        await nc.close()

asyncio.run(main(*sys.argv[1:]))
PY
pyjs() { "$PYTHON" "$TMP/js.py" "$URL" "$@"; }

# check_json CMD LABEL PYEXPR...: runs `pyjs CMD` (the raw $JS.API.*.INFO answer), evaluates
# each PYEXPR with `d` bound to the JSON; retries for up to 5 s (acks reach a consumer asynchronously).
check_json() {
  local cmd=$1 label=$2 out err
  shift 2
  for _ in $(seq 50); do
    out=$(pyjs "$cmd") || fail "$label: nats-py $cmd info failed"
    if err=$("$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
bad = [e for e in sys.argv[2:] if not eval(e, {"d": d})]
if bad:
    print("; ".join(bad)); sys.exit(1)' "$out" "$@"); then
      ok "$label"
      return
    fi
    sleep 0.1
  done
  echo "$out" >&2
  fail "$label: not true: $err"
}

# run_program LABEL EXIT_AFTER FIRST LAST [publish]: runs the program with EXIT_AFTER,
# publishing event-FIRST..event-LAST while it runs when `publish` is given; checks it exits
# 0 within 60 s having printed exactly `Processing: event-FIRST` .. `event-LAST`, in order.
run_program() {
  local label=$1 n=$2 first=$3 last=$4 publish=${5:-} rc=0 expected
  NATS_URL=$URL EXIT_AFTER=$n timeout 60 "$BIN" >"$TMP/$label.out" 2>"$TMP/$label.err" &
  PROG_PID=$!
  if [[ $publish == publish ]]; then
    pyjs publish "$first" "$last" ||
      { cat "$TMP/$label.err" >&2; fail "$label: publishing event-$first..event-$last failed"; }
  fi
  wait "$PROG_PID" || rc=$?
  PROG_PID=
  if [[ $rc -ne 0 ]]; then
    echo "--- program stdout:" >&2; cat "$TMP/$label.out" >&2
    echo "--- program stderr:" >&2; cat "$TMP/$label.err" >&2
    [[ $rc -eq 124 ]] && fail "$label: program did not exit within 60 s (EXIT_AFTER=$n)"
    fail "$label: program exited with status $rc"
  fi
  ok "$label: program exited 0 after EXIT_AFTER=$n messages"
  expected=$(for ((i = first; i <= last; i++)); do echo "Processing: event-$i"; done)
  if [[ $(cat "$TMP/$label.out") != "$expected" ]]; then
    diff <(echo "$expected") "$TMP/$label.out" >&2 || true
    fail "$label: output is not 'Processing: event-$first' .. 'event-$last' (diff: expected < > got)"
  fi
  ok "$label: printed Processing: event-$first .. event-$last in order"
}

# ---- 3. run 1: creates stream and consumer, processes 20 ---------------------------
run_program run1 20 1 20 publish
check_json stream "stream EVENTS has the seed's config (Replicas 1)" \
  'd["config"]["name"] == "EVENTS"' \
  'd["config"]["subjects"] == ["events.>"]' \
  'd["config"]["retention"] == "limits"' \
  'd["config"]["storage"] == "file"' \
  'd["config"]["discard"] == "old"' \
  'd["config"]["max_age"] == 7 * 24 * 3600 * 10**9' \
  'd["config"]["max_bytes"] == 10 * 1024**3' \
  'd["config"]["num_replicas"] == 1'
check_json stream "stream EVENTS holds messages 1..20" \
  'd["state"]["messages"] == 20' 'd["state"]["first_seq"] == 1' 'd["state"]["last_seq"] == 20'
check_json consumer "durable event-processor has the seed's config" \
  'd["config"]["durable_name"] == "event-processor"' \
  'd["config"]["deliver_policy"] == "all"' \
  'd["config"]["ack_policy"] == "explicit"' \
  'd["config"]["max_deliver"] == 5' \
  'd["config"]["ack_wait"] == 30 * 10**9' \
  'd["config"].get("deliver_subject") is None'
check_json consumer "consumer ack floor is 20, nothing pending" \
  'd["ack_floor"]["stream_seq"] == 20' 'd["ack_floor"]["consumer_seq"] == 20' \
  'd["delivered"]["stream_seq"] == 20' 'd["num_ack_pending"] == 0' \
  'd["num_pending"] == 0' 'd["num_redelivered"] == 0'

# ---- 4. run 2: same AddStream/AddConsumer again, the durable resumes at 21 ---------
pyjs publish 21 25 || fail "publishing event-21..event-25 failed"
ok "published event-21..event-25 (stream seq 21..25)"
run_program run2 5 21 25
check_json consumer "consumer resumed: ack floor is 25, nothing pending" \
  'd["ack_floor"]["stream_seq"] == 25' 'd["delivered"]["stream_seq"] == 25' \
  'd["num_ack_pending"] == 0' 'd["num_pending"] == 0' 'd["num_redelivered"] == 0'

echo "go-interop: $PASSED passed"
