/*
 * hub360 - broker faults under load: webhook ingestion and the projector
 * on one embedded broker (librdkafka's mock cluster, in process), while
 * the test injects faults through the mock cluster's API.
 *
 * A Shopify-like vendor posts a customer and an order for each person,
 * one after the other, while the brokers refuse requests (Produce and
 * Fetch errors), answer slowly (raised round-trip times), move partition
 * leaders, lose one broker and then all of them. The promises checked:
 *   - a webhook is answered 200 or 503, never anything else; while every
 *     broker is down the answer is 503 with Retry-After; /metrics counts
 *     the 200s and 503s the clients saw;
 *   - the vendor retries what got 503 (as vendors do) and everything ends
 *     200;
 *   - the projector, consuming in its group all along, ends with exactly
 *     one view per person holding its one order (nothing lost, nothing
 *     counted twice, however often a request was retried), and stops
 *     cleanly; its changelog topic ends with each view as the last
 *     record of its customer id (tombstones for merged-away ids);
 *   - fenced out of its group (a fatal error of its consumer), the
 *     projector starts a new consumer and goes on.
 * Bounded: about 30 s on a quiet machine, deadlines of a minute or two.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "c360_harness.h"
#include "cli.h"
#include "codec.h"
#include "errors.h"
#include "harness.h"
#include "metrics.h"
#include "projector.h"
#include "session.h"
#include "webhook_fixture.h"
#include "timefmt.h"

#define API_PRODUCE 0 /* the Kafka protocol's ApiKeys */
#define API_FETCH 1
#define API_LIST_OFFSETS 2
#define API_HEARTBEAT 12
#define NBROKERS 3
#define MAXPEOPLE 1000
#define LAST (MAXPEOPLE - 1) /* the person the test posts itself */

static webhook_env_t w;
static char store[4200];

/* What the vendor got for each person's customer [0] and order [1]. */
static long status[MAXPEOPLE][2];
static int people;             /* posted so far by the poster thread */
static volatile int stop_posting;
static volatile int hold_posting; /* the vendor waits while set */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long long answered[3]; /* 200, 503, anything else: what clients saw */

static int proj_rc;
static char proj_err[1024];

/* The env on a fresh data dir under the build tree; `extra` is more
 * YAML for the kafka section. */
static void setup(const char *name, const char *extra) {
    char yaml[2048];
    const char *data = fresh_store(name);
    mkdir(data, 0755);
    snprintf(store, sizeof store, "%s/customer360", data);
    snprintf(yaml, sizeof(yaml),
             "kafka:\n  partitions: 3\n  topic_prefix: \"bf%u.\"\n"
             "  delivery_timeout: 60s\n%s"
             "data_dir: %s\n"
             "projector:\n  batch_time: 100ms\n  group_id: bf%u\n"
             "  sync: false\n"
             "sources:\n"
             "  - name: shop\n    system: erp\n    preset: shopify\n"
             "    webhook: {secret: hush, ack_timeout: 2s}\n",
             (unsigned)getpid(), extra, data, (unsigned)getpid());
    webhook_env_start(&w, yaml, NBROKERS, "shop");
}

/* Person i's customer (what = 0) or order (what = 1), as Shopify sends
 * them; the order's total is i + 1 dollars. */
static long post(int i, int what, int *retry_after) {
    char body[1024];
    if (what == 0)
        snprintf(body, sizeof body,
                 "{\"id\": %d, \"email\": \"p%d@example.com\", "
                 "\"first_name\": \"P\", \"last_name\": \"N%d\", "
                 "\"updated_at\": \"2026-03-01T10:00:00Z\"}",
                 i + 1, i, i);
    else
        snprintf(body, sizeof body,
                 "{\"id\": %d, \"email\": \"p%d@example.com\", "
                 "\"total_price\": \"%d.00\", \"currency\": \"USD\", "
                 "\"created_at\": \"2026-03-01T11:00:00Z\", "
                 "\"updated_at\": \"2026-03-01T11:00:00Z\", "
                 "\"customer\": {\"id\": %d, \"email\": \"p%d@example.com\"}, "
                 "\"line_items\": []}",
                 700000 + i, i, i + 1, i + 1, i);
    long status = shopify_post(w.url, "hush",
                               what ? "orders/create" : "customers/create",
                               body, retry_after);
    pthread_mutex_lock(&lock);
    answered[status == 200 ? 0 : status == 503 ? 1 : 2]++;
    pthread_mutex_unlock(&lock);
    return status;
}

/* The value of a sample of /metrics (0 when it is not there). */
static long long metric(const char *sample) {
    hub_buf_t b = HUB_BUF_INIT;
    long long v = 0;
    if (hub_metrics_render(&b) == 0 && b.data) {
        size_t n = strlen(sample);
        for (const char *p = b.data; (p = strstr(p, sample)); p += n)
            if ((p == b.data || p[-1] == '\n') && p[n] == ' ')
                v = strtoll(p + n + 1, NULL, 10);
    }
    hub_buf_free(&b);
    return v;
}

static int consumer_restarted(void *unused) {
    (void)unused;
    return metric("hub360_projector_consumer_restarts_total") > 0;
}

/* The vendor: one person after the other until told to stop. */
static void *poster(void *arg) {
    (void)arg;
    for (int i = 0; i < LAST && !stop_posting; i++) {
        while (hold_posting && !stop_posting) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        int ra;
        long s0 = post(i, 0, &ra), s1 = post(i, 1, &ra);
        pthread_mutex_lock(&lock);
        status[i][0] = s0;
        status[i][1] = s1;
        people = i + 1;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static int posted(void) {
    pthread_mutex_lock(&lock);
    int n = people;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Waits until the vendor has posted `more` people beyond now. */
static void let_post(int more) {
    int target = posted() + more;
    int64_t deadline = hub_time_mono_ms() + 120000;
    while (posted() < target && hub_time_mono_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (posted() < target)
        FAIL_AT("the vendor posted %d people, not %d, in 2 minutes",
                posted(), target);
}

static volatile int proj_done;

/* The projector as `project` runs it (arg NULL), or as `project --once`
 * into the store path arg. */
static void *projector_main(void *arg) {
    hub_projector_opts_t o = {.store = arg ? arg : store,
                              .bootstrap = hub_broker_bootstrap(w.broker),
                              .once = arg != NULL,
                              .group = arg == NULL,
                              .changelog = arg == NULL,
                              .label = "project"};
    proj_rc = hub_projector_run(w.cfg, &o, NULL, proj_err, sizeof proj_err);
    proj_done = 1;
    return NULL;
}

static int expected(int i, int n) { return (i >= 0 && i < n) || i == LAST; }

/* Compares the store with what n people (and LAST) must give: one view each with
 * their e-mail, their customer and order as members, one order and its
 * revenue. Returns the number of differences (printed when `report`). */
static int views_differ(int n, int report) {
    hub_buf_t out = HUB_BUF_INIT;
    if (export_store(store, &out, NULL)) {
        hub_buf_free(&out);
        return n ? n : 1;
    }
    char *seen = calloc(MAXPEOPLE, 1);
    int bad = 0, views = 0;
    for (char *line = out.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        views++;
        json_t *v = json_loads(line, 0, NULL);
        const char *email = json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(v, "profile"),
                                           "emails"),
                           0),
            "value"));
        int i = -1;
        if (email)
            sscanf(email, "p%d@", &i);
        json_t *orders = json_object_get(v, "orders");
        long long count = json_integer_value(json_object_get(orders, "count"));
        json_t *rev = json_object_get(orders, "revenue");
        json_t *usd = json_array_get(rev, 0);
        const char *cur = json_string_value(json_object_get(usd, "currency"));
        long long cents = json_integer_value(json_object_get(usd, "amount"));
        int rev_ok = json_array_size(rev) == 1 && cur &&
                     strcmp(cur, "USD") == 0 && cents == (i + 1) * 100LL;
        size_t members = json_array_size(json_object_get(v, "members"));
        if (!expected(i, n) || seen[i] || count != 1 || members != 2 ||
            !rev_ok) {
            if (report)
                FAIL_AT("view %d (person %d%s): %lld orders, %zu members, "
                        "revenue %lld (want 1, 2, %d00 cents USD): %.300s",
                        views, i, expected(i, n) && seen[i] ? ", again" : "",
                        count, members, cents, i + 1, line);
            bad++;
        }
        if (expected(i, n))
            seen[i] = 1;
        json_decref(v);
        line = nl ? nl + 1 : NULL;
    }
    for (int i = 0; i < MAXPEOPLE; i++)
        if (expected(i, n) && !seen[i]) {
            if (report)
                FAIL_AT("person %d has no view", i);
            bad++;
        }
    free(seen);
    hub_buf_free(&out);
    return bad;
}

static int views_complete(void *n) { return views_differ(*(int *)n, 0) == 0; }

/* The changelog, folded: per customer id its last record (NULL when that
 * is a tombstone). */
typedef struct changelog {
    char *key[4 * MAXPEOPLE];
    char *json[4 * MAXPEOPLE];
    size_t n, records;
} changelog_t;

static void fold_changelog(const char *key, size_t keylen, const char *json,
                           void *opaque) {
    changelog_t *c = opaque;
    size_t i = 0;
    while (i < c->n && !(strlen(c->key[i]) == keylen &&
                         memcmp(c->key[i], key, keylen) == 0))
        i++;
    if (i == c->n) {
        if (c->n == sizeof c->key / sizeof *c->key)
            return; /* more ids than people could make: the count fails */
        c->key[c->n++] = strndup(key, keylen);
    }
    free(c->json[i]);
    c->json[i] = json ? strdup(json) : NULL;
    c->records++;
}

/* Every view's id has its view as its last changelog record, and every
 * other id ends in a tombstone: the outbox lost nothing to the faults. */
static void check_changelog(void) {
    static changelog_t c;
    CHECK_INT(webhook_env_read(&w, "customer360.changelog", fold_changelog,
                               &c),
              0);
    hub_buf_t out = HUB_BUF_INIT;
    REQUIRE(export_store(store, &out, NULL) == 0);
    size_t views = 0, live = 0;
    for (char *line = out.data; line && *line; views++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *v = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(v, "id"));
        size_t i = 0;
        while (id && i < c.n && strcmp(c.key[i], id) != 0)
            i++;
        if (!id || i == c.n || !c.json[i] || strcmp(c.json[i], line) != 0)
            FAIL_AT("customer %s: the changelog's last record is not its "
                    "view:\n  view:      %.200s\n  changelog: %.200s",
                    id ? id : "?", line,
                    id && i < c.n && c.json[i] ? c.json[i] : "(none)");
        json_decref(v);
        line = nl ? nl + 1 : NULL;
    }
    for (size_t i = 0; i < c.n; i++)
        live += c.json[i] != NULL;
    CHECK_INT(live, views); /* the rest are tombstones */
    fprintf(stderr, "changelog: %zu records, %zu ids, %zu live\n", c.records,
            c.n, live);
    for (size_t i = 0; i < c.n; i++) {
        free(c.key[i]);
        free(c.json[i]);
    }
    hub_buf_free(&out);
}

/* Moves the leader of partition p of every hub topic to broker
 * (p + shift) % NBROKERS + 1. */
static void move_leaders(rd_kafka_mock_cluster_t *mock, int shift) {
    const char *names[] = {"erp.events", "crm.events", "scrm.events",
                           "control.events", "deadletter",
                           "customer360.changelog"};
    for (size_t t = 0; t < sizeof names / sizeof *names; t++) {
        char topic[300];
        hub_config_topic(w.cfg, names[t], topic, sizeof topic);
        for (int p = 0; p < 3; p++)
            rd_kafka_mock_partition_set_leader(mock, topic, p,
                                               (p + shift) % NBROKERS + 1);
    }
}

/* Every broker: up or down, and its round-trip time. */
static void set_brokers(rd_kafka_mock_cluster_t *mock, int up, int rtt_ms) {
    for (int b = 1; b <= NBROKERS; b++) {
        if (up)
            rd_kafka_mock_broker_set_up(mock, b);
        else
            rd_kafka_mock_broker_set_down(mock, b);
        rd_kafka_mock_broker_set_rtt(mock, b, rtt_ms);
    }
}

TEST(webhooks_and_projector_ride_out_broker_faults) {
    setup("broker-faults", "");
    rd_kafka_mock_cluster_t *mock = hub_broker_mock(w.broker);
    pthread_t proj, vendor;
    proj_done = 0;
    REQUIRE(pthread_create(&proj, NULL, projector_main, NULL) == 0);
    REQUIRE(pthread_create(&vendor, NULL, poster, NULL) == 0);
    let_post(10);

    /* Requests refused with retriable errors: producer and consumer
     * retry by themselves. */
    rd_kafka_mock_push_request_errors(
        mock, API_PRODUCE, 4, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    rd_kafka_mock_push_request_errors(
        mock, API_FETCH, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    let_post(10);

    /* Slow brokers: 300 ms each way. */
    set_brokers(mock, 1, 300);
    let_post(5);
    set_brokers(mock, 1, 0);

    /* Every partition of every topic moves to another leader. */
    move_leaders(mock, 1);
    let_post(10);

    /* One broker down for a while (its partitions refuse), then back. */
    rd_kafka_mock_broker_set_down(mock, 2);
    let_post(4);
    rd_kafka_mock_broker_set_up(mock, 2);
    let_post(4);

    /* The group coordinator fences the projector's static membership
     * (FENCED_INSTANCE_ID), as a restart of Kafka can: a fatal error,
     * after which its consumer returns nothing more. The projector
     * starts a new consumer and goes on: the views of the people posted
     * from here on are checked below. */
    rd_kafka_mock_push_request_errors(mock, API_HEARTBEAT, 1,
                                      RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID);
    /* the vendor waits meanwhile: it posts faster than the people last
     * through the restart's wait (up to 20 s on this broker) */
    hold_posting = 1;
    CHECK(hub_test_wait(consumer_restarted, NULL, 60000));
    hold_posting = 0;
    let_post(10);

    /* Every broker down: whoever posts gets 503 with Retry-After. */
    set_brokers(mock, 0, 0);
    for (int w = 0; w < 2; w++) {
        int ra = 0;
        CHECK_INT(status[LAST][w] = post(LAST, w, &ra), 503);
        CHECK(ra);
    }
    set_brokers(mock, 1, 0);
    let_post(10);
    stop_posting = 1;
    pthread_join(vendor, NULL);

    /* The vendor retries every request that did not get 200, until it
     * does; only 200 and 503 may ever come back. */
    int n = posted(), refused = 0;
    for (int i = 0; i < MAXPEOPLE; i++)
        for (int w = 0; w < 2 && (i < n || i == LAST); w++) {
            if (status[i][w] != 200 && status[i][w] != 503)
                FAIL_AT("person %d's %s got HTTP %ld", i,
                        w ? "order" : "customer", status[i][w]);
            int64_t deadline = hub_time_mono_ms() + 60000;
            int ra;
            while (status[i][w] != 200 && hub_time_mono_ms() < deadline) {
                refused++;
                long s = post(i, w, &ra);
                CHECK(s == 200 || s == 503);
                status[i][w] = s;
            }
            CHECK_INT(status[i][w], 200);
        }
    fprintf(stderr, "%d people posted, %d requests retried after 503\n", n,
            refused);
    CHECK(refused >= 2); /* the faults were felt */
    /* /metrics counts what the clients saw */
    CHECK_INT(metric("hub360_webhook_requests_total{source=\"shop\","
                     "status=\"200\"}"),
              answered[0]);
    CHECK_INT(metric("hub360_webhook_requests_total{source=\"shop\","
                     "status=\"503\"}"),
              answered[1]);
    CHECK_INT(answered[2], 0);

    /* The projector catches up: exactly one view per person. */
    int64_t t0 = hub_time_mono_ms();
    CHECK(hub_test_wait(views_complete, &n, 120000));
    fprintf(stderr, "the views were complete %lld ms after the last 200\n",
            (long long)(hub_time_mono_ms() - t0));
    hub_stop_requested = 1;
    pthread_join(proj, NULL);
    hub_stop_requested = 0;
    if (proj_rc)
        FAIL_AT("the projector stopped on %s: %s", hub_strerror(proj_rc),
                proj_err);
    CHECK_INT(views_differ(n, 1), 0);
    check_changelog();
    webhook_env_stop(&w);
}

/* Holds a fault for ms milliseconds (it is the fault's length, not a
 * wait for something). */
static void hold(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * A backlog: 8,000 generated events (duplicates and control events among
 * them) are on the topics; the projector catches up with `--once` while
 * the brokers answer slowly and refuse fetches, the leaders move and one
 * broker is down for a while, and then all of them. Small fetches keep it
 * busy through the faults. Its store must equal the store of a run
 * without faults on the same topics: export and digest.
 */
TEST(projector_catches_up_through_broker_faults) {
    setup("broker-faults-backlog",
          "  properties: {max.partition.fetch.bytes: \"4096\"}\n");
    char err[1024], ref[4300], topic[300];
    snprintf(ref, sizeof ref, "%s.ref", store);
    events_t ev;
    REQUIRE(events_generate(8000, 21, 2, 3, &ev) == 0);
    hub_codec_t *codec = NULL;
    REQUIRE(hub_codec_new(w.cat, w.cfg->kafka.topic_prefix, &codec, err,
                          sizeof err) == 0);
    hub_acks_t *acks = hub_acks_new();
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    size_t sent = 0;
    for (size_t i = 0; i < ev.n; i++) {
        if (hub_codec_encode_text(codec, ev.lines[i], strlen(ev.lines[i]),
                                  &enc, err, sizeof err))
            continue; /* the generator's invalid events */
        hub_session_event_topic(w.cfg, enc.topic, topic, sizeof topic);
        CHECK_INT(hub_producer_send(w.producer, topic, RD_KAFKA_PARTITION_UA,
                                    enc.key.data, enc.key.len, enc.value.data,
                                    enc.value.len, NULL, 0, acks, 60000, err,
                                    sizeof err),
                  0);
        sent++;
    }
    CHECK_INT(hub_acks_wait(acks, 60000, err, sizeof err), 0);
    hub_acks_free(acks);
    hub_encoded_free(&enc);
    hub_codec_free(codec);
    events_free(&ev);

    /* The reference: the same topics, no faults. */
    projector_main(ref);
    if (proj_rc)
        FAIL_AT("the reference run: %s", proj_err);
    REQUIRE(proj_rc == 0);

    rd_kafka_mock_cluster_t *mock = hub_broker_mock(w.broker);
    set_brokers(mock, 1, 150);
    /* A leader that moved while `--once` asks for the end offsets: this
     * failed it at start ("end offset of ... [0]: Broker: Not leader for
     * partition") until the query was retried. */
    rd_kafka_mock_push_request_errors(
        mock, API_LIST_OFFSETS, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors(
        mock, API_FETCH, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    pthread_t proj;
    proj_done = 0;
    int64_t t0 = hub_time_mono_ms();
    REQUIRE(pthread_create(&proj, NULL, projector_main, store) == 0);
    hold(1500);
    move_leaders(mock, 2);
    hold(1000);
    rd_kafka_mock_broker_set_down(mock, 3);
    hold(1500);
    rd_kafka_mock_broker_set_up(mock, 3);
    set_brokers(mock, 0, 150);
    /* the faults must have met the projector at work, or this proves
     * nothing */
    CHECK(!proj_done);
    hold(1500);
    set_brokers(mock, 1, 0);
    pthread_join(proj, NULL);
    fprintf(stderr, "%zu events projected in %lld ms through the faults\n",
            sent, (long long)(hub_time_mono_ms() - t0));
    if (proj_rc)
        FAIL_AT("the projector stopped on %s: %s", hub_strerror(proj_rc),
                proj_err);

    hub_buf_t a = HUB_BUF_INIT, b = HUB_BUF_INIT;
    char da[65], db[65];
    REQUIRE(export_store(ref, &a, da) == 0);
    REQUIRE(export_store(store, &b, db) == 0);
    CHECK(a.len > 0);
    CHECK_STR(db, da);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    hub_buf_free(&a);
    hub_buf_free(&b);

    /* An error no retry gets over stops `--once` at once, and says which
     * offsets Kafka refused (of one partition, or of all when it refused
     * the request). */
    rd_kafka_mock_push_request_errors(
        mock, API_LIST_OFFSETS, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    t0 = hub_time_mono_ms();
    projector_main(store);
    CHECK_INT(proj_rc, HUB_EKAFKA);
    CHECK(strstr(proj_err, "end offsets of 12 partitions: ") ||
          strstr(proj_err, "end offset of hub360."));
    CHECK_CONTAINS(proj_err, "Topic authorization failed");
    CHECK(hub_time_mono_ms() - t0 < 30000); /* not the minute of retries */
    webhook_env_stop(&w);
}
