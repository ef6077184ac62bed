#!/usr/bin/env bash
# hub360 tests/kafka/kafka.sh: a real single-node Apache Kafka (KRaft,
# combined broker+controller) on loopback, run from Maven Central jars.
#
#   kafka.sh fetch     WORKDIR   resolve the broker jars into WORKDIR/lib (idempotent)
#   kafka.sh start     WORKDIR   fresh broker on free loopback ports; prints 127.0.0.1:PORT
#   kafka.sh stop      WORKDIR   SIGTERM (SIGKILL after 30 s), remove the data (keeps lib/)
#   kafka.sh kill      WORKDIR   SIGKILL, keep the data (crash tests)
#   kafka.sh restart   WORKDIR   start again on the same ports and data, no reformat
#   kafka.sh bootstrap WORKDIR   print 127.0.0.1:PORT
#   kafka.sh status    WORKDIR   exit 0 if the broker is running (prints its pid)
#
# stdout carries only the bootstrap address (start, restart, bootstrap) or
# the pid (status); everything else goes to stderr.
#
# Environment:
#   KAFKA_START_TIMEOUT  seconds to wait for the broker to answer metadata (120)
#   KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (30)
#   KAFKA_HEAP_OPTS      JVM heap options (-Xms128m -Xmx512m)
#   KAFKA_JVM_OPTS       extra JVM options, appended
#   KAFKA_VERSION        override the kafka_2.13 version pinned in pom.xml (for trying others)
#   JAVA                 java binary (default: $JAVA_HOME/bin/java, Debian's OpenJDK 17, java on PATH)
#   MVN                  maven binary (default: mvn)
#   MAVEN_REPO           Maven local repository (default: Maven's own, ~/.m2/repository)
#
# WORKDIR layout: lib/ (jars, kept), data/ (KRaft metadata + topic logs),
# server.properties, log4j2.properties, kafka.log (broker stdout/stderr and
# log4j output), kafka.pid, bootstrap.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$HERE/pom.xml"
PROG=kafka.sh

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
CMD=$1
mkdir -p -- "$2"
WORKDIR=$(cd -- "$2" && pwd)
LIB="$WORKDIR/lib"
DATA="$WORKDIR/data"
PROPS="$WORKDIR/server.properties"
LOG4J="$WORKDIR/log4j2.properties"
LOGFILE="$WORKDIR/kafka.log"
PIDFILE="$WORKDIR/kafka.pid"
BOOTFILE="$WORKDIR/bootstrap"

# One kafka.sh at a time per WORKDIR. fd 9 is closed for the broker below so
# the lock does not outlive this script.
exec 9>"$WORKDIR/.lock"
flock 9

# ---------------------------------------------------------------- java

find_java() {
    if [[ -n ${JAVA:-} ]]; then printf '%s\n' "$JAVA"; return; fi
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then printf '%s\n' "$JAVA_HOME/bin/java"; return; fi
    local j
    for j in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
        if [[ -x $j ]]; then printf '%s\n' "$j"; return; fi
    done
    command -v java || die "no java found: apt-get install -y openjdk-17-jdk-headless"
}

check_java() {
    local v
    v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
    [[ -n $v ]] || die "cannot tell the version of $JAVA"
    (( v >= 17 )) || die "$JAVA is Java $v; Kafka 4.x needs 17 or newer"
}

# ---------------------------------------------------------------- fetch

# The stamp names what lib/ was resolved from: the pom's content and any
# KAFKA_VERSION override. A matching stamp means lib/ is complete.
fetch_stamp() {
    { sha256sum < "$POM"; printf 'KAFKA_VERSION=%s\n' "${KAFKA_VERSION:-}"; } | sha256sum | cut -d' ' -f1
}

fetch() {
    local stamp
    stamp=$(fetch_stamp)
    if [[ -f $LIB/.complete && $(cat "$LIB/.complete") == "$stamp" ]]; then
        return 0
    fi
    local mvn=${MVN:-mvn}
    command -v "$mvn" >/dev/null || die "no maven found: apt-get install -y maven"
    local args=(-q -B -f "$POM")
    [[ -n ${MAVEN_REPO:-} ]] && args+=("-Dmaven.repo.local=$MAVEN_REPO")
    [[ -n ${KAFKA_VERSION:-} ]] && args+=("-Dkafka.version=$KAFKA_VERSION")
    local tmp="$WORKDIR/lib.tmp" t0
    rm -rf -- "$tmp"
    t0=$(now_ms)
    log "fetching Kafka jars into $LIB"
    # maven's own output goes to stderr (stdout is for the address only),
    # without the colour resets Maven 3.8 prints even with -q -B
    "$mvn" "${args[@]}" dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 \
        | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2 \
        || die "maven could not resolve the Kafka jars (see above)"
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "maven ran but $tmp has no kafka_2.13 jar"
    printf '%s\n' "$stamp" > "$tmp/.complete"
    rm -rf -- "$LIB"
    mv -- "$tmp" "$LIB"
    log "fetched $(ls "$LIB" | wc -l) jars ($(du -sh "$LIB" | cut -f1)) in $(( ($(now_ms) - t0) ))ms: $(cd "$LIB" && ls kafka_2.13-*.jar)"
}

# ---------------------------------------------------------------- processes

# pid of the broker started in this WORKDIR, if it is still running
running_pid() {
    [[ -f $PIDFILE ]] || return 1
    local pid state cmdline
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/stat ]] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ $state != Z && $state != X ]] || return 1
    # make sure the pid was not reused by something else
    cmdline=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *kafka.Kafka*"$PROPS"* ]] || return 1
    printf '%s\n' "$pid"
}

alive() {
    local pid=$1 state
    [[ -r /proc/$pid/stat ]] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ $state != Z && $state != X ]]
}

# wait up to $2 seconds for pid $1 to exit
wait_exit() {
    local pid=$1 deadline=$(( $(now_ms) + $2 * 1000 ))
    while alive "$pid"; do
        (( $(now_ms) < deadline )) || return 1
        sleep 0.1
    done
}

# stop the broker if it runs: SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT
terminate() {
    local pid
    pid=$(running_pid) || { rm -f -- "$PIDFILE"; return 0; }
    local t0
    t0=$(now_ms)
    log "stopping broker pid $pid (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_exit "$pid" "${KAFKA_STOP_TIMEOUT:-30}"; then
        log "broker pid $pid still running after ${KAFKA_STOP_TIMEOUT:-30}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_exit "$pid" 10 || die "broker pid $pid survives SIGKILL"
    fi
    log "broker stopped in $(( $(now_ms) - t0 ))ms"
    rm -f -- "$PIDFILE"
}

hard_kill() {
    local pid
    pid=$(running_pid) || { rm -f -- "$PIDFILE"; log "no broker running in $WORKDIR"; return 0; }
    log "killing broker pid $pid (SIGKILL)"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 10 || die "broker pid $pid survives SIGKILL"
    rm -f -- "$PIDFILE"
}

# ---------------------------------------------------------------- ports

# ports bound by any TCP socket on this machine (any address, any state)
used_ports() {
    local f _ local_addr
    for f in /proc/net/tcp /proc/net/tcp6; do
        [[ -r $f ]] || continue
        while read -r _ local_addr _; do
            [[ $local_addr == *:* ]] || continue
            printf '%d\n' "$(( 16#${local_addr##*:} ))"
        done < "$f"
    done
}

# a free port below Linux's ephemeral range (32768-60999), so outgoing
# connections of the tests cannot take it between now and the bind
free_port() {
    local avoid=" $(used_ports | tr '\n' ' ') $* " p i
    for (( i = 0; i < 200; i++ )); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
        if [[ $avoid != *" $p "* ]]; then printf '%s\n' "$p"; return 0; fi
    done
    die "no free loopback port found"
}

# ---------------------------------------------------------------- config

random_cluster_id() {
    # a Kafka Uuid: 16 random bytes, URL-safe base64 without padding; Kafka's
    # own generator never starts one with '-'
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id != -* ]] && break
    done
    printf '%s\n' "$id"
}

write_config() {
    local port=$1 cport=$2
    cat > "$PROPS" <<EOF
# written by hub360 tests/kafka/kafka.sh: single-node KRaft broker for tests
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA/logs

# one node: every internal topic has one replica
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
delete.topic.enable=true

# fast groups for tests
group.initial.rebalance.delay.ms=0

# after a kill -9 the restarted broker cannot register until the controller
# has timed out the dead one's session (default 9 s); 4 s with a heartbeat
# every 0.5 s still leaves room for a busy 2-core machine
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000

# small machine: few threads, a small compaction buffer
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
EOF
    cat > "$LOG4J" <<'EOF'
# written by hub360 tests/kafka/kafka.sh: broker logs to stdout, which
# kafka.sh sends to WORKDIR/kafka.log
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
# the full config dump (hundreds of lines per component); server.properties
# is beside the log
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
EOF
}

prop() { sed -n "s/^$1=//p" "$PROPS" | head -n1; }

broker_port() { prop listeners | sed -n 's/.*PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p'; }

# ---------------------------------------------------------------- run

jvm_opts() {
    local opts=(${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m})
    opts+=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
           -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J"
           -Dkafka.logs.dir="$WORKDIR")
    [[ -n ${KAFKA_JVM_OPTS:-} ]] && opts+=(${KAFKA_JVM_OPTS})
    printf '%s\n' "${opts[@]}"
}

format_storage() {
    local id
    id=$(random_cluster_id)
    log "formatting $DATA/logs with cluster id $id"
    local opts
    mapfile -t opts < <(jvm_opts)
    "$JAVA" "${opts[@]}" -cp "$LIB/*" kafka.tools.StorageTool format \
        -t "$id" -c "$PROPS" >>"$LOGFILE" 2>&1 9>&- \
        || { log_tail; die "formatting the storage failed"; }
}

launch() {
    local opts
    mapfile -t opts < <(jvm_opts)
    rm -f -- "$PIDFILE" "$PIDFILE.new"
    # setsid: the broker leaves this script's session and process group. The
    # inner bash writes its own pid and execs java, so the pid is java's
    # whether or not setsid had to fork.
    setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' kafka-launch "$PIDFILE.new" \
        "$JAVA" "${opts[@]}" -cp "$LIB/*" kafka.Kafka "$PROPS" \
        </dev/null >>"$LOGFILE" 2>&1 9>&- &
    local i
    for (( i = 0; i < 100; i++ )); do
        [[ -s $PIDFILE.new ]] && break
        sleep 0.05
    done
    [[ -s $PIDFILE.new ]] || die "the broker did not start (no pid)"
    mv -- "$PIDFILE.new" "$PIDFILE"
}

# the end of kafka.log without config dumps (their lines start with a tab)
log_tail() { grep -v $'^\t' "$LOGFILE" | tail -n 60 >&2 || true; }

# does the broker answer a metadata request?
answers() {
    local addr=$1
    if command -v kcat >/dev/null; then
        # all-topics metadata: asking for a named topic would auto-create it
        timeout 10 kcat -b "$addr" -L -m 2 -X socket.timeout.ms=2000 2>/dev/null \
            | grep -q ' 1 brokers:' || return 1
    else
        # no kcat: the port accepts connections and the broker said it started
        (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null || return 1
        grep -q 'Kafka Server started' "$LOGFILE" || return 1
    fi
}

wait_ready() {
    local addr=$1 t0=$2 pid
    pid=$(cat "$PIDFILE")
    local deadline=$(( t0 + ${KAFKA_START_TIMEOUT:-120} * 1000 ))
    while :; do
        if ! alive "$pid"; then
            log "the broker exited before it answered; tail of $LOGFILE:"
            log_tail
            return 1
        fi
        answers "$addr" && break
        if (( $(now_ms) >= deadline )); then
            log "the broker did not answer within ${KAFKA_START_TIMEOUT:-120}s; tail of $LOGFILE:"
            log_tail
            kill -KILL "$pid" 2>/dev/null || true
            rm -f -- "$PIDFILE"
            return 1
        fi
        sleep 0.2
    done
    printf '%s\n' "$addr" > "$BOOTFILE"
    log "broker pid $pid up at $addr in $(( $(now_ms) - t0 ))ms (log: $LOGFILE)"
    printf '%s\n' "$addr"
}

start() {
    local t0 attempt port cport
    fetch
    terminate
    JAVA=$(find_java); check_java
    for attempt in 1 2 3; do
        t0=$(now_ms)
        rm -rf -- "$DATA" "$BOOTFILE"
        port=$(free_port)
        cport=$(free_port "$port")
        write_config "$port" "$cport"
        : > "$LOGFILE"
        log "starting Kafka $(cd "$LIB" && ls kafka_2.13-*.jar | sed 's/^kafka_2.13-//; s/\.jar$//') on 127.0.0.1:$port (controller $cport) in $WORKDIR"
        format_storage
        launch
        if wait_ready "127.0.0.1:$port" "$t0"; then return 0; fi
        # lost a race for the port: try others
        grep -q 'Address already in use' "$LOGFILE" || break
        log "port taken meanwhile; trying other ports"
    done
    die "the broker did not start"
}

restart() {
    [[ -f $PROPS && -d $DATA/logs ]] || die "nothing to restart in $WORKDIR: run start first"
    fetch
    terminate
    JAVA=$(find_java); check_java
    local port t0
    port=$(broker_port)
    [[ -n $port ]] || die "no PLAINTEXT listener in $PROPS"
    t0=$(now_ms)
    rm -f -- "$BOOTFILE"
    printf '\n===== kafka.sh restart %s =====\n' "$(date -u +%FT%TZ)" >> "$LOGFILE"
    log "restarting the broker on 127.0.0.1:$port with the data in $DATA"
    launch
    wait_ready "127.0.0.1:$port" "$t0" || die "the broker did not restart"
}

stop() {
    terminate
    rm -rf -- "$DATA" "$BOOTFILE"
}

case $CMD in
    fetch) fetch ;;
    start) start ;;
    restart) restart ;;
    stop) stop ;;
    kill) hard_kill ;;
    bootstrap)
        [[ -s $BOOTFILE ]] || die "no broker started in $WORKDIR"
        cat "$BOOTFILE" ;;
    status)
        pid=$(running_pid) || { log "not running"; exit 1; }
        printf '%s\n' "$pid" ;;
    *) usage ;;
esac
