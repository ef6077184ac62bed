#!/usr/bin/env bash
# hub360 tests/kafka/selftest.sh [WORKDIR]: checks kafka.sh and the broker it
# runs against Debian's kcat (librdkafka): idempotent produce, consume,
# group commit, transactions, compression, headers, kill -9 + restart keeps
# the data, graceful restart, stop. Ends with "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K="$HERE/kafka.sh"
W=${1:-$HERE/../../build/kafka-selftest}
pass=0 fail=0

ok()   { pass=$((pass + 1)); echo "ok   $*"; }
bad()  { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
ms()   { date +%s%3N; }

command -v kcat >/dev/null || { echo "selftest: kcat is missing (apt-get install -y kcat)" >&2; exit 1; }
trap '"$K" stop "$W" >/dev/null 2>&1 || true' EXIT

t=$(ms); "$K" fetch "$W"; echo "fetch: $(( $(ms) - t )) ms"
t=$(ms); A=$("$K" start "$W"); echo "start: $(( $(ms) - t )) ms -> $A"
check "bootstrap prints the start address" test "$("$K" bootstrap "$W")" = "$A"
check "address is 127.0.0.1:PORT" bash -c '[[ $1 =~ ^127\.0\.0\.1:[0-9]+$ ]]' _ "$A"

kc() { kcat -b "$A" -X log_level=3 "$@"; }

seq 1 1000 | kc -P -t t1 -X enable.idempotence=true -X acks=all
check "1000 idempotent messages read back in order" \
    cmp -s <(kc -C -t t1 -e -o beginning -q) <(seq 1 1000)

check "group g1 reads all 1000" test "$(kc -G g1 -X auto.offset.reset=earliest -e -q t1 | wc -l)" = 1000
check "group g1 committed: nothing new" test "$(kc -G g1 -X auto.offset.reset=earliest -e -q t1 | wc -l)" = 0
seq 1001 1010 | kc -P -t t1 -X enable.idempotence=true -X acks=all
check "group g1 resumes at its commit" \
    test "$(kc -G g1 -X auto.offset.reset=earliest -e -q t1 | tr '\n' ' ')" = "$(seq 1001 1010 | tr '\n' ' ')"

printf 'k1:v1\nk2:v2\n' | kc -P -t ttx -K: -X transactional.id=selftest-tx >/dev/null 2>&1
check "transactional produce, read_committed" \
    test "$(kc -C -t ttx -e -q -X isolation.level=read_committed -f '%k=%s ')" = "k1=v1 k2=v2 "

for z in gzip snappy lz4 zstd; do
    seq 1 100 | kc -P -t "tz_$z" -z "$z" -X enable.idempotence=true
    check "compression $z" test "$(kc -C -t "tz_$z" -e -q | wc -l)" = 100
done

echo x | kc -P -t th -H a=1 -H b=2
check "headers" test "$(kc -C -t th -e -q -f '%h')" = "a=1,b=2"

"$K" kill "$W"
check "kill: broker gone" bash -c '! "$1" status "$2" >/dev/null 2>&1' _ "$K" "$W"
t=$(ms); B=$("$K" restart "$W"); echo "restart after kill -9: $(( $(ms) - t )) ms"
check "restart keeps the address" test "$B" = "$A"
check "restart keeps the data" test "$(kc -C -t t1 -e -o beginning -q | wc -l)" = 1010
check "restart keeps the group commit" test "$(kc -G g1 -X auto.offset.reset=earliest -e -q t1 | wc -l)" = 0
seq 1 50 | kc -P -t t1 -X enable.idempotence=true -X acks=all
check "produce after restart" test "$(kc -C -t t1 -e -o beginning -q | wc -l)" = 1060

t=$(ms); B=$("$K" restart "$W"); echo "graceful restart: $(( $(ms) - t )) ms"
check "graceful restart keeps the data" test "$(kc -C -t t1 -e -o beginning -q | wc -l)" = 1060

t=$(ms); "$K" stop "$W"; echo "stop: $(( $(ms) - t )) ms"
check "stop: broker gone" bash -c '! "$1" status "$2" >/dev/null 2>&1' _ "$K" "$W"
check "stop: data removed, lib kept" bash -c '[[ ! -e $1/data && -f $1/lib/.complete ]]' _ "$W"
check "stop again is fine" "$K" stop "$W"

echo "$pass passed, $fail failed"
(( fail == 0 ))
