#!/usr/bin/env bash
# End to end: with schema_registry.url set, hub360 registers the envelope
# under each topic's value subject, frames events with the registry's id,
# and decodes ids it has not seen by asking the registry.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
python3 "$HUB360_SOURCE_DIR/tests/e2e/fake_registry.py" registry.log > registry.out &
PIDS+=($!)
wait_for 20 grep -q '^port ' registry.out
port=$(sed -n 's/^port //p' registry.out)
start_broker "$WORK/data"
cat > hub360.yaml <<YAML
kafka: {brokers: "$BOOTSTRAP", partitions: 3}
schema_registry: {url: "http://127.0.0.1:$port/"}
YAML
examples="$HUB360_SOURCE_DIR/schemas/examples"
cat "$examples"/crm.lead.created.json "$examples"/erp.order.placed.json > two.ndjson
"$HUB360" publish --config hub360.yaml two.ndjson > /dev/null

# registered once per subject, with the newest released envelope's text
ENVELOPE_ID=$(awk '$2 == "hub360.Envelope" { id = $1 } END { print id }' "$HUB360_SOURCE_DIR/schemas/ids.tsv")
python3 - "$HUB360_SOURCE_DIR/schemas/released/$ENVELOPE_ID.avsc" <<'PY' || fail "registrations"
import json, sys
want = open(sys.argv[1]).read().strip()
log = [json.loads(l) for l in open("registry.log")]
regs = [e for e in log if e["op"] == "register"]
subjects = sorted(e["subject"] for e in regs)
assert subjects == ["hub360.crm.events-value", "hub360.erp.events-value"], subjects
assert all(e["schema"] == want for e in regs), "schema text differs"
assert all(e["id"] == 100 for e in regs)
assert all(e["content_type"] == "application/vnd.schemaregistry.v1+json" for e in regs)
PY
ok "the envelope is registered under <topic>-value"

# the messages carry the registry's id, 100
if command -v kcat >/dev/null; then
  kcat -C -b "$BOOTSTRAP" -t hub360.crm.events -c 1 -e -f '%s' 2>/dev/null | head -c 5 | od -An -tx1 > header
  expect_eq "framed with the registry's id" "$(tr -d ' \n' < header)" "0000000064"
fi

# a fresh process decodes id 100 by fetching it
"$HUB360" tail --config hub360.yaml --from-beginning --end > tail.out
sort tail.out > got
sort two.ndjson > want
expect_file_eq "tail decodes registry ids" got want
grep -q '"op": "fetch", "id": 100' registry.log || fail "tail fetched id 100"
ok "tail fetched the schema by id"

# an id the registry does not know is reported, and tail exits 1
printf '\x00\x00\x00\x01\x2c\x02' > unknown.bin
kcat -P -b "$BOOTSTRAP" -t hub360.scrm.events -p 0 unknown.bin 2>/dev/null ||
  fail "kcat could not produce"
set +e
"$HUB360" tail --config hub360.yaml --from-beginning --end scrm > /dev/null 2> tail.err
rc=$?
set -e
expect_eq "an unknown id is an error naming it" "$(cat tail.err)/$rc" \
  "hub360.scrm.events [0] @0: schema registry does not know schema id 300/1"
