/*
 * hub360 - the poll adapter: every source with a poll.url gets a thread
 * that syncs each of its mapping's resources every poll.interval.
 *
 * One sync of one resource: read the cursor (LMDB, else poll.since),
 * then page by page: poll_request (with the cursor the sync started
 * from, and the previous page's `next`), fetch (client.c), poll_response,
 * and for each record poll_cursor; a record at or before the cursor was
 * produced already and is dropped, the others are mapped (a record that
 * does not map, or has no position, goes to the dead-letter topic as it
 * came, with the error and $meta), produced, and once Kafka acknowledged
 * all of them the cursor moves to the last record, in one write
 * transaction. A crash between the acknowledgement and that write
 * re-produces the page after a restart, with the same event ids (they
 * come from the vendor's ids), which the projector counts once.
 *
 * Any failure ends that resource's sync where it stands (the cursor is
 * where the last acknowledged page left it); the next interval tries
 * again. Each thread owns its codec, source (mapping) and HTTP client;
 * they share the cursor table (LMDB serializes its writers).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "client.h"
#include "cursor.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "source.h"
#include "timefmt.h"

typedef struct plugin plugin_t;

/* What one poller has done since it started (logged after each sync). */
typedef struct counts {
    uint64_t records;  /* read from the vendor */
    uint64_t seen;     /* dropped: at or before the cursor */
    uint64_t failed;   /* did not map (or had no position): dead letters */
    uint64_t events;   /* acknowledged by Kafka */
} counts_t;

typedef struct poller {
    plugin_t *pl;
    const hub_source_config_t *cfg;
    hub_codec_t *codec;
    hub_source_t *src;
    hub_poll_client_t *client;
    json_t *resources;   /* strings: what this source polls */
    json_t *params;      /* $params */
    pthread_t thread;
    int started;
    counts_t total;
    hub_metric_t *events; /* hub360_adapter_events_total of this source */
    hub_metric_t *dead_letters; /* hub360_adapter_dead_letters_total */
} poller_t;

struct plugin {
    const hub_adapter_env_t *env;
    hub_poll_cursors_t *cursors;
    hub_poll_stop_t stop;
    poller_t *pollers;
    size_t n;
};

static int serves(const hub_source_config_t *s) { return s->poll.url[0] != 0; }

/* ------------------------------------------------------------------ */
/* One page                                                            */
/* ------------------------------------------------------------------ */

/* The state of one resource's sync. */
typedef struct sync {
    poller_t *p;
    const char *resource;
    hub_poll_pos_t cur;  /* the last position acknowledged */
    json_t *ties;        /* and the other ids acknowledged at its instant */
    json_t *look;        /* poll.lookback: {"recent": {id: at} produced
                            within it, "floor": at} (cursor.h) */
    char window[HUB_POLL_AT_MAX]; /* poll.lookback: cur.at less it */
    int have_cur;
    counts_t n;          /* this sync's */
    hub_mapped_t mapped;
    json_t *dead;        /* this page's records that did not map:
                            [{"record", "error", "meta"}] */
    hub_buf_t body;
} sync_t;

/* Keeps a record that did not map for the dead-letter topic. */
static int add_dead(sync_t *s, const json_t *rec, const json_t *meta,
                    const char *why) {
    s->n.failed++;
    if (!s->dead && !(s->dead = json_array()))
        return HUB_ENOMEM;
    json_t *d = json_pack("{sOsssO}", "record", rec, "error", why, "meta",
                          meta);
    return d && json_array_append_new(s->dead, d) == 0 ? 0 : HUB_ENOMEM;
}

/* A record's position; else 1, with why filled. */
static int record_pos(sync_t *s, const json_t *rec, hub_poll_pos_t *pos,
                      char *why, size_t whylen) {
    json_t *out = NULL;
    hub_mapping_t *m = hub_source_mapping(s->p->src);
    int rc = hub_mapping_poll_cursor(m, hub_source_json(s->p->src),
                                     s->resource, rec, &out, why, whylen);
    if (rc == 0)
        rc = hub_poll_pos_from_json(out, pos, why, whylen);
    json_decref(out);
    return rc ? 1 : 0;
}

static int has_id(const json_t *ids, const char *id) {
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (strcmp(json_string_value(v), id) == 0)
            return 1;
    }
    return 0;
}

/* With poll.lookback, what the cursor keeps of it ({"recent": {id: at},
 * "floor": at}): recent, created when missing (NULL out of memory). */
static json_t *recent_of(json_t *look) {
    json_t *r = json_object_get(look, "recent");
    if (!r && json_object_set_new(look, "recent", r = json_object()))
        return NULL;
    return r;
}

/* This version of pos's record (the same at: a vendor lists a record's
 * latest version) was produced within the lookback. */
static int in_recent(const json_t *look, const hub_poll_pos_t *pos) {
    const char *at = json_string_value(
        json_object_get(json_object_get(look, "recent"), pos->id));
    return at && hub_poll_at_cmp(pos->at, at) == 0;
}

/* Produced already: before the cursor's instant, or at it and named by
 * it. Not an order on ids: ties come in whatever order the vendor lists
 * them, and one listed after the page that moved the cursor is new. With
 * poll.lookback, a record within it before the cursor is produced unless
 * the lookback's `recent` has it (or it is at or before its `floor`,
 * before the cursor's instant): one that committed after the cursor
 * passed its time. */
static int seen_before(const sync_t *s, const hub_poll_pos_t *pos) {
    if (!s->have_cur)
        return 0;
    int c = hub_poll_at_cmp(pos->at, s->cur.at);
    if (c > 0)
        return 0;
    if (c == 0 && (strcmp(pos->id, s->cur.id) == 0 ||
                   has_id(s->ties, pos->id)))
        return 1;
    if (!s->p->cfg->poll.lookback_ms)
        return c < 0;
    if (c < 0 && hub_poll_at_cmp(pos->at, s->window) < 0)
        return 1; /* older than the lookback */
    /* the floor only below the cursor's instant: at it, the ties say
     * (past their cap a record is produced again, never dropped) */
    const char *floor = json_string_value(json_object_get(s->look, "floor"));
    if (c < 0 && floor && hub_poll_at_cmp(pos->at, floor) <= 0)
        return 1;
    return in_recent(s->look, pos);
}

/* The instant `ms` before at, in UTC, into out; at itself when it does not
 * parse (a vendor's odd format is asked for as it is). */
static void shift_at(const char *at, int64_t ms, char out[HUB_POLL_AT_MAX]) {
    int64_t t;
    if (ms && hub_time_parse(at, strlen(at), &t, NULL) == 0) {
        char text[HUB_TIME_MAXLEN];
        hub_time_format(t - ms, text);
        snprintf(out, HUB_POLL_AT_MAX, "%s", text);
    } else {
        snprintf(out, HUB_POLL_AT_MAX, "%s", at);
    }
}

typedef struct recent_entry {
    const char *id, *at;
} recent_entry_t;

static int cmp_recent_at(const void *a, const void *b) {
    return hub_poll_at_cmp(((const recent_entry_t *)a)->at,
                           ((const recent_entry_t *)b)->at);
}

/* A full `recent` drops its older half, and its floor rises to the
 * latest of them: records at or before the floor count as produced (the
 * lookback no longer covers that stretch, rather than producing it again
 * on every sync). */
static int halve_recent(json_t *look, json_t *recent) {
    size_t n = json_object_size(recent), i = 0;
    recent_entry_t *e = n >= 2 ? malloc(n * sizeof *e) : NULL;
    if (!e)
        return n >= 2 ? HUB_ENOMEM : 0;
    const char *id;
    json_t *at;
    json_object_foreach(recent, id, at) {
        e[i].id = id;
        e[i++].at = json_string_value(at);
    }
    qsort(e, n, sizeof *e, cmp_recent_at);
    char floor[HUB_POLL_AT_MAX];
    snprintf(floor, sizeof floor, "%s", e[n / 2 - 1].at);
    for (i = 0; i < n / 2; i++)
        json_object_del(recent, e[i].id); /* frees only its own key */
    free(e);
    return json_object_set_new(look, "floor", json_string(floor)) ? HUB_ENOMEM
                                                                   : 0;
}

/* Notes pos as produced in the lookback's recent (its latest version).
 * 1 when that changed, 0 when not, <0 out of memory. */
static int note_recent(json_t *look, const hub_poll_pos_t *pos) {
    json_t *recent = recent_of(look);
    if (!recent)
        return HUB_ENOMEM;
    if (in_recent(look, pos))
        return 0;
    if (!json_object_get(recent, pos->id) &&
        json_object_size(recent) >= HUB_POLL_RECENT_MAX &&
        halve_recent(look, recent))
        return HUB_ENOMEM;
    return json_object_set_new(recent, pos->id, json_string(pos->at))
               ? HUB_ENOMEM
               : 1;
}

/* Drops from the lookback what is older than it, seen from last. */
static void prune_recent(json_t *look, const hub_poll_pos_t *last,
                         int64_t lookback_ms) {
    char window[HUB_POLL_AT_MAX];
    shift_at(last->at, lookback_ms, window);
    json_t *recent = json_object_get(look, "recent");
    const char *id;
    json_t *at, *tmp;
    json_object_foreach_safe(recent, tmp, id, at) {
        if (hub_poll_at_cmp(json_string_value(at), window) < 0)
            json_object_del(recent, id);
    }
    const char *floor = json_string_value(json_object_get(look, "floor"));
    if (floor && hub_poll_at_cmp(floor, window) < 0)
        json_object_del(look, "floor");
}

/* Moves (*last, ties) to take in pos: the greatest position, and the
 * other ids at its instant. 1 when either changed. */
static int take_in(hub_poll_pos_t *last, json_t *ties, int fresh,
                   const hub_poll_pos_t *pos) {
    int c = fresh ? 1 : hub_poll_at_cmp(pos->at, last->at);
    if (c < 0 || (c == 0 && strcmp(pos->id, last->id) == 0))
        return 0;
    if (c > 0) { /* a later instant: its own ties from here */
        json_array_clear(ties);
        *last = *pos;
        return 1;
    }
    const char *keep = pos->id; /* a tie: the greater id leads */
    if (hub_poll_id_cmp(pos->id, last->id) > 0) {
        keep = last->id; /* "" when it is poll.since's: no record's */
        if (keep[0] && !has_id(ties, keep))
            json_array_append_new(ties, json_string(keep));
        *last = *pos;
        return 1;
    }
    if (has_id(ties, keep) || json_array_size(ties) >= HUB_POLL_TIES_MAX)
        return 0;
    json_array_append_new(ties, json_string(keep));
    return 1;
}

/* Maps the records of one page not produced before into s->mapped;
 * (*last, ties), s->cur and s->ties on entry, take in every record met,
 * and *advanced says whether they moved. Every record counts, mapped or
 * not, so one that never maps cannot hold the cursor back forever. */
static int map_page(sync_t *s, const json_t *records, hub_poll_pos_t *last,
                    json_t *ties, json_t *look, int *advanced) {
    poller_t *p = s->p;
    char when[HUB_TIME_MAXLEN];
    hub_time_format(hub_time_now_ms(), when);
    json_t *meta = json_pack("{sssssss{}s{}}", "via", "poll", "resource",
                             s->resource, "received_at", when, "headers",
                             "query");
    if (!meta)
        return HUB_ENOMEM;
    hub_mapped_reset(&s->mapped);
    json_array_clear(s->dead);
    *advanced = 0;
    int rc = 0;
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        if (rc)
            break;
        s->n.records++;
        hub_poll_pos_t pos;
        char err[1024];
        if (record_pos(s, rec, &pos, err, sizeof(err))) {
            hub_log_warn("poll", "source %s resource %s: a record without a "
                                 "position goes to the dead-letter topic: %s",
                         p->cfg->name, s->resource, err);
            rc = add_dead(s, rec, meta, err);
            continue;
        }
        if (seen_before(s, &pos)) {
            s->n.seen++;
            continue;
        }
        if (take_in(last, ties, !s->have_cur && !*advanced, &pos))
            *advanced = 1;
        if (s->p->cfg->poll.lookback_ms) {
            int noted = note_recent(look, &pos);
            if (noted < 0) {
                rc = noted;
                break;
            }
            if (noted)
                *advanced = 1;
        }
        if (hub_source_map(p->src, rec, meta, &s->mapped, NULL, err,
                           sizeof(err))) {
            hub_log_warn("poll", "source %s resource %s: record %s (at %s) "
                                 "did not map; it goes to the dead-letter "
                                 "topic: %s",
                         p->cfg->name, s->resource, pos.id, pos.at, err);
            rc = add_dead(s, rec, meta, err);
        }
    }
    json_decref(meta);
    return rc;
}

/* Produces what map_page made and waits for Kafka. */
static int produce(sync_t *s, char *err, size_t errlen) {
    size_t ndead = json_array_size(s->dead);
    if (s->mapped.n == 0 && ndead == 0)
        return 0;
    const hub_adapter_env_t *env = s->p->pl->env;
    hub_acks_t *acks = hub_acks_new();
    if (!acks)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    int64_t block = env->cfg->kafka.delivery_timeout_ms;
    int rc = hub_mapped_send(&s->mapped, env->cfg, env->producer, acks,
                             block, err, errlen);
    for (size_t i = 0; i < ndead && rc == 0; i++) {
        json_t *d = json_array_get(s->dead, i);
        char *text = json_dumps(json_object_get(d, "record"),
                                JSON_COMPACT | JSON_ENCODE_ANY);
        rc = text ? hub_adapter_dead_letter(
                        env, s->p->cfg->name, "poll", text, strlen(text),
                        json_object_get(d, "meta"),
                        json_string_value(json_object_get(d, "error")), acks,
                        block, err, errlen)
                  : hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        free(text);
    }
    /* Every report, even after a failure: the cursor moves only past
     * acknowledged events. The producer's delivery timeout bounds it. */
    int wrc = hub_acks_wait(acks, -1, rc ? NULL : err, rc ? 0 : errlen);
    hub_acks_free(acks);
    if (rc == 0 && wrc == 0) {
        s->n.events += s->mapped.n;
        hub_metric_add(s->p->events, s->mapped.n);
        hub_metric_add(s->p->dead_letters, ndead);
    }
    return rc ? rc : wrc;
}

/* One page: fetch, read, map, produce, store the cursor. *next is the
 * next page's token (new reference) or NULL at the end; *restart is 1
 * when poll_response said the vendor pages this query no further and a
 * new one from the cursor goes on. */
static int sync_page(sync_t *s, const json_t *start, const json_t *page,
                     json_t **next, int *restart, char *err, size_t errlen) {
    poller_t *p = s->p;
    hub_mapping_t *m = hub_source_mapping(p->src);
    const json_t *sj = hub_source_json(p->src);
    json_t *req = NULL, *body = NULL, *resp = NULL, *ties = NULL;
    json_t *look = NULL;
    *next = NULL;
    *restart = 0;
    int rc = hub_mapping_poll_request(m, sj, s->resource, start, page,
                                      p->params, &req, err, errlen);
    if (rc == 0)
        rc = hub_poll_client_fetch(p->client, req, &s->body, err, errlen);
    if (rc)
        goto done;
    json_error_t jerr;
    body = json_loadb(s->body.data ? s->body.data : "", s->body.len,
                      JSON_DECODE_ANY, &jerr);
    if (!body) {
        rc = hub_fail(err, errlen, HUB_EDECODE,
                      "%s: the response is not JSON: %s at byte %d",
                      hub_poll_client_last(p->client), jerr.text,
                      jerr.position);
        goto done;
    }
    if ((rc = hub_mapping_poll_response(m, sj, s->resource, page, body,
                                        &resp, err, errlen)))
        goto done;
    const json_t *records = json_object_get(resp, "records");
    if (!json_is_array(records)) {
        rc = hub_fail(err, errlen, HUB_EINVAL,
                      "poll_response gave no records array");
        goto done;
    }
    hub_poll_pos_t last = s->cur;
    int advanced;
    int64_t lookback = p->cfg->poll.lookback_ms;
    ties = json_deep_copy(s->ties);
    look = json_deep_copy(s->look);
    if ((rc = ties && look ? map_page(s, records, &last, ties, look,
                                      &advanced)
                           : HUB_ENOMEM)) {
        hub_fail(err, errlen, rc, "out of memory");
        goto done;
    }
    if ((rc = produce(s, err, errlen)))
        goto done;
    if (advanced) {
        if (lookback)
            prune_recent(look, &last, lookback);
        if ((rc = hub_poll_cursors_put(p->pl->cursors, p->cfg->name,
                                       s->resource, &last, ties, look, err,
                                       errlen)))
            goto done;
        s->cur = last;
        s->have_cur = 1;
        shift_at(s->cur.at, lookback, s->window);
        json_decref(s->ties);
        s->ties = ties;
        ties = NULL;
        json_decref(s->look);
        s->look = look;
        look = NULL;
    }
    json_t *n = json_object_get(resp, "next");
    if (n && !json_is_null(n) && !(json_is_string(n) && !json_string_length(n)))
        *next = json_incref(n);
    else
        *restart = json_is_true(json_object_get(resp, "restart"));
done:
    json_decref(ties);
    json_decref(look);
    json_decref(req);
    json_decref(body);
    json_decref(resp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* One sync                                                            */
/* ------------------------------------------------------------------ */

/* Where a sync starts: the stored cursor, else poll.since, else none. */
static int sync_start(sync_t *s, char *err, size_t errlen) {
    poller_t *p = s->p;
    int rc = hub_poll_cursors_get(p->pl->cursors, p->cfg->name, s->resource,
                                  &s->cur, &s->ties, &s->look, err, errlen);
    if (rc == 0) {
        s->have_cur = 1;
        shift_at(s->cur.at, p->cfg->poll.lookback_ms, s->window);
        if (!p->cfg->poll.lookback_ms) /* turned off: not kept any more */
            json_object_clear(s->look);
        return 0;
    }
    if (rc != HUB_ENOENT)
        return rc;
    s->have_cur = 0;
    if (!(s->ties = json_array()) || !(s->look = json_object()))
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    if (p->cfg->poll.since[0]) {
        /* In UTC: the presets put it in their vendor's query as UTC (some
         * cut it to whole seconds), so an offset would shift the first
         * sync by hours. An empty id sorts before every id of that
         * instant. */
        int64_t ms;
        if (hub_time_parse(p->cfg->poll.since, strlen(p->cfg->poll.since),
                           &ms, NULL) == 0)
            hub_time_format(ms, s->cur.at);
        else
            snprintf(s->cur.at, sizeof(s->cur.at), "%s", p->cfg->poll.since);
        s->cur.id[0] = '\0';
        s->have_cur = 1;
        shift_at(s->cur.at, p->cfg->poll.lookback_ms, s->window);
    }
    return 0;
}

/* What a query asks from: the cursor, or with poll.lookback the start of
 * its window (and no id: every record of that instant). A new reference,
 * NULL when out of memory. */
static json_t *query_start(const sync_t *s) {
    if (!s->p->cfg->poll.lookback_ms)
        return hub_poll_pos_to_json(&s->cur);
    hub_poll_pos_t from = {{0}, {0}};
    snprintf(from.at, sizeof(from.at), "%s", s->window);
    return hub_poll_pos_to_json(&from);
}

static void add_counts(counts_t *to, const counts_t *n) {
    to->records += n->records;
    to->seen += n->seen;
    to->failed += n->failed;
    to->events += n->events;
}

static void sync_resource(poller_t *p, const char *resource) {
    sync_t s = {.p = p, .resource = resource};
    char err[1024];
    json_t *start = NULL, *page = NULL;
    size_t pages = 0, queries = 1;
    int rc = sync_start(&s, err, sizeof(err));
    if (rc == 0 && s.have_cur && !(start = query_start(&s)))
        rc = hub_fail(err, sizeof(err), HUB_ENOMEM, "out of memory");
    /* where the query under way began: a restart must have moved on */
    hub_poll_pos_t began = s.cur;
    int had_began = s.have_cur;
    while (rc == 0 && !hub_poll_stop_requested(&p->pl->stop)) {
        json_t *next = NULL;
        int restart;
        rc = sync_page(&s, start, page, &next, &restart, err, sizeof(err));
        pages++;
        if (!rc && !next && restart) {
            /* A vendor that pages one query only so far (HubSpot's search:
             * 10,000 results): a new query from the cursor goes on, as
             * the next interval would, without waiting for it. */
            if (!s.have_cur ||
                (had_began && hub_poll_pos_cmp(&s.cur, &began) <= 0)) {
                rc = hub_fail(err, sizeof(err), HUB_EINVAL,
                              "poll_response asked for a new query, but the "
                              "cursor has not moved since this one began "
                              "(%s): more records at one instant than one "
                              "query pages through",
                              s.cur.at);
                break;
            }
            json_decref(start);
            json_decref(page);
            page = NULL;
            began = s.cur;
            had_began = 1;
            /* from the cursor itself: this sync read the lookback already */
            if (!(start = hub_poll_pos_to_json(&s.cur))) {
                rc = hub_fail(err, sizeof(err), HUB_ENOMEM, "out of memory");
                break;
            }
            queries++;
            continue;
        }
        if (rc || !next) {
            json_decref(next);
            break;
        }
        if (page && json_equal(page, next)) {
            json_decref(next);
            rc = hub_fail(err, sizeof(err), HUB_EINVAL,
                          "poll_response gave the same next page twice");
            break;
        }
        json_decref(page);
        page = next;
    }
    json_decref(start);
    json_decref(page);
    hub_mapped_free(&s.mapped);
    json_decref(s.dead);
    json_decref(s.ties);
    json_decref(s.look);
    hub_buf_free(&s.body);
    add_counts(&p->total, &s.n);
    if (rc == HUB_ESTATE && hub_poll_stop_requested(&p->pl->stop))
        return;
    char labels[512];
    snprintf(labels, sizeof(labels), "source=\"%s\",resource=\"%s\"",
             p->cfg->name, resource);
    if (rc) {
        hub_log_error("poll", "source %s resource %s: sync stopped at page "
                              "%zu, retried next interval: %s",
                      p->cfg->name, resource, pages, err);
        hub_metric_add(hub_metrics_counter("hub360_poll_failed_syncs_total",
                                           "Syncs of a polled resource that "
                                           "stopped on an error.",
                                           labels),
                       1);
    } else {
        /* age of the cursor = time() - this, in a Prometheus query */
        hub_metric_set(hub_metrics_gauge("hub360_poll_last_sync_timestamp_"
                                         "seconds",
                                         "When a polled resource last synced "
                                         "to its end (Unix time).",
                                         labels),
                       (double)hub_time_now_ms() / 1000.0);
    }
    uint64_t requests, retries;
    hub_poll_client_counts(p->client, &requests, &retries);
    hub_log(s.n.records > s.n.seen || s.n.failed ? HUB_LOG_INFO
                                                 : HUB_LOG_DEBUG,
            "poll",
            "source %s resource %s: %zu page(s) in %zu quer%s, %llu "
            "record(s), %llu event(s), %llu seen before, %llu failed; cursor "
            "%s%s%s; since start: %llu events, %llu failed, %llu requests, "
            "%llu retries",
            p->cfg->name, resource, pages, queries, queries == 1 ? "y" : "ies",
            (unsigned long long)s.n.records,
            (unsigned long long)s.n.events, (unsigned long long)s.n.seen,
            (unsigned long long)s.n.failed, s.have_cur ? s.cur.at : "none",
            s.have_cur ? " " : "", s.have_cur ? s.cur.id : "",
            (unsigned long long)p->total.events,
            (unsigned long long)p->total.failed,
            (unsigned long long)requests, (unsigned long long)retries);
}

static void *run(void *arg) {
    poller_t *p = arg;
    hub_poll_stop_t *stop = &p->pl->stop;
    do {
        size_t i;
        json_t *r;
        json_array_foreach(p->resources, i, r) {
            if (hub_poll_stop_requested(stop))
                break;
            sync_resource(p, json_string_value(r));
        }
    } while (!hub_poll_stop_wait(stop, p->cfg->poll.interval_ms));
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The plugin                                                          */
/* ------------------------------------------------------------------ */

static void stop(void *ctx) {
    plugin_t *pl = ctx;
    hub_poll_stop_request(&pl->stop);
    for (size_t i = 0; i < pl->n; i++)
        if (pl->pollers[i].started) {
            pthread_join(pl->pollers[i].thread, NULL);
            pl->pollers[i].started = 0;
        }
}

static void destroy(void *ctx) {
    plugin_t *pl = ctx;
    if (!pl)
        return;
    stop(pl);
    for (size_t i = 0; i < pl->n; i++) {
        poller_t *p = &pl->pollers[i];
        hub_poll_client_free(p->client);
        hub_source_free(p->src);
        hub_codec_free(p->codec);
        json_decref(p->resources);
        json_decref(p->params);
    }
    free(pl->pollers);
    hub_poll_cursors_close(pl->cursors);
    hub_poll_stop_destroy(&pl->stop);
    free(pl);
}

/* p->resources: poll.resources when given (each one the mapping polls),
 * else all of poll_resources. */
static int pick_resources(poller_t *p, char *err, size_t errlen) {
    json_t *all = NULL;
    int rc = hub_mapping_poll_resources(hub_source_mapping(p->src),
                                        hub_source_json(p->src), &all, err,
                                        errlen);
    if (rc)
        return rc;
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r) if (!json_is_string(r)) {
        json_decref(all);
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_resources gave a value that is not a string");
    }
    const hub_strlist_t *want = &p->cfg->poll.resources;
    if (want->n == 0) {
        p->resources = all;
        return 0;
    }
    p->resources = json_array();
    for (size_t k = 0; p->resources && k < want->n; k++) {
        int found = 0;
        json_array_foreach(all, i, r) found |=
            strcmp(json_string_value(r), want->v[k]) == 0;
        if (!found) {
            char names[512];
            char *text = json_dumps(all, JSON_COMPACT);
            snprintf(names, sizeof(names), "%s", text ? text : "?");
            free(text);
            json_decref(all);
            return hub_fail(err, errlen, HUB_ECONFIG,
                            "poll.resources: '%s' is not a resource its "
                            "mapping polls (%s)",
                            want->v[k], names);
        }
        json_array_append_new(p->resources, json_string(want->v[k]));
    }
    json_decref(all);
    return p->resources ? 0 : hub_fail(err, errlen, HUB_ENOMEM,
                                       "out of memory");
}

static int setup(plugin_t *pl, poller_t *p, char *err, size_t errlen) {
    const hub_adapter_env_t *env = pl->env;
    int rc = hub_codec_new(env->cat, env->cfg->kafka.topic_prefix, &p->codec,
                           err, errlen);
    if (rc == 0)
        rc = hub_source_new(p->cfg, p->codec, &p->src, err, errlen);
    if (rc)
        return rc;
    int can = hub_mapping_poll_check(hub_source_mapping(p->src), err, errlen);
    if (can < 0)
        return can;
    if (!can)
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "it has a poll.url but its mapping %s defines no "
                        "poll_resources, poll_request, poll_response and "
                        "poll_cursor",
                        hub_mapping_name(hub_source_mapping(p->src)));
    if ((rc = pick_resources(p, err, errlen)))
        return rc;
    const hub_strmap_t *m = &p->cfg->poll.params;
    if (!(p->params = json_object()))
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n; i++)
        if (json_object_set_new(p->params, m->keys[i],
                                json_string(m->vals[i])))
            return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    return hub_poll_client_new(&p->cfg->poll, p->cfg->name, &pl->stop,
                               &p->client, err, errlen);
}

static int init(const hub_adapter_env_t *env,
                const hub_source_config_t *const *sources, size_t n,
                void **ctx, char *err, size_t errlen) {
    plugin_t *pl = calloc(1, sizeof(*pl));
    if (!pl || !(pl->pollers = calloc(n, sizeof(*pl->pollers)))) {
        free(pl);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    pl->env = env;
    hub_poll_stop_init(&pl->stop);
    *ctx = pl;
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/adapters", env->cfg->data_dir) >=
        (int)sizeof(dir))
        return hub_fail(err, errlen, HUB_EINVAL, "data_dir is too long");
    int rc = hub_poll_cursors_open(dir, &pl->cursors, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        poller_t *p = &pl->pollers[pl->n++];
        p->pl = pl;
        p->cfg = sources[i];
        p->events = hub_adapter_metric("events", p->cfg->name, "poll");
        p->dead_letters =
            hub_adapter_metric("dead_letters", p->cfg->name, "poll");
        char why[1024];
        if ((rc = setup(pl, p, why, sizeof(why))))
            hub_fail(err, errlen, rc, "source %s: %s", p->cfg->name, why);
    }
    return rc;
}

static int start(void *ctx, char *err, size_t errlen) {
    plugin_t *pl = ctx;
    for (size_t i = 0; i < pl->n; i++) {
        poller_t *p = &pl->pollers[i];
        if (pthread_create(&p->thread, NULL, run, p))
            return hub_fail(err, errlen, HUB_ENOMEM,
                            "source %s: cannot start its poller thread",
                            p->cfg->name);
        p->started = 1;
        hub_log_info("poll", "source %s: polling %s every %lld ms",
                     p->cfg->name, p->cfg->poll.url,
                     (long long)p->cfg->poll.interval_ms);
    }
    return 0;
}

const hub_adapter_plugin_t hub_adapter_poll = {
    .name = "poll",
    .desc = "poll.url: a vendor's REST API, incrementally on an updated-at "
            "cursor kept in LMDB",
    .serves = serves,
    .init = init,
    .start = start,
    .stop = stop,
    .destroy = destroy,
};
