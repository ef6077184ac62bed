#!/usr/bin/env bash
# A backup and a restore as docs/OPERATIONS.md tells them: `mdb_copy -c`
# of the store (as a stream, and into a directory while a projector
# writes), the store lost, the backup put back with the documented
# commands, `project --once`: it resumes where the backup was taken,
# consuming only what came after, and ends with the views of a store that
# never stopped.
source "$(dirname "$0")/lib.sh"
use_brokers
cd "$WORK"
command -v mdb_copy >/dev/null || fail "mdb_copy is needed (apt-get install lmdb-utils)"

prefix=$(sed -n 's/^  topic_prefix: "\(.*\)"$/\1/p' hub360.yaml)
config a "$prefix" 3 "projector:
  batch_events: 200"
config ref "$prefix" 3

"$HUB360" generate --events 4000 --people 600 --seed 11 > events.ndjson
head -n 2500 events.ndjson > first.ndjson
tail -n +2501 events.ndjson > second.ndjson
"$HUB360" publish -c a.yaml first.ndjson > /dev/null
"$HUB360" project -c a.yaml --once 2> a1.err || { cat a1.err >&2; fail "project --once"; }

# the stream form, of a store at rest
mdb_copy -c a/customer360 > customer360.mdb
[ -s customer360.mdb ] || fail "mdb_copy wrote nothing"
ok "mdb_copy -c streams the store ($(stat -c %s customer360.mdb) bytes)"

# the directory form, while a projector writes the second part
"$HUB360" publish -c a.yaml second.ndjson > /dev/null
"$HUB360" project -c a.yaml 2> a2.err &
daemon=$!
PIDS+=("$daemon")
mkdir live-copy
mdb_copy -c a/customer360 live-copy || fail "mdb_copy beside a running projector"
caught_up() { [ "$("$HUB360" digest -c a.yaml 2>/dev/null | awk '{print $2}')" = "$(ref_customers)" ]; }
"$HUB360" project -c ref.yaml --once 2> ref.err || { cat ref.err >&2; fail "the reference"; }
ref_customers() { "$HUB360" digest -c ref.yaml | awk '{print $2}'; }
wait_for 60 caught_up
kill -TERM "$daemon"
wait "$daemon" || fail "the projector did not exit 0 on SIGTERM: $(tail -n 3 a2.err)"
expect_eq "the live store ends as the reference" "$("$HUB360" digest -c a.yaml)" "$("$HUB360" digest -c ref.yaml)"

# restore: the store lost, the stream put back as the docs say
restore() { # restore FILE
  rm -rf a/customer360*
  mkdir a/customer360.1 && cp "$1" a/customer360.1/data.mdb
  ln -s customer360.1 a/customer360
}
restore customer360.mdb
"$HUB360" project -c a.yaml --once 2> a3.err || { cat a3.err >&2; fail "project --once on the restored store"; }
expect_eq "the restored store consumes only what came after the backup" \
  "$(tail -n 1 a3.err | sed 's/ events in .*//')" "$(wc -l < second.ndjson)"
expect_eq "and ends with the views of a store that never stopped" \
  "$("$HUB360" digest -c a.yaml)" "$("$HUB360" digest -c ref.yaml)"
expect_file_eq "export too, byte for byte" <("$HUB360" export -c a.yaml) <("$HUB360" export -c ref.yaml)

# the copy taken while the projector wrote: a consistent store too
restore live-copy/data.mdb
"$HUB360" project -c a.yaml --once 2> a4.err || { cat a4.err >&2; fail "project --once on the live copy"; }
expect_eq "a copy taken while the projector wrote restores to the same views" \
  "$("$HUB360" digest -c a.yaml)" "$("$HUB360" digest -c ref.yaml)"
