# bench/lib.sh - what the benchmark scripts share; sourced, not run.
#
# Each script prints its human report and, for each figure it measured,
# one machine-readable line that bench/run-all collects:
#
#   RESULT name=NAME unit=UNIT hub360=N reference=N ref=PEER ratio=R
#          rss_kib=K process=CMD [size=... p50_ms=... p99_ms=...
#          ref_p50_ms=... ref_p99_ms=... (or _us: microseconds) anon_kib=...
#          broker_kib=... note=...]
#
# on one line: space-separated KEY=VALUE pairs, values without spaces
# (an underscore stands for one in note=). hub360 and reference are in
# UNIT (higher is better); ratio is hub360 / reference; rss_kib is the
# peak resident set of the hub360 process measured (process=, the
# command), in KiB, as the kernel counts it (VmHWM, or ru_maxrss through
# /usr/bin/time): LMDB's mapped file pages included. anon_kib is the
# anonymous part of it (without the file pages); broker_kib the peak RSS
# of the embedded broker (`hub360 broker`) where the figure went through
# it (a deployment on a Kafka cluster runs none). bench/projector-cpu,
# which compares binaries rather than hub360 with a peer, prints lines
# of this form with keys of its own (its --help).

# bench_result NAME KEY=VALUE...: prints the RESULT line of NAME; a
# value with a space in it is a bug of the caller's, refused.
bench_result() {
  local kv
  for kv in "${@:2}"; do
    case "$kv" in
      *' '*|*=) echo "bench_result: '$kv' (of $1) is empty or has a space" >&2; return 1 ;;
      *=*) ;;
      *) echo "bench_result: '$kv' (of $1) is not KEY=VALUE" >&2; return 1 ;;
    esac
  done
  echo "RESULT name=$1 ${*:2}"
}

# bench_ratio A B: A / B to three decimals ("-" when B is 0).
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0) printf "%.3f", a / b; else printf "-" }'; }

# bench_hwm PID: the peak resident set (VmHWM) of live process PID, in
# KiB; 0 when it is gone.
bench_hwm() { awk '/^VmHWM:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# bench_max A B: the larger of two integers.
bench_max() { echo $(( $1 > ${2:-0} ? $1 : ${2:-0} )); }

# bench_now: the wall clock in seconds, to the nanosecond.
bench_now() { date +%s.%N; }

# bench_secs START END: the seconds between two bench_now readings.
bench_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# bench_rate N SECONDS: N / SECONDS, rounded.
bench_rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# bench_free_port: a TCP port of 127.0.0.1 free right now.
bench_free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# bench_publish HUB360 CONFIG EVENTS PEOPLE: `hub360 generate` of EVENTS
# events over PEOPLE people (seed 1), published with CONFIG in big
# producer batches, as a bulk load would be: the mock cluster keeps every
# produce request as a message set and serves a fetch by walking them, so
# many tiny sets would slow every reader down alike. Prints publish's
# summary line; leaves $WORK/publish.yaml.
bench_publish() {
  sed 's/^kafka:$/kafka:\n  properties:\n    linger.ms: "100"\n    batch.size: "1000000"/' \
    "$2" >"$WORK/publish.yaml"
  "$1" generate --events "$3" --people "$4" --seed 1 |
    "$1" publish -c "$WORK/publish.yaml"
}

# bench_start_broker CONFIG: starts `$HUB360 broker -c CONFIG` (the
# embedded broker, its output in $WORK/broker.out and .err) and waits up
# to 20 s for its address; sets BROKER_PID (for the caller's cleanup)
# and BOOTSTRAP. Exits the script when the broker does not start.
bench_start_broker() {
  "$HUB360" broker -c "$1" >"$WORK/broker.out" 2>"$WORK/broker.err" &
  BROKER_PID=$!
  local deadline=$(( $(date +%s) + 20 ))
  until grep -q '^bootstrap: ' "$WORK/broker.out" 2>/dev/null; do
    if ! kill -0 "$BROKER_PID" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$0: the broker did not start:" >&2
      cat "$WORK/broker.err" >&2
      exit 1
    fi
    sleep 0.05
  done
  BOOTSTRAP=$(sed -n 's/^bootstrap: //p' "$WORK/broker.out" | head -n1)
}
