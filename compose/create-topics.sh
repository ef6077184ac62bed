#!/bin/bash
# hub360's topics on the compose cluster, run once by the `topics` service
# (the Apache Kafka image's kafka-topics.sh and kafka-configs.sh) before
# any hub360 container starts. Safe to run again: existing topics keep
# their partitions and get their retention and cleanup policy re-applied.
set -euo pipefail
bin=${KAFKA_BIN:-/opt/kafka/bin}   # the Apache Kafka image's scripts
bootstrap=${KAFKA_BOOTSTRAP:?}
prefix=${HUB360_TOPIC_PREFIX:-hub360.}
partitions=${HUB360_PARTITIONS:?}
replication=${HUB360_REPLICATION:?}

# topic config: create it if missing, then make its config what hub360
# relies on (an older topic may have been created with broker defaults).
topic() {
    local name=$prefix$1 config=$2
    "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create \
        --if-not-exists --topic "$name" --partitions "$partitions" \
        --replication-factor "$replication" --config "$config"
    "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter \
        --entity-type topics --entity-name "$name" --add-config "$config"
}

# The event topics are the record of truth (every view is rebuilt from
# them): keep them forever. So is the dead-letter topic, until someone
# has looked at what it holds.
for t in crm.events erp.events scrm.events control.events deadletter; do
    topic "$t" retention.ms=-1
done
# The customer-360 changelog keeps the latest view of each customer.
topic customer360.changelog cleanup.policy=compact

"$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe \
    --topic "${prefix//./\\.}.*"
