package io.hub360.bench.ks;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

import io.hub360.bench.ks.PerEmail.Aggregate;
import io.hub360.bench.ks.PerEmail.Contribution;

/**
 * The Kafka Streams peer of hub360's projector benchmark: a per-email KTable (event count and amount sums
 * per currency) over hub360's event topics, materialized in the default persistent store (RocksDB).
 *
 * <p>Standard output gets exactly one line, {@code kafka-streams: N events in S.SSS s = R events/s};
 * everything else goes to standard error.
 */
public final class PerEmailBench {

    static final String STORE = "per-email";

    private static final String USAGE = """
            usage: run --bootstrap HOST:PORT --events N [options]
              --bootstrap HOST:PORT   Kafka bootstrap servers (required)
              --events N              stop once N input records are consumed and projected (required)
              --prefix P              topic prefix (default hub360.): P{crm,erp,scrm}.events
              --threads T             num.stream.threads (default 2)
              --schemas DIR           folder of released schemas, ID.avsc (default: schemas/released
                                      of the hub360 checkout this jar was built in)
              --dump FILE             write the final table: email TAB count TAB CUR=sum,... sorted by email
              --clock flushed|aggregated
                                      flushed (default): stop the clock once the N records are folded into
                                      the KTable and close() has committed (caches flushed to RocksDB and
                                      the changelog, offsets committed); aggregated: once folded only
              --timeout S             give up after S seconds (default 600)
              --prop KEY=VALUE        extra Kafka Streams / client property (repeatable)
              --keep-topics           keep this run's internal topics (repartition, changelog)
            """;

    private PerEmailBench() {}

    public static void main(String[] argv) {
        try {
            System.exit(run(argv));
        } catch (UsageException e) {
            System.err.println("kafka-streams: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
        } catch (Exception e) {
            System.err.println("kafka-streams: error: " + e);
            e.printStackTrace(System.err);
            System.exit(1);
        }
    }

    static final class UsageException extends Exception {
        UsageException(String m) {
            super(m);
        }
    }

    static void log(String fmt, Object... args) {
        System.err.println("kafka-streams: " + String.format(Locale.ROOT, fmt, args));
    }

    static double secs(long nanos) {
        return nanos / 1e9;
    }

    static int run(String[] argv) throws Exception {
        String bootstrap = null;
        long events = -1;
        String prefix = "hub360.";
        int threads = 2;
        Path schemasDir = null;
        Path dump = null;
        String clock = "flushed";
        long timeoutS = 600;
        boolean keepTopics = false;
        Properties extra = new Properties();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("-h") || a.equals("--help")) {
                System.err.print(USAGE);
                return 0;
            }
            if (a.equals("--keep-topics")) {
                keepTopics = true;
                continue;
            }
            if (i + 1 >= argv.length) {
                throw new UsageException(a.startsWith("--") ? a + " needs a value" : "unexpected argument " + a);
            }
            String v = argv[++i];
            try {
                switch (a) {
                    case "--bootstrap" -> bootstrap = v;
                    case "--events" -> events = Long.parseLong(v);
                    case "--prefix" -> prefix = v;
                    case "--threads" -> threads = Integer.parseInt(v);
                    case "--schemas" -> schemasDir = Paths.get(v);
                    case "--dump" -> dump = Paths.get(v);
                    case "--clock" -> clock = v;
                    case "--timeout" -> timeoutS = Long.parseLong(v);
                    case "--prop" -> {
                        int eq = v.indexOf('=');
                        if (eq <= 0) {
                            throw new UsageException("--prop wants KEY=VALUE, not " + v);
                        }
                        extra.setProperty(v.substring(0, eq), v.substring(eq + 1));
                    }
                    default -> throw new UsageException("unknown option " + a);
                }
            } catch (NumberFormatException e) {
                throw new UsageException(a + ": not a number: " + v);
            }
        }
        if (bootstrap == null) {
            throw new UsageException("--bootstrap is required");
        }
        if (events <= 0) {
            throw new UsageException("--events N (N > 0) is required");
        }
        if (threads < 1) {
            throw new UsageException("--threads must be at least 1");
        }
        if (!clock.equals("flushed") && !clock.equals("aggregated")) {
            throw new UsageException("--clock is flushed or aggregated, not " + clock);
        }
        if (schemasDir == null) {
            schemasDir = defaultSchemasDir();
        }

        // The writer schema of hub360.Envelope (id 1 today) must load before anything starts.
        EnvelopeDecoder decoder = new EnvelopeDecoder(schemasDir);
        Schema envelope = decoder.schema(1);
        log("schemas from %s (id 1 = %s)", schemasDir, envelope.getFullName());

        String appId = String.format(Locale.ROOT, "hub360-ks-peer-%d-%08x", System.currentTimeMillis(),
                ThreadLocalRandom.current().nextInt());

        List<String> wanted = List.of(prefix + "crm.events", prefix + "erp.events", prefix + "scrm.events");
        List<String> topics = new ArrayList<>();
        Properties adminProps = new Properties();
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(adminProps)) {
            Set<String> existing = admin.listTopics().names().get(60, TimeUnit.SECONDS);
            for (String t : wanted) {
                if (existing.contains(t)) {
                    topics.add(t);
                } else {
                    log("topic %s does not exist: not subscribed", t);
                }
            }
        }
        if (topics.isEmpty()) {
            log("error: none of %s exists on %s", wanted, bootstrap);
            return 1;
        }

        Path stateDir = Files.createTempDirectory("hub360-ks-peer-");
        Counters counters = new Counters(events);
        Topology topology = buildTopology(topics, decoder, counters);
        log("topology:%n%s", topology.describe());

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.putAll(extra);

        KafkaStreams streams = new KafkaStreams(topology, props);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        streams.setUncaughtExceptionHandler(e -> {
            failure.compareAndSet(null, e);
            counters.done.countDown();
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.PENDING_ERROR) {
                failure.compareAndSet(null, new IllegalStateException("Kafka Streams went to " + now));
                counters.done.countDown();
            }
        });

        // Interrupted (Ctrl-C): still close the client and remove the state directory.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!Files.exists(stateDir)) {
                return; // finished normally
            }
            log("interrupted: closing Kafka Streams, removing %s", stateDir);
            try {
                streams.close(java.time.Duration.ofSeconds(10));
            } catch (Throwable e) {
                log("warning: close: %s", e);
            } finally {
                deleteTree(stateDir);
            }
        }, "hub360-ks-peer-shutdown"));

        log("%s: %d thread(s), topics %s, state in %s, until %d events", appId, threads, topics, stateDir, events);
        long t0 = System.nanoTime();
        counters.t0 = t0;
        streams.start();

        long deadline = t0 + TimeUnit.SECONDS.toNanos(timeoutS);
        long lastReport = t0;
        while (!counters.done.await(200, TimeUnit.MILLISECONDS)) {
            long now = System.nanoTime();
            if (now - lastReport >= TimeUnit.SECONDS.toNanos(5)) {
                lastReport = now;
                log("%.1f s: %d input records, %d contributions aggregated, state %s", secs(now - t0),
                        counters.input.get(), counters.aggregated.get(), streams.state());
            }
            if (now > deadline) {
                failure.compareAndSet(null, new IllegalStateException(String.format(Locale.ROOT,
                        "timed out after %d s with %d of %d input records", timeoutS, counters.input.get(), events)));
                break;
            }
        }

        int rc = 0;
        Throwable f = failure.get();
        if (f != null) {
            log("error: %s", f);
            rc = 1;
        }
        long tAgg = counters.tAggregated;
        if (rc == 0 && dump != null) {
            long d0 = System.nanoTime();
            long rows = dumpTable(streams, dump);
            log("dumped %d e-mails to %s in %.3f s (not timed)", rows, dump, secs(System.nanoTime() - d0));
        }

        long c0 = System.nanoTime();
        boolean closed = streams.close(java.time.Duration.ofSeconds(120));
        long closeNs = System.nanoTime() - c0;
        if (!closed) {
            log("error: Kafka Streams did not close within 120 s");
            rc = 1;
        }
        streams.cleanUp();
        deleteTree(stateDir);
        if (!keepTopics) {
            deleteInternalTopics(bootstrap, appId);
        }

        if (rc != 0) {
            return rc;
        }
        log("first record after %.3f s; %d input records after %.3f s; all %d contributions aggregated after %.3f s;"
                        + " close() (final commit) took %.3f s",
                secs(counters.tFirst - t0), events, secs(counters.tInput - t0), counters.emittedAtN,
                secs(tAgg - t0), secs(closeNs));
        log("from the first record: %.0f events/s to aggregated, %.0f events/s to flushed (startup excluded)",
                events / secs(tAgg - counters.tFirst), events / secs(tAgg - counters.tFirst + closeNs));
        log("%d input records consumed in all (%d over N: redelivered or beyond N), %d without an e-mail, %d undecodable",
                counters.input.get(), counters.input.get() - events, counters.noEmail.get(), counters.bad.get());
        if (counters.bad.get() > 0) {
            log("error: %d records could not be decoded", counters.bad.get());
            rc = 1;
        }
        long elapsed = (tAgg - t0) + (clock.equals("flushed") ? closeNs : 0);
        double s = secs(elapsed);
        System.out.printf(Locale.ROOT, "kafka-streams: %d events in %.3f s = %.0f events/s%n", events, s, events / s);
        System.out.flush();
        return rc;
    }

    /** Shared by the stream threads: what has been consumed and folded, and when the run was complete. */
    static final class Counters {
        final long n;
        final AtomicLong input = new AtomicLong();
        final AtomicLong emitted = new AtomicLong();
        final AtomicLong aggregated = new AtomicLong();
        final AtomicLong noEmail = new AtomicLong();
        final AtomicLong bad = new AtomicLong();
        final AtomicBoolean first = new AtomicBoolean();
        final AtomicBoolean finished = new AtomicBoolean();
        final CountDownLatch done = new CountDownLatch(1);
        volatile long t0;
        volatile long tFirst;
        volatile long tInput;
        volatile long tAggregated;
        /** Contributions emitted by the first N input records; -1 until N records were consumed. */
        volatile long emittedAtN = -1;

        Counters(long n) {
            this.n = n;
        }

        /** After a record's contributions were emitted (emitted was already incremented). */
        void consumed() {
            if (first.compareAndSet(false, true)) {
                tFirst = System.nanoTime();
            }
            long c = input.incrementAndGet();
            if (c == n) {
                tInput = System.nanoTime();
                emittedAtN = emitted.get();
                checkDone(aggregated.get());
            }
        }

        void folded() {
            checkDone(aggregated.incrementAndGet());
        }

        private void checkDone(long agg) {
            long target = emittedAtN;
            if (target >= 0 && agg >= target && finished.compareAndSet(false, true)) {
                tAggregated = System.nanoTime();
                done.countDown();
            }
        }
    }

    static Topology buildTopology(List<String> topics, EnvelopeDecoder decoder, Counters counters) {
        Serde<Contribution> contributionSerde = PerEmail.contributionSerde();
        Serde<Aggregate> aggregateSerde = PerEmail.aggregateSerde();
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, Aggregate> perEmail = builder
                .stream(topics, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .flatMap((key, value) -> {
                    List<KeyValue<String, Contribution>> out = List.of();
                    try {
                        EnvelopeDecoder.Extract x = EnvelopeDecoder.extract(decoder.decode(value));
                        if (x.emails().isEmpty()) {
                            counters.noEmail.incrementAndGet();
                        } else {
                            Contribution c = x.amount() == null ? Contribution.NONE
                                    : new Contribution(x.currency(), x.amount());
                            out = new ArrayList<>(x.emails().size());
                            for (String email : x.emails()) {
                                out.add(KeyValue.pair(email, c));
                            }
                            counters.emitted.addAndGet(out.size());
                        }
                    } catch (IOException | RuntimeException e) {
                        if (counters.bad.incrementAndGet() <= 5) {
                            log("undecodable record skipped: %s", e);
                        }
                    }
                    counters.consumed();
                    return out;
                })
                .groupByKey(Grouped.with("by-email", Serdes.String(), contributionSerde))
                .aggregate(Aggregate::new,
                        (email, contribution, agg) -> {
                            Aggregate next = agg.add(contribution);
                            counters.folded();
                            return next;
                        },
                        Materialized.<String, Aggregate, KeyValueStore<Bytes, byte[]>>as(STORE)
                                .withKeySerde(Serdes.String())
                                .withValueSerde(aggregateSerde));
        return builder.build();
    }

    static long dumpTable(KafkaStreams streams, Path file) throws Exception {
        ReadOnlyKeyValueStore<String, Aggregate> store = null;
        for (int attempt = 0; store == null; attempt++) {
            try {
                store = streams.store(StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
            } catch (InvalidStateStoreException e) {
                if (attempt >= 100) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
        TreeMap<String, String> rows = new TreeMap<>();
        try (KeyValueIterator<String, Aggregate> it = store.all()) {
            while (it.hasNext()) {
                KeyValue<String, Aggregate> kv = it.next();
                rows.put(kv.key, kv.value.render());
            }
        }
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (Map.Entry<String, String> e : rows.entrySet()) {
                w.write(e.getKey());
                w.write('\t');
                w.write(e.getValue());
                w.write('\n');
            }
        }
        return rows.size();
    }

    /** schemas/released of the checkout: the jar is bench/peers/kafka-streams/target/*.jar. */
    static Path defaultSchemasDir() {
        try {
            Path jar = Paths.get(PerEmailBench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path peer = jar.getParent().getParent();
            return peer.resolve("../../../schemas/released").normalize();
        } catch (URISyntaxException | RuntimeException e) {
            return Paths.get("schemas/released");
        }
    }

    static void deleteInternalTopics(String bootstrap, String appId) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(p)) {
            List<String> mine = admin.listTopics().names().get(60, TimeUnit.SECONDS).stream()
                    .filter(t -> t.startsWith(appId + "-")).sorted().toList();
            if (!mine.isEmpty()) {
                admin.deleteTopics(mine).all().get(60, TimeUnit.SECONDS);
                log("deleted internal topics %s", mine);
            }
        } catch (Exception e) {
            log("warning: could not delete the internal topics of %s: %s", appId, e);
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            log("warning: could not remove %s: %s", dir, e);
        }
    }
}
