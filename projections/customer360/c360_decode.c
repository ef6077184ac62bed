/*
 * hub360 - decoding the events of a batch before they are applied.
 *
 * Decoding reads only the message and the rules: the envelope (checked
 * against the schema), the entity key, the identities normalized and
 * whether each may link. hub_c360_prepare has a whole batch decoded this
 * way on the other cores (hub_par_start), each thread into an arena of
 * its own, while hub_c360_apply (c360.c) takes the results in order as
 * they are ready (taking turns itself when they are not), or decodes a
 * message itself when it was not prepared, or could not be (another
 * writer schema: re-encoded in the codec's one buffer; a message that
 * does not validate: the codec names what is wrong).
 */
#include "c360_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "hash.h"
#include "uuid.h"

#define MAX_IDS 32 /* identities kept from one event */

static char *arena_printf(hub_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *arena_printf(hub_arena_t *a, const char *fmt, ...) {
    char tmp[sizeof ((hub_c360_result_t *)0)->error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return hub_arena_strndup(a, tmp, strlen(tmp));
}

/* A dead letter found while decoding; HUB_ENOMEM when even the message
 * cannot be kept. */
#define DEAD(...)                                                          \
    ((d->error = arena_printf(a, __VA_ARGS__)) ? (d->what = D_DEAD, 0)     \
                                               : HUB_ENOMEM)

/* Decodes the Avro of a message (no store, no batch state: any thread,
 * its own arena). with_links: also whether each identity may link. */
static int decode(const hub_c360_t *c, const uint8_t *avro, size_t alen,
                  int with_links, hub_arena_t *a, hub_c360_decoded_t *d) {
    hub_arec_t ev, src;
    int branch = -1;
    if (hub_arec_open(&ev, c->env, avro, alen, 0) ||
        hub_arec_rec(&ev, c->f_source, &src) != 1 ||
        hub_arec_branch(&ev, c->f_payload, &branch, &d->payload) != 1)
        return DEAD("malformed envelope");
    const char *uid;
    size_t uidlen;
    int64_t occurred;
    if (hub_arec_str(&ev, c->f_type, &d->type, &d->typelen) != 1 ||
        hub_arec_str(&ev, c->f_event_id, &uid, &uidlen) != 1 ||
        hub_arec_long(&ev, c->f_occurred, &occurred) != 1)
        return DEAD("malformed envelope");
    const char *et = d->payload.node->event_type;
    if (!et || strlen(et) != d->typelen ||
        memcmp(et, d->type, d->typelen) != 0)
        return DEAD("type \"%.*s\" does not match its payload (%s)",
                    (int)d->typelen, d->type, d->payload.node->fullname);
    if (hub_uuid_parse(uid, uidlen, &d->id))
        return DEAD("event_id: expected UUID string, got \"%.*s\"",
                    (int)uidlen, uid);
    d->st.at = occurred;
    memcpy(d->st.id, d->id.b, 16);
    if (hub_arec_long(&ev, c->f_sequence, &d->st.seq) != 1)
        d->st.seq = 0; /* none: null counts as 0 */
    if (branch == c->b_link || branch == c->b_unlink || branch == c->b_forget) {
        d->what = branch == c->b_link     ? D_LINK
                  : branch == c->b_unlink ? D_UNLINK
                                          : D_FORGET;
        return 0;
    }
    /* no rule: stock, purchasing, production (the stock projection's,
     * which needs the entity key too) */
    d->rule = hub_fold_rule(c->folder, branch);

    /* the entity's key: "<system>/<entity_type>/<entity_id>" */
    const char *sys, *etype, *eid;
    size_t syslen, etlen, eidlen;
    if (hub_arec_str(&src, c->s_system, &sys, &syslen) != 1 ||
        hub_arec_str(&src, c->s_etype, &etype, &etlen) != 1 ||
        hub_arec_str(&src, c->s_eid, &eid, &eidlen) != 1 ||
        hub_arec_enum(&src, c->s_kind, &d->kind) != 1)
        return DEAD("malformed source");
    if (!syslen || !etlen || !eidlen || memchr(sys, '/', syslen) ||
        memchr(etype, '/', etlen))
        return DEAD("source.system and source.entity_type must be "
                    "non-empty and without '/'; entity_id non-empty");
    if (syslen >= 128)
        return DEAD("source.system is longer than %d bytes", 127);
    d->ekeylen = syslen + etlen + eidlen + 2;
    if (d->ekeylen > HUB_MAX_KEY)
        return DEAD("entity key longer than %d bytes", HUB_MAX_KEY);
    char *ekey = hub_arena_alloc(a, d->ekeylen + 1);
    if (!ekey || !(d->system = hub_arena_strndup(a, sys, syslen)))
        return HUB_ENOMEM;
    memcpy(ekey, sys, syslen);
    ekey[syslen] = '/';
    memcpy(ekey + syslen + 1, etype, etlen);
    ekey[syslen + 1 + etlen] = '/';
    memcpy(ekey + syslen + etlen + 2, eid, eidlen);
    ekey[d->ekeylen] = '\0';
    d->ekey = ekey;
    if (!d->rule) {
        d->what = D_OTHER;
        return 0;
    }

    /* its identities, normalized */
    hub_aiter_t it;
    size_t at;
    int r = hub_arec_array(&ev, c->f_identities, &it);
    /* as many slots as it has (a whole batch is decoded ahead: MAX_IDS
     * of each per event would be a kilobyte) */
    size_t cap = 0;
    hub_aiter_t count = it;
    while (r >= 0 && cap < MAX_IDS && hub_aiter_next(&count, &at) == 1)
        cap++;
    size_t slots = cap ? cap : 1;
    if (!(d->ids = hub_arena_alloc(a, slots * sizeof *d->ids)) ||
        !(d->kinds = hub_arena_alloc(a, slots * sizeof *d->kinds)) ||
        !(d->raw = hub_arena_alloc(a, slots * sizeof *d->raw)) ||
        !(d->rawlen = hub_arena_alloc(a, slots * sizeof *d->rawlen)) ||
        !(d->links = hub_arena_alloc(a, slots * sizeof *d->links)))
        return HUB_ENOMEM;
    size_t n = 0;
    while (r >= 0 && (r = hub_aiter_next(&it, &at)) == 1) {
        hub_arec_t one;
        int kind;
        const char *raw;
        size_t rawlen;
        if (hub_arec_open(&one, it.items, it.buf, it.len, at) ||
            hub_arec_enum(&one, c->i_kind, &kind) != 1 ||
            hub_arec_str(&one, c->i_value, &raw, &rawlen) != 1) {
            r = -1;
            break;
        }
        if (n == cap)
            continue; /* more on one event: the first MAX_IDS count */
        d->kinds[n] = kind;
        d->raw[n] = raw;
        d->rawlen[n] = rawlen;
        char key[512];
        if (hub_ident_normalize(&c->rules, d->kinds[n], d->raw[n],
                                d->rawlen[n], d->system, key,
                                sizeof key) < 0) {
            d->rejected++;
            continue;
        }
        if (!(d->ids[n] = hub_arena_strndup(a, key, strlen(key))))
            return HUB_ENOMEM;
        d->links[n] = with_links
                          ? (int8_t)hub_ident_links(&c->rules, d->kinds[n],
                                                    key, d->raw[n],
                                                    d->rawlen[n])
                          : -1;
        n++;
    }
    d->nids = n;
    if (r < 0)
        return DEAD("malformed identities");
    d->what = D_DOMAIN;
    return 0;
}

#undef DEAD

/* The batch given to hub_c360_prepare: the messages in the order they
 * will be applied; thread t decodes into arena t and looks up in the
 * store through read transaction rt[t] (NULL: it does not look up). */
typedef struct prep {
    hub_c360_t *c;
    hub_c360_msg_t *msgs; /* a copy: the caller's array may go */
    size_t n;
    MDB_txn *rt[HUB_PAR_MAX];
    MDB_cursor *ents[HUB_PAR_MAX], *dedupe[HUB_PAR_MAX];
} prep;

/*
 * What applying d will ask the store first: whether its event id is in
 * T_DEDUPE and, for a domain event, its entity's component in
 * T_ENTITIES, as the store was when the batch began (the read
 * transaction's snapshot: the batch has written neither table yet). The
 * batch is in entity-key order and a thread takes it in runs of
 * consecutive messages, so the entity cursor mostly finds the next key
 * on the leaf it is on, without a descent from the root.
 */
static void look_up(prep *p, size_t t, hub_c360_decoded_t *d) {
    if (!p->rt[t] || (d->what != D_DOMAIN && d->what != D_LINK &&
                      d->what != D_UNLINK && d->what != D_FORGET &&
                      d->what != D_OTHER))
        return;
    MDB_val k = {16, d->id.b}, v;
    int r = mdb_cursor_get(p->dedupe[t], &k, &v, MDB_SET);
    if (r != 0 && r != MDB_NOTFOUND)
        return;
    d->pre = PRE_DEDUPE | (r == 0 ? PRE_SEEN : 0);
    if (d->what != D_DOMAIN)
        return;
    k.mv_size = d->ekeylen;
    k.mv_data = (void *)d->ekey;
    r = mdb_cursor_get(p->ents[t], &k, &v, MDB_SET_KEY);
    if (r == 0 && v.mv_size == 8) {
        d->pre |= PRE_ENT | PRE_ENT_HAS;
        d->pre_comp = hub_rd_be64(v.mv_data);
    } else if (r == MDB_NOTFOUND) {
        d->pre |= PRE_ENT;
    } /* else: hub_c360_apply looks it up and reports what it finds */
}

static void prepare_one(void *arg, size_t i, size_t t) {
    prep *p = arg;
    hub_c360_t *c = p->c;
    const hub_c360_msg_t *m = &p->msgs[i];
    hub_c360_decoded_t *d = &c->pre[i];
    memset(d, 0, sizeof *d);
    d->value = m->value;
    const uint8_t *avro;
    size_t alen;
    if (!m->value ||
        hub_codec_envelope_own(c->codec, m->value, m->len, &avro, &alen) != 1 ||
        decode(c, avro, alen, 1, &c->pre_arena[t], d))
        d->what = D_LATER; /* hub_c360_apply decodes it */
    else
        look_up(p, t, d);
    if (d->what == D_DOMAIN) { /* D_OTHER: no customer, no entity state */
        hub_sha256(d->ekey, d->ekeylen, NULL, 0, d->ekey_sha);
        d->has_sha = 1;
        if (p->rt[t])
            hub_report_look_ahead(c->report, p->rt[t], d->type, d->typelen,
                                  d->ekey_sha, &c->pre_arena[t], &d->report);
    }
}

static void end_lookups(prep *p) {
    for (size_t t = 0; t < HUB_PAR_MAX; t++) {
        if (p->ents[t])
            mdb_cursor_close(p->ents[t]);
        if (p->dedupe[t])
            mdb_cursor_close(p->dedupe[t]);
        if (p->rt[t])
            mdb_txn_abort(p->rt[t]);
    }
}

/*
 * The batch is decoded by the other cores while this thread applies it:
 * hub_par_start hands the messages out in turns of 64, in the order they
 * are applied, and hub_c360_decoded_of asks for each as it comes to it
 * (taking a turn itself when the others are behind). The lookups read
 * the store as the batch began, whenever they run: an answer is used
 * only while what it asked cannot have been written since (T_ENTITIES
 * until deferred writes go in, c360.c; T_DEDUPE gains only the batch's
 * own ids; the report's entities are written at commit, report.c).
 * Besides decoding, each thread hashes the entity key (the customer id
 * and the report's key come from it) and looks up the report's state of
 * the entity, so that this thread does neither.
 */
int hub_c360_prepare(hub_c360_t *c, const hub_c360_msg_t *msgs, size_t n) {
    hub_c360_prepare_end(c);
    c->npre = c->nextpre = 0;
    if (hub_array_reserve(&c->pre, &c->cappre, n, sizeof *c->pre))
        return HUB_ENOMEM;
    prep *p = calloc(1, sizeof *p);
    if (!p || !(p->msgs = malloc((n ? n : 1) * sizeof *msgs))) {
        free(p);
        return HUB_ENOMEM;
    }
    if (n)
        memcpy(p->msgs, msgs, n * sizeof *msgs);
    p->c = c;
    p->n = n;
    /* One read transaction per thread (the store runs with MDB_NOTLS, so
     * a transaction begun here may be used on the thread that takes t).
     * Without them (no reader slot free, say) nothing is looked up ahead:
     * hub_c360_apply looks up itself. Not once deferred writes went in:
     * the snapshot would no longer be what the batch sees. */
    size_t nt = hub_par_threads();
    for (size_t t = 0; t < nt && c->txn && !c->flushed; t++) {
        MDB_txn *rt;
        if (mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY, &rt))
            break;
        p->rt[t] = rt;
        if (mdb_cursor_open(rt, DBI(c, T_ENTITIES), &p->ents[t]) ||
            mdb_cursor_open(rt, DBI(c, T_DEDUPE), &p->dedupe[t])) {
            p->rt[t] = NULL;
            if (p->ents[t])
                mdb_cursor_close(p->ents[t]);
            p->ents[t] = NULL;
            mdb_txn_abort(rt);
            break;
        }
    }
    c->prep = p;
    c->npre = n;
    c->prep_job = hub_par_start(n, 64, 0, prepare_one, p);
    if (!c->prep_job)
        hub_c360_prepare_end(c); /* decoded already, on this thread */
    return 0;
}

void hub_c360_prepare_end(hub_c360_t *c) {
    hub_par_end(c->prep_job); /* what nobody asked for is not decoded */
    c->prep_job = NULL;
    if (c->prep) {
        end_lookups(c->prep);
        free(c->prep->msgs);
        free(c->prep);
        c->prep = NULL;
    }
}

hub_c360_decoded_t *hub_c360_decoded_of(hub_c360_t *c,
                                        const hub_c360_msg_t *m,
                                        hub_c360_decoded_t *d,
                                        hub_c360_result_t *res, int *rc) {
    *rc = 0;
    if (c->nextpre < c->npre)
        hub_par_need(c->prep_job, c->nextpre);
    if (c->nextpre < c->npre && c->pre[c->nextpre].value == m->value &&
        c->pre[c->nextpre].what != D_LATER)
        return &c->pre[c->nextpre++];
    if (c->nextpre < c->npre && c->pre[c->nextpre].value == m->value)
        c->nextpre++;
    if (!m->value) {
        hub_c360_dead(res, "a null value (tombstone) on an event topic");
        return NULL;
    }
    const uint8_t *avro;
    size_t alen;
    char err[400];
    if ((*rc = hub_codec_envelope_bytes(c->codec, m->value, m->len, &avro,
                                        &alen, err, sizeof err))) {
        if (!hub_err_retriable(*rc)) {
            *rc = 0;
            hub_c360_dead(res, "%s", err);
        }
        return NULL;
    }
    memset(d, 0, sizeof *d);
    if ((*rc = decode(c, avro, alen, 0, &c->arena, d)))
        return NULL;
    return d;
}

