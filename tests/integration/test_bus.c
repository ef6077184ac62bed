/*
 * Integration tests: the Kafka bus against a broker. By default the
 * embedded broker (librdkafka's mock cluster, in process); with
 * HUB360_TEST_KAFKA set to a bootstrap file written by tests/kafka/kafka.sh
 * the same cases run against a real Apache Kafka, on topics of their own.
 * Cases that inject faults through the mock cluster's API skip there.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "bus.h"
#include "catalog.h"
#include "codec.h"
#include "errors.h"
#include "harness.h"
#include "timefmt.h"

#define API_PRODUCE 0 /* Kafka protocol ApiKey; librdkafka keeps the names
                        * in a header it does not install */

static hub_broker_t *broker;     /* NULL against a real Kafka */
static hub_config_t *cfg;
static char bootstrap[1024];
static hub_catalog_t *cat;
static hub_codec_t *codec;

static void setup(void) {
    if (cfg)
        return;
    char err[1024], yaml[2048];
    const char *file = getenv("HUB360_TEST_KAFKA");
    unsigned run = (unsigned)getpid() ^ (unsigned)time(NULL);
    snprintf(yaml, sizeof yaml,
             "kafka:\n  partitions: 3\n  topic_prefix: \"t%u.\"\n"
             "  delivery_timeout: 20s\n",
             run);
    if (hub_config_parse("test.yaml", yaml, strlen(yaml), &cfg, err,
                         sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f || !fgets(bootstrap, sizeof bootstrap, f)) {
            fprintf(stderr, "setup: cannot read %s\n", file);
            exit(1);
        }
        fclose(f);
        bootstrap[strcspn(bootstrap, "\r\n")] = '\0';
    } else {
        if (hub_broker_start(cfg, 3, 3, NULL, &broker, err, sizeof err)) {
            fprintf(stderr, "setup: %s\n", err);
            exit(1);
        }
        snprintf(bootstrap, sizeof bootstrap, "%s",
                 hub_broker_bootstrap(broker));
    }
    hub_config_set_str(&cfg->kafka.brokers, bootstrap);
    if (hub_catalog_open(NULL, &cat, err, sizeof err) ||
        hub_codec_new(cat, cfg->kafka.topic_prefix, &codec, err,
                      sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    fprintf(stderr, "broker: %s (%s)\n", bootstrap,
            broker ? "embedded" : "real Kafka");
}

__attribute__((destructor)) static void teardown(void) {
    hub_codec_free(codec);
    hub_catalog_free(cat);
    hub_broker_stop(broker);
    hub_config_free(cfg);
}

static hub_producer_t *producer(hub_config_t *c) {
    hub_producer_t *p = NULL;
    char err[1024];
    if (hub_producer_new(c, bootstrap, &p, err, sizeof err))
        FAIL_AT("producer: %s", err);
    return p;
}

/* Reads `want` messages from every partition of topic into lines. */
static size_t consume(const char *topic, size_t want, hub_buf_t *lines,
                      long timeout_ms) {
    rd_kafka_t *rk = NULL;
    char err[1024];
    if (hub_consumer_new(cfg, bootstrap, NULL, 0, &rk, err, sizeof err)) {
        FAIL_AT("consumer: %s", err);
        return 0;
    }
    const char *topics[] = {topic};
    if (hub_consumer_assign_all(rk, topics, 1, RD_KAFKA_OFFSET_BEGINNING, -1,
                                NULL, err, sizeof err)) {
        FAIL_AT("assign: %s", err);
        rd_kafka_destroy(rk);
        return 0;
    }
    size_t got = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < want) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 > timeout_ms)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            if (hub_codec_render(codec, m->payload, m->len, lines, err,
                                 sizeof err) == 0)
                hub_buf_putc(lines, '\n');
            else
                FAIL_AT("decode: %s", err);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

static int cmp_lines(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the lines of text in place; returns the count. */
static size_t sort_lines(char *text, char **out, size_t max) {
    size_t n = 0;
    for (char *save, *l = strtok_r(text, "\n", &save); l && n < max;
         l = strtok_r(NULL, "\n", &save))
        out[n++] = l;
    qsort(out, n, sizeof *out, cmp_lines);
    return n;
}

TEST(produce_and_consume_every_example) {
    setup();
    char err[1024];
    if (!broker) {
        hub_producer_t *tp = producer(cfg);
        REQUIRE(tp);
        CHECK_INT(hub_bus_ensure_topics(hub_producer_hold(tp), cfg, 30000,
                                        err, sizeof err),
                  0);
        hub_producer_unhold(tp);
        hub_producer_free(tp);
    }
    hub_producer_t *p = producer(cfg);
    REQUIRE(p);
    hub_acks_t *acks = hub_acks_new();
    size_t n;
    const hub_event_type_t *types = hub_codec_types(codec, &n);
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    hub_buf_t sent = HUB_BUF_INIT;
    char topic[300];
    /* every example goes to one topic so one consumer sees them all */
    hub_config_topic(cfg, "erp.events", topic, sizeof topic);
    for (size_t i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "schemas/examples/%s.json", types[i].type);
        size_t len;
        char *text = hub_test_read(path, &len);
        REQUIRE(text);
        while (len && text[len - 1] == '\n')
            text[--len] = '\0';
        hub_buf_printf(&sent, "%s\n", text);
        REQUIRE(hub_codec_encode_text(codec, text, len, &enc, err,
                                      sizeof err) == 0);
        CHECK_INT(hub_producer_send(p, topic, RD_KAFKA_PARTITION_UA,
                                    enc.key.data, enc.key.len, enc.value.data,
                                    enc.value.len, NULL, 0, acks, 5000, err,
                                    sizeof err),
                  0);
        free(text);
    }
    CHECK_INT(hub_acks_wait(acks, 60000, err, sizeof err), 0);
    CHECK_INT(hub_acks_delivered(acks), n);
    hub_producer_free(p);
    hub_acks_free(acks);

    hub_buf_t got = HUB_BUF_INIT;
    CHECK_INT(consume(topic, n, &got, 60000), n);
    char *a[64], *b[64];
    size_t na = sort_lines(got.data ? got.data : (char[]){0}, a, 64);
    size_t nb = sort_lines(sent.data, b, 64);
    CHECK_INT(na, nb);
    for (size_t i = 0; i < na && i < nb; i++)
        CHECK_STR(a[i], b[i]);
    hub_buf_free(&got);
    hub_buf_free(&sent);
    hub_encoded_free(&enc);
}

/* The tests that drive the embedded broker skip on a real one. */
static int setup_mock(const char *to) {
    setup();
    if (!broker)
        fprintf(stderr, "skipped: needs the mock cluster to %s\n", to);
    return broker != NULL;
}

TEST(a_refused_message_is_reported_not_counted) {
    if (!setup_mock("inject errors"))
        return;
    hub_producer_t *p = producer(cfg);
    REQUIRE(p);
    char err[1024], topic[300];
    hub_config_topic(cfg, "crm.events", topic, sizeof topic);
    rd_kafka_mock_push_request_errors(hub_broker_mock(broker),
                                      API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    hub_acks_t *acks = hub_acks_new();
    CHECK_INT(hub_producer_send(p, topic, 0, "k", 1, "v", 1, NULL, 0, acks,
                                1000, err, sizeof err),
              0);
    CHECK_INT(hub_acks_wait(acks, 30000, err, sizeof err), HUB_EKAFKA);
    CHECK_CONTAINS(err, "1 of 1 messages were not delivered");
    CHECK_CONTAINS(err, "Topic authorization failed");
    CHECK_INT(hub_acks_delivered(acks), 0);
    hub_acks_free(acks);
    /* a message the broker can never take fails at once, with its reason */
    size_t big = 2 << 20;
    char *huge = calloc(1, big);
    CHECK_INT(hub_producer_send(p, topic, 0, NULL, 0, huge, big, NULL, 0,
                                NULL, 1000, err, sizeof err),
              HUB_EKAFKA);
    CHECK_CONTAINS(err, "Broker: Message size too large");
    free(huge);
    hub_producer_free(p);
}

/* every partition's leader down (or back): nothing leaves the queue */
static void brokers_down(void) {
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(hub_broker_mock(broker), b);
}

static void brokers_up(void) {
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_up(hub_broker_mock(broker), b);
}

TEST(a_full_queue_pushes_back_and_loses_nothing) {
    if (!setup_mock("take a broker down"))
        return;
    char err[1024], topic[300];
    hub_config_topic(cfg, "scrm.events", topic, sizeof topic);
    brokers_down();
    hub_config_t small = *cfg;
    small.kafka.queue_max_bytes = 4096;
    hub_producer_t *p = producer(&small);
    REQUIRE(p);
    hub_acks_t *acks = hub_acks_new();
    char value[512];
    memset(value, 'x', sizeof value);
    int rc = 0;
    size_t accepted = 0;
    while (accepted < 1000 &&
           (rc = hub_producer_send(p, topic, RD_KAFKA_PARTITION_UA, NULL, 0,
                                   value, sizeof value, NULL, 0, acks, 200,
                                   err, sizeof err)) == 0)
        accepted++;
    CHECK_INT(rc, HUB_EAGAIN);
    CHECK_CONTAINS(err, "producer queue full");
    CHECK(accepted > 0 && accepted < 1000);
    CHECK_INT(hub_acks_pending(acks), accepted);
    brokers_up();
    CHECK_INT(hub_acks_wait(acks, 60000, err, sizeof err), 0);
    CHECK_INT(hub_acks_delivered(acks), accepted);
    hub_producer_free(p);
    hub_acks_free(acks);
}

/* A caller that gives up waiting (the projector's changelog after a
 * timeout) frees the group while its messages are in flight; their
 * delivery reports come later and must find it alive (a use after free
 * under ASan before), and the last one frees it. */
TEST(an_ack_group_given_up_on_is_freed_by_its_last_report) {
    if (!setup_mock("take a broker down"))
        return;
    char err[1024], topic[300];
    hub_config_topic(cfg, "erp.events", topic, sizeof topic);
    brokers_down();
    hub_producer_t *p = producer(cfg);
    REQUIRE(p);
    size_t before = hub_acks_live();
    hub_acks_t *acks = hub_acks_new();
    REQUIRE(acks);
    for (int i = 0; i < 3; i++)
        CHECK_INT(hub_producer_send(p, topic, i, "k", 1, "v", 1, NULL, 0,
                                    acks, 1000, err, sizeof err),
                  0);
    CHECK_INT(hub_acks_wait(acks, 300, err, sizeof err), HUB_ETIMEDOUT);
    CHECK_CONTAINS(err, "3 messages still unacknowledged after 300 ms");
    hub_acks_free(acks);
    CHECK_INT(hub_acks_live(), before + 1); /* kept for the reports */
    brokers_up();
    int64_t deadline = hub_time_mono_ms() + 60000;
    while (hub_acks_live() > before && hub_time_mono_ms() < deadline)
        usleep(10000);
    CHECK_INT(hub_acks_live(), before);

    /* one still in flight when the producer shuts down: purged, reported,
     * freed (LeakSanitizer and valgrind see a leak otherwise) */
    brokers_down();
    hub_config_t quick = *cfg;
    quick.kafka.delivery_timeout_ms = 1000;
    hub_producer_t *q = producer(&quick);
    REQUIRE(q);
    acks = hub_acks_new();
    CHECK_INT(hub_producer_send(q, topic, 0, "k", 1, "v", 1, NULL, 0, acks,
                                1000, err, sizeof err),
              0);
    hub_acks_free(acks);
    CHECK_INT(hub_acks_live(), before + 1);
    hub_producer_free(q);
    CHECK_INT(hub_acks_live(), before);
    brokers_up();
    hub_producer_free(p);
}

/* Sends value to partition 0 of topic through p; checks that it was
 * delivered (within 30 s). */
static void deliver(hub_producer_t *p, const char *topic, const char *value) {
    char err[1024];
    hub_acks_t *acks = hub_acks_new();
    CHECK_INT(hub_producer_send(p, topic, 0, "k", 1, value, strlen(value),
                                NULL, 0, acks, 1000, err, sizeof err),
              0);
    CHECK_INT(hub_acks_wait(acks, 30000, err, sizeof err), 0);
    CHECK_INT(hub_acks_delivered(acks), 1);
    hub_acks_free(acks);
}

/* What librdkafka raises when an idempotent producer cannot go on. */
static void inject_fatal_error(hub_producer_t *p) {
    CHECK_INT(rd_kafka_test_fatal_error(
                  hub_producer_hold(p),
                  RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                  "injected by the test"),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    hub_producer_unhold(p);
}

/* A fatal error (librdkafka's: an idempotent producer the broker cannot
 * go on with) failed every later send, for good: the webhooks answered
 * 503 and the changelog was retried, forever. The next send replaces the
 * producer; what the old one still held is reported failed, not lost
 * in silence (its senders send it again). */
TEST(a_producer_stopped_by_a_fatal_error_is_replaced) {
    setup();
    char err[1024], topic[300];
    hub_config_topic(cfg, "crm.events", topic, sizeof topic);
    hub_producer_t *p = producer(cfg);
    REQUIRE(p);
    /* the replacement holds the topics its predecessor knew */
    const char *known[] = {topic};
    hub_producer_know_topics(p, known, 1);
    deliver(p, topic, "before");

    /* on the embedded broker, one message waits in the producer too */
    hub_acks_t *stuck = broker ? hub_acks_new() : NULL;
    if (stuck) {
        brokers_down();
        CHECK_INT(hub_producer_send(p, topic, 0, "k", 1, "stuck", 5, NULL,
                                    0, stuck, 1000, err, sizeof err),
                  0);
    }
    inject_fatal_error(p);
    if (stuck)
        brokers_up();

    deliver(p, topic, "after");
    if (stuck) {
        CHECK_INT(hub_acks_wait(stuck, 30000, err, sizeof err), HUB_EKAFKA);
        CHECK_INT(hub_acks_failed(stuck), 1);
        hub_acks_free(stuck);
    }
    hub_producer_free(p);
}

/* The broker that leads partition 0 of topic, as p's metadata says. */
static int32_t leader_of(hub_producer_t *p, const char *topic) {
    rd_kafka_t *rk = hub_producer_hold(p);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int32_t leader = -1;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].partition_cnt > 0)
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            if (md->topics[0].partitions[i].id == 0)
                leader = md->topics[0].partitions[i].leader;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    hub_producer_unhold(p);
    return leader;
}

static int32_t held_by; /* the broker holding a produce request back */

static int produce_request_taken(void *unused) {
    (void)unused;
    size_t left = 1;
    rd_kafka_mock_broker_error_stack_cnt(hub_broker_mock(broker), held_by,
                                         API_PRODUCE, &left);
    return left == 0;
}

/* A message in flight when a fatal error replaces the producer is
 * reported failed at once, though the broker's answer is still 7 s away:
 * the purge voids the answer, and the old producer is given 5 s to serve
 * its reports before it is destroyed (which would drop the rest, and
 * leave their ack groups, `hub360 import` with them, waiting for ever). */
TEST(a_message_in_flight_when_the_producer_is_replaced_is_reported) {
    if (!setup_mock("hold a produce request back"))
        return;
    char err[1024], topic[300];
    hub_config_topic(cfg, "crm.events", topic, sizeof topic);
    hub_producer_t *p = producer(cfg);
    REQUIRE(p);
    deliver(p, topic, "before");

    /* the leader takes the next produce request and answers it in 7 s */
    held_by = leader_of(p, topic);
    REQUIRE(held_by > 0);
    CHECK_INT(rd_kafka_mock_broker_push_request_error_rtts(
                  hub_broker_mock(broker), held_by, API_PRODUCE, 1,
                  RD_KAFKA_RESP_ERR_NO_ERROR, 7000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    hub_acks_t *held = hub_acks_new();
    CHECK_INT(hub_producer_send(p, topic, 0, "k", 1, "held", 4, NULL, 0,
                                held, 1000, err, sizeof err),
              0);
    REQUIRE(hub_test_wait(produce_request_taken, NULL, 10000));
    inject_fatal_error(p);

    deliver(p, topic, "after");
    CHECK_INT(hub_acks_wait(held, 30000, err, sizeof err), HUB_EKAFKA);
    CHECK_CONTAINS(err, "Purged in flight");
    CHECK_INT(hub_acks_failed(held), 1);
    hub_acks_free(held);
    hub_producer_free(p);
}

/* A rebalance callback as the projector's: it assigns what it is given.
 * assigned: how many partitions it holds; assigned_closing: assignments
 * made during a close. */
static volatile int assigned, assigned_closing, closing;

static void assign_all(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t *parts, void *opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        assigned_closing += closing;
    assigned = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? parts->cnt : 0;
    rd_kafka_assign(rk, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? parts
                                                                    : NULL);
}

static int queued(void *q) { return rd_kafka_queue_length(q) > 0; }

static volatile int dropped;

static void *drop(void *rk) {
    hub_consumer_drop(rk);
    dropped = 1;
    return NULL;
}

static int is_dropped(void *unused) {
    (void)unused;
    return dropped;
}

static int all_assigned(void *rk) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (m)
        rd_kafka_message_destroy(m);
    return assigned == 3;
}

/*
 * A consumer stopped with its group's assignment queued and not served
 * (it came after the projector's last poll) closes without calling its
 * rebalance callback: rd_kafka_consumer_close served such an assignment
 * to the callback, and when the group had left the state that waits for
 * it, its rd_kafka_assign was never answered (`hub360 up` did not stop
 * on SIGTERM). On a real Kafka the same static member then joins again
 * and gets every partition.
 */
TEST(a_consumer_dropped_with_its_assignment_queued_closes) {
    setup();
    char err[1024], group[64], topic[300];
    hub_producer_t *p = producer(cfg);
    REQUIRE(p);
    CHECK_INT(hub_bus_ensure_topics(hub_producer_hold(p), cfg, 30000, err,
                                    sizeof err),
              0);
    hub_producer_unhold(p);
    hub_producer_free(p);
    snprintf(group, sizeof group, "drop-%ld", (long)getpid());
    hub_config_topic(cfg, "crm.events", topic, sizeof topic);
    const char *topics[] = {topic};
    rd_kafka_t *rk = NULL;
    REQUIRE(hub_consumer_new_rebalance(cfg, bootstrap, group, 0, assign_all,
                                       NULL, 1, &rk, err, sizeof err) == 0);
    CHECK_INT(hub_consumer_subscribe(rk, topics, 1, err, sizeof err), 0);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    CHECK(hub_test_wait(queued, q, 30000)); /* the assignment, unserved */
    rd_kafka_queue_destroy(q);
    closing = 1;
    dropped = 0;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, drop, rk) == 0);
    if (!hub_test_wait(is_dropped, NULL, 30000)) {
        FAIL_AT("the consumer did not close within 30 s");
        _exit(1); /* its thread will not end */
    }
    pthread_join(t, NULL);
    closing = 0;
    CHECK_INT(assigned_closing, 0);

    /* the embedded broker keeps a static member until its session times
     * out (10 s and more); Kafka hands its partitions over at once */
    if (broker)
        return;
    assigned = 0;
    REQUIRE(hub_consumer_new_rebalance(cfg, bootstrap, group, 0, assign_all,
                                       NULL, 1, &rk, err, sizeof err) == 0);
    CHECK_INT(hub_consumer_subscribe(rk, topics, 1, err, sizeof err), 0);
    if (!hub_test_wait(all_assigned, rk, 60000))
        FAIL_AT("the member that joined again holds %d partitions, not 3",
                assigned);
    hub_consumer_drop(rk);
}

/* The value of the topic's config entry `name` as the broker describes
 * it, into out ("?" when it did not answer). */
static void topic_config(rd_kafka_t *rk, const char *topic, const char *name,
                         char *out, size_t outlen) {
    snprintf(out, outlen, "?");
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const rd_kafka_DescribeConfigs_result_t *r =
        ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    size_t nres = 0, nent = 0;
    const rd_kafka_ConfigResource_t **got =
        r ? rd_kafka_DescribeConfigs_result_resources(r, &nres) : NULL;
    const rd_kafka_ConfigEntry_t **ents =
        nres == 1 ? rd_kafka_ConfigResource_configs(got[0], &nent) : NULL;
    for (size_t i = 0; i < nent; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(ents[i]), name) == 0)
            snprintf(out, outlen, "%s",
                     rd_kafka_ConfigEntry_value(ents[i])
                         ? rd_kafka_ConfigEntry_value(ents[i])
                         : "(null)");
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
}

TEST(topics_exist_and_the_cluster_has_an_id) {
    setup();
    hub_producer_t *p = producer(cfg);
    REQUIRE(p);
    char err[1024];
    rd_kafka_t *rk = hub_producer_hold(p);
    CHECK_INT(hub_bus_ensure_topics(rk, cfg, 30000, err, sizeof err), 0);
    char *id = hub_bus_cluster_id(rk, 10000);
    if (!broker) {
        /* on a real Kafka (the mock cluster has no configs to describe):
         * the event topics are the record of truth and kept forever, the
         * changelog is compacted (docs/OPERATIONS.md) */
        char names[HUB_BUS_NTOPICS][256], v[64];
        hub_bus_topic_names(cfg, names);
        for (int t = 0; t < 4; t++) {
            topic_config(rk, names[t], "retention.ms", v, sizeof v);
            if (strcmp(v, "-1") != 0)
                FAIL_AT("%s: retention.ms is %s, not -1", names[t], v);
        }
        topic_config(rk, names[4], "cleanup.policy", v, sizeof v);
        CHECK_STR(v, "compact");
    }
    hub_producer_unhold(p);
    CHECK(id && *id);
    free(id);
    hub_producer_free(p);
}

/* The consumer's prefetch, under YAML: "queued.min.messages
 * queued.max.messages.kbytes" as its consumer got them. */
static void prefetch_of(const char *yaml, char *out, size_t outlen) {
    hub_config_t *c = NULL;
    rd_kafka_t *rk = NULL;
    char err[1024], n[32] = "?", kb[32] = "?";
    size_t nlen = sizeof n, kblen = sizeof kb;
    if (hub_config_parse("prefetch.yaml", yaml, strlen(yaml), &c, err,
                         sizeof err)) {
        FAIL_AT("config: %s", err);
    } else if (hub_consumer_new(c, bootstrap, NULL, 0, &rk, err,
                                sizeof err)) {
        FAIL_AT("consumer: %s", err);
    } else {
        const rd_kafka_conf_t *conf = rd_kafka_conf(rk);
        if (rd_kafka_conf_get(conf, "queued.min.messages", n, &nlen) ||
            rd_kafka_conf_get(conf, "queued.max.messages.kbytes", kb,
                              &kblen))
            FAIL_AT("no prefetch settings");
    }
    snprintf(out, outlen, "%s %s", n, kb);
    if (rk)
        rd_kafka_destroy(rk);
    hub_config_free(c);
}

/* librdkafka before 2.2 stops fetching for up to a second once its queue
 * is full: the queue holds two projector batches (at least 40,000
 * events) and up to 64 MiB, so that taking a batch never empties it;
 * kafka.properties still wins. */
TEST(the_consumer_prefetches_two_projector_batches) {
    setup();
    char got[64];
    prefetch_of("kafka: {}\n", got, sizeof got);
    CHECK_STR(got, "40000 65536");
    prefetch_of("projector:\n  batch_events: 5000\n", got, sizeof got);
    CHECK_STR(got, "40000 65536");
    prefetch_of("projector:\n  batch_events: 20001\n", got, sizeof got);
    CHECK_STR(got, "40002 65536");
    prefetch_of("projector:\n  batch_events: 50000\n", got, sizeof got);
    CHECK_STR(got, "100000 65536");
    prefetch_of("projector:\n  batch_events: 50000\nkafka:\n  properties:\n"
                "    queued.min.messages: \"7000\"\n"
                "    queued.max.messages.kbytes: \"1024\"\n",
                got, sizeof got);
    CHECK_STR(got, "7000 1024");
}
