#!/usr/bin/env bash
# libhub360 in processes of its own, beside the hub360 binary:
# - examples/reader prints exactly the bytes `hub360 serve` answers, for
#   every customer by id, for aliases and for identities;
# - a reader follows the change feed while `hub360 project` writes, and
#   every view it reads is whole; at the end it lists what export lists;
# - `cmake --install` puts the library, header and hub360.pc where asked,
#   and the example builds and runs against the installed copy.
# Environment (besides lib.sh's): READER (examples/reader), READER_WATCH
# (tests/e2e/reader_watch), HUB360_BUILD_DIR (for the install), CC and
# CFLAGS (to build the example against the install).
source "$(dirname "$0")/lib.sh"
: "${READER:?set READER to the example reader}"
: "${READER_WATCH:?set READER_WATCH to tests/e2e/reader_watch}"

use_brokers
cat "$HUB360_SOURCE_DIR"/schemas/examples/*.json |
  "$HUB360" publish -c "$WORK/hub360.yaml" >/dev/null
"$HUB360" project -c "$WORK/hub360.yaml" --once 2>/dev/null
STORE=$WORK/data/customer360

serve "$WORK/hub360.yaml"

# same_bytes URL_PATH REF: the API's body and the reader's first line.
same_bytes() {
  curl -sS -f -o "$WORK/api.body" "$API$1" || fail "GET $1"
  "$READER" "$STORE" "$2" >"$WORK/reader.out" || fail "reader $2"
  head -n1 "$WORK/reader.out" | head -c -1 >"$WORK/reader.body"
  cmp -s "$WORK/api.body" "$WORK/reader.body" ||
    { diff <(cat "$WORK/api.body"; echo) <(cat "$WORK/reader.body"; echo) >&2; fail "reader $2 differs from GET $1"; }
}

"$HUB360" export -c "$WORK/hub360.yaml" | jq -r .id >"$WORK/ids"
n=0
while read -r id; do same_bytes "/v1/customers/$id" "$id"; n=$((n + 1)); done <"$WORK/ids"
[ "$n" -ge 3 ] || fail "only $n customers in the store"
ok "every customer by id ($n): the reader prints the API's bytes"

ANN=$("$READER" "$STORE" email:ann.li@example.com | head -n1 | jq -r .id)
ALIAS=$("$READER" "$STORE" "$ANN" | head -n1 | jq -r '.aliases[0]')
[ -n "$ALIAS" ] && [ "$ALIAS" != null ] || fail "the examples give Ann no alias"
same_bytes "/v1/customers/$ALIAS" "$ALIAS"
ok "an alias: the same bytes, resolved_from first"
same_bytes "/v1/customers?email=%20Ann.Li@Example.com" "email: Ann.Li@Example.com"
same_bytes "/v1/customers?kind=email&value=ann.li@example.com" "email:ann.li@example.com"
ok "identities, normalized: the same bytes"
expect_eq "the example prints orders and revenue" \
  "$(sed -n 2p "$WORK/reader.out" | sed 's/ revenue.*//')" \
  "# $ANN: $(jq '.orders.count' "$WORK/api.body") orders,"
set +e
"$READER" "$STORE" cus_nobodyxxxxxxxxxxxx 2>"$WORK/err"
code=$?
set -e
expect_eq "an unknown customer: exit 1, said on stderr" \
  "$code $(cat "$WORK/err")" "1 reader: no customer cus_nobodyxxxxxxxxxxxx"
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

# Reading while the projector writes: many small batches, a reader in
# another process following the change feed.
"$HUB360" generate --events 6000 --people 800 --seed 3 |
  "$HUB360" publish -c "$WORK/hub360.yaml" >/dev/null
cat >>"$WORK/hub360.yaml" <<YAML
projector:
  batch_events: 100
YAML
rm -rf "$WORK/data"/customer360*
"$READER_WATCH" "$STORE" "$WORK/stop" >"$WORK/watched.ndjson" 2>"$WORK/watch.err" &
WATCH=$!
PIDS+=($WATCH)
"$HUB360" project -c "$WORK/hub360.yaml" --once 2>"$WORK/project.err" ||
  fail "project: $(cat "$WORK/project.err")"
touch "$WORK/stop"
wait "$WATCH" || fail "the reader saw a view that is not whole: $(cat "$WORK/watch.err")"
grep -q 'views whole' "$WORK/watch.err" || fail "reader_watch: $(cat "$WORK/watch.err")"
moving=$(sed -n 's/.*, \([0-9]*\) of them while the projector wrote$/\1/p' "$WORK/watch.err")
[ "${moving:-0}" -ge 2 ] ||
  fail "the reads did not overlap the projector's writes: $(cat "$WORK/watch.err")"
ok "reading while the projector writes: $(sed -n 's/^reader_watch: //p' "$WORK/watch.err")"
"$HUB360" export -c "$WORK/hub360.yaml" >"$WORK/export.ndjson"
expect_file_eq "then the reader lists what export lists, byte for byte" \
  "$WORK/watched.ndjson" "$WORK/export.ndjson"

# Installing, and building the example against the installed copy.
if [ -n "${HUB360_BUILD_DIR:-}" ]; then
  cmake --install "$HUB360_BUILD_DIR" --prefix "$WORK/prefix" >"$WORK/install.out" ||
    fail "cmake --install: $(cat "$WORK/install.out")"
  export PKG_CONFIG_PATH=$WORK/prefix/lib/pkgconfig
  [ -f "$PKG_CONFIG_PATH/hub360.pc" ] || PKG_CONFIG_PATH=$(dirname "$(find "$WORK/prefix" -name hub360.pc)")
  expect_eq "pkg-config knows hub360" "$(pkg-config --modversion hub360)" "$("$HUB360" --version | awk '{print $NF}')"
  # shellcheck disable=SC2046,SC2086
  "${CC:-cc}" ${CFLAGS:-} -Wall -Wextra -Werror -o "$WORK/reader" "$HUB360_SOURCE_DIR/examples/reader.c" \
    $(pkg-config --cflags --libs hub360) || fail "the example does not build against the install"
  LD_LIBRARY_PATH=$(pkg-config --variable=libdir hub360) "$WORK/reader" "$STORE" "$ANN" >"$WORK/installed.out" ||
    fail "the installed example: $(cat "$WORK/installed.out")"
  expect_eq "the example built against the install reads the store" \
    "$(head -n1 "$WORK/installed.out")" "$(grep "\"id\":\"$ANN\"" "$WORK/export.ndjson" || "$READER" "$STORE" "$ANN" | head -n1)"
  expect_eq "the library exports hub360_* and nothing else" \
    "$(nm -D --defined-only "$(pkg-config --variable=libdir hub360)/libhub360.so" | awk '$2 == "T" && $3 !~ /^hub360_/')" ""
fi
