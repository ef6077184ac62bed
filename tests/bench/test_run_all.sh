#!/usr/bin/env bash
# bench.run-all: `bench/run-all --quick` gives the whole table, a row per
# benchmark with its figures, ratio and peak RSS, so that a change to one
# benchmark script that breaks its RESULT line shows here; a benchmark
# that fails shows FAILED with its log; an unknown --only is refused.
# Nothing here judges a figure: speed is measured by bench/, never
# asserted (docs/PERFORMANCE.md). 35-55 s on 2 cores, quiet to busy.
# Environment: HUB360, READER_BENCH, FLOOR_BENCH, HUB360_SOURCE_DIR.
. "$(dirname "$0")/../e2e/lib.sh"
: "${READER_BENCH:?set READER_BENCH to build/bench/reader_bench}"
: "${FLOOR_BENCH:?set FLOOR_BENCH to build/bench/floor_bench}"
export HUB360 READER_BENCH FLOOR_BENCH
RUN_ALL=$HUB360_SOURCE_DIR/bench/run-all

# The whole table, small sizes.
rc=0
"$RUN_ALL" --quick --out "$WORK/quick" >"$WORK/table" 2>"$WORK/err" || rc=$?
[ "$rc" = 0 ] || { tail -n 40 "$WORK/err" >&2; cat "$WORK/table" >&2; fail "run-all --quick exited $rc"; }
rows=$(grep -c '^| [^-b]' "$WORK/table" || true)
expect_eq "a row per benchmark" "$rows" 9
expect_eq "the rows, in order" "$(awk -F' [|] ' '/^[|] [^-b]/ { sub(/^[|] /, "", $1); print $1 }' "$WORK/table")" \
"projector: \`project --once\`
\`hub360 rebuild\`
read API: \`serve\`
C reader: \`hub360_get\`
C reader: get + main fields
C reader: get + \`hub360_view_json\`
webhook ingest: \`adapters\`
\`hub360 import\`
CDC: \`adapters\`"
# Each row: hub360's figure in its unit, a reference and a ratio, a peak
# RSS of a named process; the reader's latencies in µs.
bad=$(awk -F' [|] ' '/^[|] [^-b]/ {
  ok = $3 ~ /^[0-9][0-9,]* (events|req|lookups|records)\/s$/ && $4 ~ /[0-9]\/s$/ &&
       $5 ~ /^[0-9]+[.][0-9]+$/ && $8 ~ /^[a-z_]+ [1-9][0-9,]* MiB/
  if ($1 ~ /C reader/) ok = ok && $6 ~ / µs$/ && $7 ~ / µs$/
  if (!ok) print
}' "$WORK/table")
expect_eq "every row has its figures" "$bad" ""
grep -q '^bench/run-all --quick on .* load average [0-9.]*-[0-9.]* over the run$' "$WORK/table" ||
  fail "no heading with the date and load: $(head -n1 "$WORK/table")"
# bench/projector's second reference: the floor, 1 insert an event, then
# 2 inserts and 2 updates, then those after 3 reads.
expect_eq "the floor's lines" \
  "$(sed -n 's/^floor *[1-9][0-9]* events\/s: \(.*\) an event, nothing else ([0-9.]* of kcat; the projector is [0-9.]* of it)$/\1/p' "$WORK/quick/projector.log")" \
  "1 random insert
2 inserts and 2 updates (of 4000 keys)
3 reads, 2 inserts and 2 updates (of 4000 keys; 8-308 bytes)"
expect_eq "table.md is the table printed" "$(cat "$WORK/quick/table.md")" "$(cat "$WORK/table")"

# A benchmark that fails: its row says so and names its log; exit 1.
rc=0
HUB360=$WORK/no-such-hub360 "$RUN_ALL" --quick --only import --out "$WORK/broken" \
  >"$WORK/table" 2>"$WORK/err" || rc=$?
expect_eq "exit status when a benchmark fails" "$rc" 1
expect_eq "its row" "$(grep '^| `hub360 import`' "$WORK/table" | cut -d'|' -f2-5)" \
  " \`hub360 import\` | | FAILED | see $WORK/broken/import.log "
grep -q "bench/import: no hub360 at $WORK/no-such-hub360" "$WORK/broken/import.log" ||
  fail "the log does not say why: $(cat "$WORK/broken/import.log")"

# An unknown name.
rc=0
"$RUN_ALL" --only projector,nosuch >"$WORK/out" 2>"$WORK/err" || rc=$?
expect_eq "exit status of an unknown --only" "$rc" 2
expect_eq "its message" "$(cat "$WORK/err")" \
  "bench/run-all: --only: no benchmark 'nosuch' (one of: projector rebuild api reader webhook import cdc kafka-streams)"
