#!/usr/bin/env bash
# The projector's LMDB map fills up (a small projector.map_size): `project`
# stops with an error that names the setting, and the batch that did not
# fit is not kept: started again (once, then as a daemon) it stops the
# same way, its stored offsets never go back and its views change only
# when a smaller batch still fitted and moved them on. Restarted with a
# larger map_size it resumes from the stored offsets and ends with the
# views of an uninterrupted run (export, digest and offsets compared).
# About 15 s.
source "$(dirname "$0")/lib.sh"
use_brokers
cd "$WORK"

"$HUB360" generate --events 6000 --people 900 --seed 11 --duplicates 3 --control 2 >events.ndjson
"$HUB360" publish -c hub360.yaml <events.ndjson 2>publish.err ||
  fail "publish: $(cat publish.err)"

# Two configs on the same topics: a store too small for them, and the
# reference store of an uninterrupted run.
sed "s|^data_dir: .*|data_dir: $WORK/small|" hub360.yaml >small.yaml
printf 'projector:\n  map_size: 1MiB\n  batch_events: 500\n' >>small.yaml
sed "s|^data_dir: .*|data_dir: $WORK/ref|" hub360.yaml >ref.yaml
"$HUB360" project --once -c ref.yaml 2>ref.err || fail "the reference run: $(cat ref.err)"

# offsets DIR: the offsets the store holds, "KEY VALUE" (hex) a line.
offsets() {
  mdb_dump -s offsets "$1/customer360" |
    sed -n '/^HEADER=END/,/^DATA=END/{/^HEADER=END/d;/^DATA=END/d;p}' | paste -d' ' - - |
    tr -s ' ' | sed 's/^ //'
}
# moved BEFORE AFTER: "same", "forward" (no partition went back, one went
# on) or "backward" (a partition's offset went back or vanished).
moved() {
  python3 - "$1" "$2" <<'PY'
import sys
def read(path):
    return {k: int(v, 16) for k, v in (line.split() for line in open(path) if line.strip())}
a, b = read(sys.argv[1]), read(sys.argv[2])
if a == b:
    print("same")
elif all(k in b and b[k] >= v for k, v in a.items()):
    print("forward")
else:
    print("backward")
PY
}
# fails_full WHAT LOG COMMAND...: COMMAND (its stderr to LOG) exits 1
# and says the map is full, naming projector.map_size.
fails_full() {
  local what=$1 log=$2 rc=0
  shift 2
  "$@" 2>"$log" || rc=$?
  expect_eq "$what" "$rc" 1
  grep -q "^hub360 project: the LMDB map of $WORK/small/customer360 is full (projector.map_size is 1048576 bytes): nothing of this batch was kept and the stored offsets are unmoved; raise projector.map_size and restart\$" "$log" ||
    fail "the error does not name projector.map_size: $(cat "$log")"
}
# consistent BEFORE_OFFSETS BEFORE_DIGEST: after another failed run, the
# offsets never went back, and the views changed only if they went on (a
# smaller batch may still fit; the one that did not is never half kept).
consistent() {
  local m
  m=$(moved "$1" offsets.now)
  [ "$m" != backward ] || fail "the stored offsets went back: $(diff "$1" offsets.now)"
  if [ "$m" = same ]; then
    expect_eq "$3: the offsets did not move, nor did the views" "$(cat digest.now)" "$(cat "$2")"
  else
    ok "$3: a smaller batch still fitted; offsets only went forward"
  fi
}

fails_full "a full map stops the projector with exit code 1" full.err \
  "$HUB360" project --once -c small.yaml
ok "the error names projector.map_size and says the offsets are unmoved"
offsets small >offsets.1
"$HUB360" digest -c small.yaml >digest.1
[ -s offsets.1 ] || fail "no batch was committed before the map filled: the test proves nothing"
[ "$(cat digest.1)" != "$("$HUB360" digest -c ref.yaml)" ] ||
  fail "the small store holds everything: the map did not fill"

# Started again on the full map: the same failure.
fails_full "and again on restart" full2.err "$HUB360" project --once -c small.yaml
offsets small >offsets.now
"$HUB360" digest -c small.yaml >digest.now
consistent offsets.1 digest.1 "restarted"
cp offsets.now offsets.2
cp digest.now digest.2

# The daemon (`project` without --once, in its consumer group) stops the
# same way, rather than retrying a batch that cannot fit.
fails_full "project as a daemon stops with exit code 1 too" daemon.err \
  timeout 120 "$HUB360" project -c small.yaml
offsets small >offsets.now
"$HUB360" digest -c small.yaml >digest.now
consistent offsets.2 digest.2 "as a daemon"

# A larger map: it resumes from the stored offsets and ends exact.
sed -i 's/map_size: 1MiB/map_size: 64MiB/' small.yaml
"$HUB360" project --once -c small.yaml 2>resume.err || fail "the resumed run: $(cat resume.err)"
events=$(sed -n 's/^\([0-9]*\) events in .*/\1/p' resume.err)
[ -n "$events" ] && [ "$events" -lt 6000 ] ||
  fail "the resumed run read $events events: it did not resume from the stored offsets ($(cat resume.err))"
ok "the resumed run read only what was left ($events events)"
expect_eq "the digest is the uninterrupted run's" "$("$HUB360" digest -c small.yaml)" "$("$HUB360" digest -c ref.yaml)"
"$HUB360" export -c small.yaml >small.ndjson
"$HUB360" export -c ref.yaml >ref.ndjson
expect_file_eq "the export is the uninterrupted run's" small.ndjson ref.ndjson
expect_eq "and so are the stored offsets" "$(moved <(offsets small) <(offsets ref))" same

# A map too small for the store's tables themselves: the same advice,
# before anything was written.
sed 's/map_size: 64MiB/map_size: 4KiB/' small.yaml >tiny.yaml
sed -i "s#^data_dir: .*#data_dir: $WORK/tiny#" tiny.yaml
rc=0; "$HUB360" project --once -c tiny.yaml 2>tiny.err || rc=$?
expect_eq "a map too small for the tables: exit 1" "$rc" 1
expect_eq "and the message names the map size" "$(tail -n1 tiny.err)" \
  "hub360 project: the LMDB map of $WORK/tiny/customer360 is full before anything was written (a map of 4096 bytes; projector.map_size for the projector's store): raise it and restart"
