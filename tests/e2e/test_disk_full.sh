#!/usr/bin/env bash
# The projector's LMDB map fills up (a small projector.map_size): `project`
# stops with an error that names the setting, the offsets it stored are
# those of its last committed batch (a second run stops at the same place,
# the views unchanged; the daemon stops the same way), and restarted with
# a larger map_size it resumes from there and ends with the views of an
# uninterrupted run (export, digest and offsets compared). About 15 s.
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

# offsets DIR: the offsets the store holds (hex key and value, one a line).
offsets() { mdb_dump -s offsets "$1/customer360" | sed -n '/^HEADER=END/,/^DATA=END/p' | paste - -; }

set +e
"$HUB360" project --once -c small.yaml 2>full.err
rc=$?
set -e
expect_eq "a full map stops the projector with exit code 1" "$rc" 1
grep -q "^hub360 project: the LMDB map of $WORK/small/customer360 is full (projector.map_size is 1048576 bytes): nothing of this batch was kept and the stored offsets are unmoved; raise projector.map_size and restart\$" full.err ||
  fail "the error does not name projector.map_size: $(cat full.err)"
ok "the error names projector.map_size and says the offsets are unmoved"
offsets small >offsets.1
"$HUB360" digest -c small.yaml >digest.1
[ -s offsets.1 ] || fail "no batch was committed before the map filled: the test proves nothing"
[ "$(cat digest.1)" != "$("$HUB360" digest -c ref.yaml)" ] ||
  fail "the small store holds everything: the map did not fill"

# Started again on the full map: the same failure, nothing moved.
set +e
"$HUB360" project --once -c small.yaml 2>full2.err
rc=$?
set -e
expect_eq "and again on restart" "$rc" 1
offsets small >offsets.2
expect_file_eq "the stored offsets did not move" offsets.2 offsets.1
expect_eq "the views did not change" "$("$HUB360" digest -c small.yaml)" "$(cat digest.1)"

# The daemon (`project` without --once, in its consumer group) stops the
# same way, rather than retrying a batch that cannot fit.
set +e
timeout 120 "$HUB360" project -c small.yaml 2>daemon.err
rc=$?
set -e
expect_eq "project as a daemon stops with exit code 1 too" "$rc" 1
grep -q "^hub360 project: the LMDB map of $WORK/small/customer360 is full (projector.map_size is 1048576 bytes)" daemon.err ||
  fail "the daemon's error: $(cat daemon.err)"
expect_file_eq "and leaves the stored offsets where they were" <(offsets small) offsets.1

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
expect_file_eq "and so are the stored offsets" <(offsets small) <(offsets ref)
