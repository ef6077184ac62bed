/*
 * hub360 - the customer-360 view: computed from member entities, written
 * as Avro binary in the field order of the schemas in schemas/customer360 (the
 * unit tests decode it with the released schema to keep the two in step).
 */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "hash.h"
#include "identity.h"
#include "sort.h"

/* ------------------------------------------------------------------ */
/* Ids                                                                 */
/* ------------------------------------------------------------------ */

static void format_cid(const uint8_t md[10],
                       char out[HUB_CUSTOMER_ID_LEN + 1]) {
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    memcpy(out, "cus_", 4);
    /* 16 characters of 5 bits from the first 10 bytes */
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)md[byte] << 8 |
                     (byte + 1 < 10 ? md[byte + 1] : 0);
        out[4 + i] = b32[(v >> (11 - shift)) & 31];
    }
    out[HUB_CUSTOMER_ID_LEN] = '\0';
}

void hub_customer_id(const char *ekey, size_t len,
                     char out[HUB_CUSTOMER_ID_LEN + 1]) {
    uint8_t md[32];
    hub_sha256(ekey, len, NULL, 0, md);
    format_cid(md, out);
}

void hub_ent_set_cidh(hub_ent_t *e, const uint8_t *sha) {
    if (sha && !e->has_cidh) {
        memcpy(e->cidh, sha, 10);
        e->has_cidh = 1;
    }
}

void hub_ent_cid(hub_ent_t *e, char out[HUB_CUSTOMER_ID_LEN + 1]) {
    if (!e->has_cidh) {
        uint8_t md[32];
        hub_sha256(e->key, e->keylen, NULL, 0, md);
        memcpy(e->cidh, md, 10);
        e->has_cidh = 1;
    }
    format_cid(e->cidh, out);
}

int hub_ent_alias_eligible(const hub_ent_t *e) {
    if (e->kind == 3 /* HUB */)
        return 0;
    for (uint32_t i = 0; i < e->nids; i++) {
        if (!(e->ids[i].flags & HUB_EID_INTERNAL))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */
/* ------------------------------------------------------------------ */

enum { PF_NAME, PF_COMPANY, PF_TITLE, PF_LOCALE, PF_REGION, PF_LIFECYCLE,
       PF_LEAD_SOURCE, PF_OWNER, PF_COUNT };

typedef struct field_rule {
    char **sources; /* NULL: most recent */
    size_t nsources;
} field_rule;

typedef struct named_segment {
    char *name;
    hub_segment_t *seg;
} named_segment;

struct hub_view_rules {
    field_rule fields[PF_COUNT];
    int ignore_empty;
    named_segment *segs;
    size_t nsegs;
};

void hub_view_rules_free(hub_view_rules_t *r) {
    if (!r)
        return;
    for (int f = 0; f < PF_COUNT; f++) {
        for (size_t i = 0; i < r->fields[f].nsources; i++)
            free(r->fields[f].sources[i]);
        free(r->fields[f].sources);
    }
    for (size_t i = 0; i < r->nsegs; i++) {
        free(r->segs[i].name);
        hub_segment_free(r->segs[i].seg);
    }
    free(r->segs);
    free(r);
}

static int cmp_seg(const void *a, const void *b) {
    return strcmp(((const named_segment *)a)->name,
                  ((const named_segment *)b)->name);
}

int hub_view_rules_new(const hub_profile_config_t *profile,
                       const hub_strmap_t *segments, hub_view_rules_t **out,
                       char *err, size_t errlen) {
    *out = NULL;
    hub_view_rules_t *r = calloc(1, sizeof *r);
    if (!r)
        return HUB_ENOMEM;
    r->ignore_empty = profile->ignore_empty;
    for (size_t i = 0; i < profile->rules.n; i++) {
        int f = -1;
        for (int k = 0; hub_profile_fields[k]; k++)
            if (strcmp(hub_profile_fields[k], profile->rules.keys[i]) == 0)
                f = k;
        const char *rule = profile->rules.vals[i];
        if (f < 0 || strncmp(rule, "source_priority:", 16) != 0)
            continue; /* most_recent is the default */
        /* "source_priority: a, b, c" */
        for (const char *p = rule + 16; *p;) {
            while (*p == ' ' || *p == ',')
                p++;
            size_t n = strcspn(p, ", ");
            if (!n)
                break;
            char **s = realloc(r->fields[f].sources,
                               (r->fields[f].nsources + 1) * sizeof *s);
            if (!s || !(s[r->fields[f].nsources] = strndup(p, n))) {
                if (s)
                    r->fields[f].sources = s;
                hub_view_rules_free(r);
                return HUB_ENOMEM;
            }
            r->fields[f].sources = s;
            r->fields[f].nsources++;
            p += n;
        }
    }
    if (segments->n &&
        !(r->segs = calloc(segments->n, sizeof *r->segs))) {
        hub_view_rules_free(r);
        return HUB_ENOMEM;
    }
    for (size_t i = 0; i < segments->n; i++) {
        char why[256];
        r->segs[i].name = strdup(segments->keys[i]);
        r->nsegs = i + 1;
        if (!r->segs[i].name ||
            hub_segment_compile(segments->vals[i], &r->segs[i].seg, why,
                                sizeof why)) {
            hub_fail(err, errlen, HUB_ECONFIG, "segments.%s: %s",
                     segments->keys[i], why);
            hub_view_rules_free(r);
            return HUB_ECONFIG;
        }
    }
    hub_sort(r->segs, r->nsegs, sizeof *r->segs, cmp_seg);
    *out = r;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Avro writing                                                        */
/* ------------------------------------------------------------------ */

static void put_long(hub_buf_t *b, int64_t v) { hub_buf_put_zigzag(b, v); }

static void put_str(hub_buf_t *b, const char *s, size_t len) {
    put_long(b, (int64_t)len);
    hub_buf_append(b, s, len);
}

static void put_double(hub_buf_t *b, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    char tmp[8];
    for (int i = 0; i < 8; i++, u >>= 8)
        tmp[i] = (char)(u & 0xff);
    hub_buf_append(b, tmp, 8);
}

/* Optional values: union index 0 is null, 1 the value. */
static void put_opt_long(hub_buf_t *b, int set, int64_t v) {
    put_long(b, set);
    if (set)
        put_long(b, v);
}

static void put_opt_double(hub_buf_t *b, int set, double v) {
    put_long(b, set);
    if (set)
        put_double(b, v);
}

/* ------------------------------------------------------------------ */
/* Computation                                                         */
/* ------------------------------------------------------------------ */

typedef struct money {
    char cur[8];
    int64_t amount;
} money;

typedef struct moneys {
    money m[16];
    int n;
} moneys;

/* A register's number, 0 when never set; its text, "" when none. */
static int64_t reg_int(const hub_ent_t *e, int slot) {
    return hub_ent_reg(e, slot)->i; /* hub_reg_unset's is 0 */
}

static const char *reg_str(const hub_ent_t *e, int slot) {
    const hub_reg_t *r = hub_ent_reg(e, slot);
    return r->set && r->is_str ? r->s : "";
}

static void money_add(moneys *ms, const hub_reg_t *cur, int64_t v) {
    const char *c = cur && cur->set && cur->is_str ? cur->s : "";
    char code[sizeof ms->m[0].cur];
    size_t cl = strlen(c);
    if (cl >= sizeof code)
        cl = sizeof code - 1; /* not a currency code anyway */
    memcpy(code, c, cl);
    code[cl] = '\0';
    for (int i = 0; i < ms->n; i++) {
        if (strcmp(ms->m[i].cur, code) == 0) {
            ms->m[i].amount += v;
            return;
        }
    }
    if (ms->n < 16) {
        memcpy(ms->m[ms->n].cur, code, cl + 1);
        ms->m[ms->n++].amount = v;
    }
}

static int cmp_money(const void *a, const void *b) {
    return strcmp(((const money *)a)->cur, ((const money *)b)->cur);
}

static void put_moneys(hub_buf_t *b, moneys *ms) {
    hub_sort(ms->m, (size_t)ms->n, sizeof ms->m[0], cmp_money);
    int n = 0;
    for (int i = 0; i < ms->n; i++)
        n += ms->m[i].amount != 0;
    if (n) {
        put_long(b, n);
        for (int i = 0; i < ms->n; i++) {
            if (!ms->m[i].amount)
                continue;
            put_str(b, ms->m[i].cur, strlen(ms->m[i].cur));
            put_long(b, ms->m[i].amount);
        }
    }
    put_long(b, 0);
}

/* A sourced value chosen for a profile field. */
typedef struct sourced {
    int set;
    const char *v;
    size_t len;
    const hub_ent_t *e;
    hub_stamp_t st;
} sourced;

static size_t sys_len(const hub_ent_t *e) {
    const char *slash = memchr(e->key, '/', e->keylen);
    return slash ? (size_t)(slash - e->key) : e->keylen;
}

static int source_rank(const field_rule *fr, const hub_ent_t *e) {
    size_t n = sys_len(e);
    for (size_t i = 0; i < fr->nsources; i++) {
        if (strlen(fr->sources[i]) == n &&
            memcmp(fr->sources[i], e->key, n) == 0)
            return (int)i;
    }
    return (int)fr->nsources;
}

/* Should candidate (v, e, st) replace the current choice? */
static int better(const field_rule *fr, const sourced *cur, const hub_ent_t *e,
                  const hub_stamp_t *st) {
    if (!cur->set)
        return 1;
    if (fr->sources) {
        int a = source_rank(fr, e), b = source_rank(fr, cur->e);
        if (a != b)
            return a < b;
    }
    return hub_stamp_cmp(st, &cur->st) > 0;
}

static void consider(const hub_view_rules_t *r, int f, sourced *cur,
                     const hub_ent_t *e, const char *v, size_t len,
                     const hub_stamp_t *st) {
    if (r->ignore_empty && len == 0)
        return;
    if (better(&r->fields[f], cur, e, st)) {
        cur->set = 1;
        cur->v = v;
        cur->len = len;
        cur->e = e;
        cur->st = *st;
    }
}

static void put_sourced(hub_buf_t *b, const sourced *s) {
    put_long(b, s->set);
    if (!s->set)
        return;
    put_str(b, s->v, s->len);
    put_str(b, s->e->key, sys_len(s->e));
    put_long(b, s->st.at);
}

#define PERSON (ROLE_LEAD | ROLE_CONTACT | ROLE_CUSTOMER | ROLE_SOCIAL_PROFILE)
#define SOCIAL                                                                 \
    (ROLE_MENTION | ROLE_CONVERSATION | ROLE_COMMENT | ROLE_FOLLOWER |         \
     ROLE_SHARE | ROLE_MEMBERSHIP | ROLE_SOCIAL_PROFILE)

static int is_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* An identity of a member, for the lists. */
typedef struct idref {
    int kind;
    const char *value; /* after "<kind>:" */
    const hub_ent_t *e;
    hub_stamp_t st;
} idref;

static int cmp_idref(const void *a, const void *b) {
    const idref *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    int c = strcmp(x->value, y->value);
    if (c)
        return c;
    return -hub_stamp_cmp(&x->st, &y->st); /* most recent first */
}

typedef struct account {
    char platform[64];
    const char *handle;
    int following_set, following;
    hub_stamp_t since;
} account;

static int cmp_account(const void *a, const void *b) {
    const account *x = a, *y = b;
    int c = strcmp(x->platform, y->platform);
    return c ? c : strcmp(x->handle, y->handle);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Segment inputs. */
typedef struct seg_env {
    hub_seg_value_t v[128];
    size_t n;
    char paths[128][48];
} seg_env;

static void set_path(seg_env *env, const char *path) {
    size_t n = strlen(path);
    if (n >= sizeof env->paths[0])
        n = sizeof env->paths[0] - 1;
    memcpy(env->paths[env->n], path, n);
    env->paths[env->n][n] = '\0';
}

static void env_num(seg_env *env, const char *path, double v) {
    if (env->n >= 128)
        return;
    set_path(env, path);
    env->v[env->n] = (hub_seg_value_t){env->paths[env->n], 1, v, NULL};
    env->n++;
}

static void env_str(seg_env *env, const char *path, const char *s) {
    if (env->n >= 128 || !s)
        return;
    set_path(env, path);
    env->v[env->n] = (hub_seg_value_t){env->paths[env->n], 0, 0, s};
    env->n++;
}

static void env_moneys(seg_env *env, const char *prefix, const moneys *ms) {
    size_t pl = strlen(prefix);
    for (int i = 0; i < ms->n; i++) {
        char path[48];
        size_t cl = strlen(ms->m[i].cur);
        if (pl + 1 + cl >= sizeof path)
            continue;
        memcpy(path, prefix, pl);
        path[pl] = '.';
        memcpy(path + pl + 1, ms->m[i].cur, cl + 1);
        env_num(env, path, (double)ms->m[i].amount);
    }
}

/* Same system and entity id as entity e? (for references) */
static int refers_to(const hub_ent_t *ref_holder, const hub_reg_t *ref,
                     const hub_ent_t *e) {
    if (!ref->set || !ref->is_str)
        return 0;
    const char *sys, *type, *id, *rsys, *rtype, *rid;
    size_t syslen, typelen, idlen, rsyslen, rtypelen, ridlen;
    hub_ent_parts(e, &sys, &syslen, &type, &typelen, &id, &idlen);
    hub_ent_parts(ref_holder, &rsys, &rsyslen, &rtype, &rtypelen, &rid,
                  &ridlen);
    return syslen == rsyslen && memcmp(sys, rsys, syslen) == 0 &&
           (size_t)ref->i == idlen && memcmp(ref->s, id, idlen) == 0;
}

int hub_view_build(const hub_view_rules_t *rules, hub_ent_t *const *m,
                   size_t n, size_t anchor, hub_buf_t *b) {
    hub_buf_reset(b);
    /* scratch: on the stack for the usual small customer */
    enum { SMALL = 32 };
    seg_env env_s;
    seg_env *env = &env_s;
    env->n = 0;
    size_t nid = 0;
    for (size_t i = 0; i < n; i++)
        nid += m[i]->nids;
    idref ids_s[4 * SMALL];
    account acc_s[4 * SMALL + SMALL + 1];
    const char *strs_s[SMALL + 1];
    char names_s[SMALL * 512 + 1];
    int big = n > SMALL || nid > 4 * SMALL;
    idref *ids = big ? malloc((nid ? nid : 1) * sizeof *ids) : ids_s;
    account *acc = big ? malloc((nid + n + 1) * sizeof *acc) : acc_s;
    const char **strs = big ? malloc((n + 1) * sizeof *strs) : strs_s;
    char *names = big ? malloc(n * 512 + 1) : names_s; /* first + last */
    if (!ids || !acc || !strs || !names) {
        if (big) {
            free(ids);
            free(acc);
            free(strs);
            free(names);
        }
        return HUB_ENOMEM;
    }

    /* id, aliases */
    char cid[HUB_CUSTOMER_ID_LEN + 1];
    hub_ent_cid(m[anchor], cid);
    put_str(b, cid, HUB_CUSTOMER_ID_LEN);
    char aliases_s[SMALL][HUB_CUSTOMER_ID_LEN + 1];
    char (*aliases)[HUB_CUSTOMER_ID_LEN + 1] =
        n > SMALL ? malloc(n * sizeof *aliases) : aliases_s;
    size_t nal = 0;
    for (size_t i = 0; aliases && i < n; i++) {
        if (i != anchor && hub_ent_alias_eligible(m[i]))
            hub_ent_cid(m[i], aliases[nal++]);
    }
    for (size_t i = 0; i < nal; i++)
        strs[i] = aliases[i];
    hub_sort(strs, nal, sizeof *strs, cmp_str);
    if (nal) {
        put_long(b, (int64_t)nal);
        for (size_t i = 0; i < nal; i++)
            put_str(b, strs[i], HUB_CUSTOMER_ID_LEN);
    }
    put_long(b, 0);

    /* identities: unique (kind, value), sorted */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < m[i]->nids; j++) {
            const hub_eid_t *x = &m[i]->ids[j];
            if (x->flags & HUB_EID_INTERNAL || x->kind < 0)
                continue;
            const char *colon = strchr(x->key, ':');
            ids[k++] = (idref){x->kind, colon ? colon + 1 : x->key, m[i],
                               x->st};
        }
    }
    hub_sort(ids, k, sizeof *ids, cmp_idref);
    size_t uniq = 0;
    for (size_t i = 0; i < k; i++) {
        if (uniq && ids[uniq - 1].kind == ids[i].kind &&
            strcmp(ids[uniq - 1].value, ids[i].value) == 0)
            continue; /* the first kept is the most recent member */
        ids[uniq++] = ids[i];
    }
    if (uniq) {
        put_long(b, (int64_t)uniq);
        for (size_t i = 0; i < uniq; i++) {
            put_long(b, ids[i].kind);
            put_str(b, ids[i].value, strlen(ids[i].value));
        }
    }
    put_long(b, 0);

    /* members */
    int64_t updated_at = INT64_MIN;
    if (n) {
        put_long(b, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            const char *sys, *type, *id;
            size_t syslen, typelen, idlen;
            hub_ent_parts(m[i], &sys, &syslen, &type, &typelen, &id, &idlen);
            put_str(b, sys, syslen);
            put_long(b, m[i]->kind);
            put_str(b, type, typelen);
            put_str(b, id, idlen);
            if (m[i]->last.at > updated_at)
                updated_at = m[i]->last.at;
        }
    }
    put_long(b, 0);
    if (updated_at == INT64_MIN)
        updated_at = 0;

    /* profile */
    sourced pf[PF_COUNT];
    memset(pf, 0, sizeof pf);
    static const int reg_of[PF_COUNT] = {R_NAME,   R_COMPANY,   R_TITLE,
                                         R_LOCALE, R_REGION,    R_LIFECYCLE,
                                         R_LEAD_SOURCE, R_OWNER};
    for (size_t i = 0; i < n; i++) {
        const hub_ent_t *e = m[i];
        uint32_t person = e->roles & PERSON;
        for (int f = 0; f < PF_COUNT; f++) {
            uint32_t ok = person;
            if (f == PF_COMPANY || f == PF_OWNER)
                ok |= e->roles & ROLE_ACCOUNT;
            if (f == PF_LIFECYCLE || f == PF_LEAD_SOURCE || f == PF_OWNER)
                ok &= ROLE_LEAD | ROLE_CONTACT | ROLE_ACCOUNT;
            const hub_reg_t *r = hub_ent_reg(e, reg_of[f]);
            if (!ok)
                continue;
            if (r->set && r->is_str) {
                consider(rules, f, &pf[f], e, r->s, (size_t)r->i, &r->st);
            } else if (f == PF_NAME && (hub_ent_reg(e, R_FIRST_NAME)->set ||
                                        hub_ent_reg(e, R_LAST_NAME)->set)) {
                const hub_reg_t *fn = hub_ent_reg(e, R_FIRST_NAME),
                                *ln = hub_ent_reg(e, R_LAST_NAME);
                const char *a = fn->set ? fn->s : "", *z = ln->set ? ln->s : "";
                /* Latin names "Ann Li"; Chinese names "李安" */
                const char *sep = *a && *z && is_ascii(a) && is_ascii(z) ? " "
                                  : "";
                char *buf = names + i * 512;
                int len = is_ascii(a) || is_ascii(z)
                              ? snprintf(buf, 512, "%s%s%s", a, sep, z)
                              : snprintf(buf, 512, "%s%s", z, a);
                hub_stamp_t st = fn->set ? fn->st : ln->st;
                if (ln->set && hub_stamp_cmp(&ln->st, &st) > 0)
                    st = ln->st;
                if (len > 0)
                    consider(rules, f, &pf[f], e, buf,
                             (size_t)(len < 511 ? len : 511), &st);
            }
        }
    }
    put_sourced(b, &pf[PF_NAME]);
    put_sourced(b, &pf[PF_COMPANY]);
    put_sourced(b, &pf[PF_TITLE]);
    for (int kind = HUB_ID_EMAIL; kind <= HUB_ID_PHONE; kind++) {
        size_t cnt = 0;
        for (size_t i = 0; i < uniq; i++)
            cnt += ids[i].kind == kind;
        if (cnt) {
            put_long(b, (int64_t)cnt);
            for (size_t i = 0; i < uniq; i++) {
                if (ids[i].kind != kind)
                    continue;
                sourced s = {1, ids[i].value, strlen(ids[i].value), ids[i].e,
                             ids[i].st};
                put_str(b, s.v, s.len);
                put_str(b, s.e->key, sys_len(s.e));
                put_long(b, s.st.at);
            }
        }
        put_long(b, 0);
    }
    put_sourced(b, &pf[PF_LOCALE]);
    put_sourced(b, &pf[PF_REGION]);
    static const char *const pf_path[PF_COUNT] = {
        "profile.name",          "profile.company",    "profile.title",
        "profile.locale",        "profile.region",     "sales.lifecycle_stage",
        "sales.lead_source",     "sales.owner"};
    for (int f = 0; f < PF_COUNT; f++)
        if (pf[f].set)
            env_str(env, pf_path[f], pf[f].v);

    /* sales */
    put_sourced(b, &pf[PF_LIFECYCLE]);
    put_sourced(b, &pf[PF_LEAD_SOURCE]);
    put_sourced(b, &pf[PF_OWNER]);
    int opp_open = 0, opp_won = 0, opp_lost = 0, con_active = 0,
        campaigns = 0;
    moneys open_amt = {0}, won_amt = {0}, con_amt = {0};
    for (size_t i = 0; i < n; i++) {
        const hub_ent_t *e = m[i];
        if (e->roles & ROLE_OPPORTUNITY) {
            const char *st = reg_str(e, R_STATUS);
            int64_t amt = reg_int(e, R_AMOUNT);
            if (strcmp(st, "won") == 0) {
                opp_won++;
                money_add(&won_amt, hub_ent_reg(e, R_CURRENCY), amt);
            } else if (strcmp(st, "lost") == 0) {
                opp_lost++;
            } else {
                opp_open++;
                money_add(&open_amt, hub_ent_reg(e, R_CURRENCY), amt);
            }
        }
        if (e->roles & ROLE_CONTRACT) {
            const hub_reg_t *s = hub_ent_reg(e, R_START),
                            *f = hub_ent_reg(e, R_END);
            if ((!s->set || s->i <= updated_at) &&
                (!f->set || updated_at < f->i)) {
                con_active++;
                money_add(&con_amt, hub_ent_reg(e, R_CURRENCY),
                          reg_int(e, R_AMOUNT));
            }
        }
        campaigns += !!(e->roles & ROLE_CAMPAIGN);
    }
    put_long(b, opp_open);
    put_moneys(b, &open_amt);
    put_long(b, opp_won);
    put_moneys(b, &won_amt);
    put_long(b, opp_lost);
    put_long(b, con_active);
    put_moneys(b, &con_amt);
    put_long(b, campaigns);
    env_num(env, "sales.opportunities_open", opp_open);
    env_num(env, "sales.opportunities_won", opp_won);
    env_num(env, "sales.opportunities_lost", opp_lost);
    env_num(env, "sales.contracts_active", con_active);
    env_num(env, "sales.campaign_responses", campaigns);
    env_moneys(env, "sales.won_amount", &won_amt);
    env_moneys(env, "sales.open_amount", &open_amt);
    env_moneys(env, "sales.contract_amount", &con_amt);

    /* orders */
    int count = 0, open = 0, cancelled = 0, returned = 0, invoices = 0,
        outstanding_n = 0, payments = 0;
    int64_t first_order = INT64_MAX, last_order = INT64_MIN;
    moneys revenue = {0}, refunded = {0}, outstanding = {0}, paid = {0};
    for (size_t i = 0; i < n; i++) {
        const hub_ent_t *e = m[i];
        if (e->roles & ROLE_ORDER) {
            if (reg_int(e, R_CANCELLED)) {
                cancelled++;
                if (hub_ent_reg(e, R_REFUND)->set)
                    money_add(&refunded, hub_ent_reg(e, R_REFUND_CURRENCY),
                              hub_ent_reg(e, R_REFUND)->i);
            } else if (hub_ent_reg(e, R_PLACED_AT)->set) {
                count++;
                money_add(&revenue, hub_ent_reg(e, R_CURRENCY),
                          reg_int(e, R_AMOUNT));
                int64_t at = hub_ent_reg(e, R_PLACED_AT)->i;
                if (at < first_order)
                    first_order = at;
                if (at > last_order)
                    last_order = at;
                int delivered = 0;
                for (size_t j = 0; j < n && !delivered; j++)
                    delivered = (m[j]->roles & ROLE_SHIPMENT) &&
                                hub_ent_reg(m[j], R_DELIVERED_AT)->set &&
                                refers_to(m[j],
                                          hub_ent_reg(m[j], R_ORDER_ID), e);
                open += !delivered;
            }
            int ret = 0;
            for (size_t j = 0; j < n && !ret; j++)
                ret = (m[j]->roles & ROLE_RETURN) &&
                      refers_to(m[j], hub_ent_reg(m[j], R_ORDER_ID), e);
            returned += ret;
        }
        if ((e->roles & ROLE_RETURN) && hub_ent_reg(e, R_REFUND)->set)
            money_add(&refunded, hub_ent_reg(e, R_REFUND_CURRENCY),
                      hub_ent_reg(e, R_REFUND)->i);
        if (e->roles & ROLE_INVOICE) {
            invoices++;
            int64_t total = reg_int(e, R_AMOUNT);
            const char *cur = reg_str(e, R_CURRENCY);
            for (size_t j = 0; j < n; j++) {
                const hub_ent_t *p = m[j];
                if ((p->roles & ROLE_PAYMENT) &&
                    hub_ent_reg(p, R_AMOUNT)->set &&
                    refers_to(p, hub_ent_reg(p, R_INVOICE_ID), e) &&
                    strcmp(reg_str(p, R_CURRENCY), cur) == 0)
                    total -= hub_ent_reg(p, R_AMOUNT)->i;
            }
            if (total > 0) {
                outstanding_n++;
                money_add(&outstanding, hub_ent_reg(e, R_CURRENCY), total);
            }
        }
        if ((e->roles & ROLE_PAYMENT) && hub_ent_reg(e, R_AMOUNT)->set) {
            payments++;
            money_add(&paid, hub_ent_reg(e, R_CURRENCY),
                      reg_int(e, R_AMOUNT));
        }
    }
    put_long(b, count);
    put_moneys(b, &revenue);
    put_opt_long(b, count > 0, first_order);
    put_opt_long(b, count > 0, last_order);
    put_long(b, open);
    put_long(b, cancelled);
    put_long(b, returned);
    put_moneys(b, &refunded);
    put_long(b, invoices);
    put_long(b, outstanding_n);
    put_moneys(b, &outstanding);
    put_long(b, payments);
    put_moneys(b, &paid);
    env_num(env, "orders.count", count);
    env_num(env, "orders.open", open);
    env_num(env, "orders.cancelled", cancelled);
    env_num(env, "orders.returned", returned);
    env_num(env, "orders.invoices_outstanding", outstanding_n);
    env_num(env, "orders.payments", payments);
    env_moneys(env, "orders.revenue", &revenue);
    env_moneys(env, "orders.outstanding", &outstanding);
    env_moneys(env, "orders.paid", &paid);
    env_moneys(env, "orders.refunded", &refunded);
    env_num(env, "orders.invoices", invoices);
    if (count > 0) {
        env_num(env, "orders.first_order_at", (double)first_order);
        env_num(env, "orders.last_order_at", (double)last_order);
    }

    /* service */
    int tickets = 0, tickets_open = 0, feedback = 0, articles = 0;
    int64_t res_sum = 0, res_n = 0, csat_sum = 0, csat_n = 0, nps_sum = 0,
            nps_n = 0;
    const hub_ent_t *last_ticket = NULL;
    const hub_reg_t *csat_latest = NULL, *nps_latest = NULL;
    for (size_t i = 0; i < n; i++) {
        const hub_ent_t *e = m[i];
        if (e->roles & ROLE_TICKET) {
            tickets++;
            const hub_reg_t *res = hub_ent_reg(e, R_RESOLVED_AT);
            if (!res->set || res->i == 0)
                tickets_open++;
            else if (hub_ent_reg(e, R_OPENED_AT)->set &&
                     res->i >= hub_ent_reg(e, R_OPENED_AT)->i) {
                res_sum += res->i - hub_ent_reg(e, R_OPENED_AT)->i;
                res_n++;
            }
            if (hub_ent_reg(e, R_STATUS)->set &&
                (!last_ticket || hub_stamp_cmp(&e->last, &last_ticket->last) > 0))
                last_ticket = e;
        }
        if (e->roles & ROLE_FEEDBACK) {
            const hub_reg_t *c = hub_ent_reg(e, R_CSAT),
                            *p = hub_ent_reg(e, R_NPS);
            feedback += c->set || p->set;
            if (c->set) {
                csat_sum += c->i;
                csat_n++;
                if (!csat_latest || hub_stamp_cmp(&c->st, &csat_latest->st) > 0)
                    csat_latest = c;
            }
            if (p->set) {
                nps_sum += p->i;
                nps_n++;
                if (!nps_latest || hub_stamp_cmp(&p->st, &nps_latest->st) > 0)
                    nps_latest = p;
            }
        }
        articles += !!(e->roles & ROLE_ARTICLE);
    }
    put_long(b, tickets);
    put_long(b, tickets_open);
    put_long(b, last_ticket != NULL);
    if (last_ticket)
        put_str(b, hub_ent_reg(last_ticket, R_STATUS)->s,
                (size_t)hub_ent_reg(last_ticket, R_STATUS)->i);
    put_opt_long(b, res_n > 0, res_n ? res_sum / res_n : 0);
    put_long(b, feedback);
    put_opt_long(b, csat_latest != NULL, csat_latest ? csat_latest->i : 0);
    double csat_mean = csat_n ? (double)csat_sum / (double)csat_n : 0;
    put_opt_double(b, csat_n > 0, csat_mean);
    put_opt_long(b, nps_latest != NULL, nps_latest ? nps_latest->i : 0);
    double nps_mean = nps_n ? (double)nps_sum / (double)nps_n : 0;
    put_opt_double(b, nps_n > 0, nps_mean);
    put_long(b, articles);
    env_num(env, "service.tickets_total", tickets);
    env_num(env, "service.tickets_open", tickets_open);
    env_num(env, "service.feedback", feedback);
    if (last_ticket)
        env_str(env, "service.last_status",
                hub_ent_reg(last_ticket, R_STATUS)->s);
    if (csat_n)
        env_num(env, "service.csat_mean", csat_mean);
    if (nps_n)
        env_num(env, "service.nps_mean", nps_mean);
    if (csat_latest)
        env_num(env, "service.csat_latest", (double)csat_latest->i);
    if (nps_latest)
        env_num(env, "service.nps_latest", (double)nps_latest->i);
    if (res_n)
        env_num(env, "service.resolution_ms_mean", (double)(res_sum / res_n));
    env_num(env, "service.articles_viewed", articles);

    /* social */
    size_t na = 0;
    for (size_t i = 0; i < uniq; i++) {
        if (ids[i].kind == HUB_ID_SOCIAL_HANDLE) {
            const char *colon = strchr(ids[i].value, ':');
            if (!colon)
                continue;
            account *a = &acc[na++];
            memset(a, 0, sizeof *a);
            snprintf(a->platform, sizeof a->platform, "%.*s",
                     (int)(colon - ids[i].value), ids[i].value);
            a->handle = colon + 1;
        } else if (ids[i].kind == HUB_ID_WECHAT_OPENID) {
            account *a = &acc[na++];
            memset(a, 0, sizeof *a);
            snprintf(a->platform, sizeof a->platform, "wechat");
            a->handle = ids[i].value;
        }
    }
    int mentions = 0, comments = 0, shares = 0;
    int64_t msg_in = 0, msg_out = 0, sent_sum = 0, sent_n = 0;
    const hub_reg_t *sent_latest = NULL;
    int64_t last_social = INT64_MIN;
    size_t ncomm = 0;
    for (size_t i = 0; i < n; i++) {
        const hub_ent_t *e = m[i];
        if (e->roles & ROLE_FOLLOWER && hub_ent_reg(e, R_FOLLOWING)->set) {
            const char *sys, *type, *id;
            size_t syslen, typelen, idlen;
            hub_ent_parts(e, &sys, &syslen, &type, &typelen, &id, &idlen);
            char platform[64];
            if (hub_ent_reg(e, R_PLATFORM)->set)
                snprintf(platform, sizeof platform, "%s",
                         hub_ent_reg(e, R_PLATFORM)->s);
            else
                snprintf(platform, sizeof platform, "%.*s", (int)syslen, sys);
            account *a = NULL;
            for (size_t j = 0; j < na && !a; j++)
                if (strcmp(acc[j].platform, platform) == 0 &&
                    strlen(acc[j].handle) == idlen &&
                    memcmp(acc[j].handle, id, idlen) == 0)
                    a = &acc[j];
            if (!a) {
                a = &acc[na++];
                memset(a, 0, sizeof *a);
                snprintf(a->platform, sizeof a->platform, "%s", platform);
                a->handle = id; /* the key's tail is NUL-terminated */
            }
            const hub_reg_t *f = hub_ent_reg(e, R_FOLLOWING);
            if (!a->following_set || hub_stamp_cmp(&f->st, &a->since) > 0) {
                a->following_set = 1;
                a->following = f->i != 0;
                a->since = f->st;
            }
        }
        mentions += !!(e->roles & ROLE_MENTION);
        comments += !!(e->roles & ROLE_COMMENT);
        shares += !!(e->roles & ROLE_SHARE);
        if (e->roles & ROLE_CONVERSATION) {
            msg_in += e->acc[A_MSG_IN];
            msg_out += e->acc[A_MSG_OUT];
            sent_sum += e->acc[A_SENT_SUM];
            sent_n += e->acc[A_SENT_N];
        } else if ((e->roles & (ROLE_MENTION | ROLE_COMMENT)) &&
                   hub_ent_reg(e, R_SENTIMENT)->set) {
            sent_sum += hub_ent_reg(e, R_SENTIMENT)->i;
            sent_n++;
        }
        if ((e->roles & (ROLE_MENTION | ROLE_COMMENT | ROLE_CONVERSATION)) &&
            hub_ent_reg(e, R_SENTIMENT)->set &&
            (!sent_latest ||
             hub_stamp_cmp(&hub_ent_reg(e, R_SENTIMENT)->st,
                           &sent_latest->st) > 0))
            sent_latest = hub_ent_reg(e, R_SENTIMENT);
        if ((e->roles & SOCIAL) && e->last.at > last_social)
            last_social = e->last.at;
        if ((e->roles & ROLE_MEMBERSHIP) && hub_ent_reg(e, R_COMMUNITY)->set)
            strs[ncomm++] = hub_ent_reg(e, R_COMMUNITY)->s;
    }
    hub_sort(acc, na, sizeof *acc, cmp_account);
    size_t nacc = 0;
    for (size_t i = 0; i < na; i++) { /* merge duplicates */
        if (nacc && cmp_account(&acc[nacc - 1], &acc[i]) == 0) {
            account *a = &acc[nacc - 1];
            if (acc[i].following_set &&
                (!a->following_set ||
                 hub_stamp_cmp(&acc[i].since, &a->since) > 0)) {
                a->following_set = 1;
                a->following = acc[i].following;
                a->since = acc[i].since;
            }
            continue;
        }
        acc[nacc++] = acc[i];
    }
    if (nacc) {
        put_long(b, (int64_t)nacc);
        for (size_t i = 0; i < nacc; i++) {
            put_str(b, acc[i].platform, strlen(acc[i].platform));
            put_str(b, acc[i].handle, strlen(acc[i].handle));
            put_long(b, acc[i].following_set);
            if (acc[i].following_set)
                hub_buf_putc(b, (char)acc[i].following);
            put_opt_long(b, acc[i].following_set, acc[i].since.at);
        }
    }
    put_long(b, 0);
    put_long(b, mentions);
    put_long(b, comments);
    put_long(b, shares);
    put_long(b, msg_in);
    put_long(b, msg_out);
    hub_sort(strs, ncomm, sizeof *strs, cmp_str);
    size_t ucomm = 0;
    for (size_t i = 0; i < ncomm; i++)
        if (!ucomm || strcmp(strs[ucomm - 1], strs[i]) != 0)
            strs[ucomm++] = strs[i];
    if (ucomm) {
        put_long(b, (int64_t)ucomm);
        for (size_t i = 0; i < ucomm; i++)
            put_str(b, strs[i], strlen(strs[i]));
    }
    put_long(b, 0);
    double smean = sent_n ? (double)sent_sum / (double)sent_n / 1e6 : 0;
    put_opt_double(b, sent_n > 0, smean);
    put_opt_double(b, sent_latest != NULL,
                   sent_latest ? (double)sent_latest->i / 1e6 : 0);
    put_opt_long(b, last_social != INT64_MIN, last_social);
    env_num(env, "social.mentions", mentions);
    env_num(env, "social.comments", comments);
    env_num(env, "social.shares", shares);
    env_num(env, "social.messages_in", (double)msg_in);
    env_num(env, "social.messages_out", (double)msg_out);
    if (sent_n)
        env_num(env, "social.sentiment_mean", smean);
    if (sent_latest)
        env_num(env, "social.sentiment_latest", (double)sent_latest->i / 1e6);
    if (last_social != INT64_MIN)
        env_num(env, "social.last_interaction_at", (double)last_social);

    /* segments, sorted by name */
    hub_seg_env_t senv = {env->v, env->n};
    size_t nseg = 0;
    for (size_t i = 0; i < rules->nsegs; i++)
        nseg += hub_segment_eval(rules->segs[i].seg, &senv);
    if (nseg) {
        put_long(b, (int64_t)nseg);
        for (size_t i = 0; i < rules->nsegs; i++)
            if (hub_segment_eval(rules->segs[i].seg, &senv))
                put_str(b, rules->segs[i].name, strlen(rules->segs[i].name));
    }
    put_long(b, 0);
    put_long(b, updated_at);

    if (aliases != aliases_s)
        free(aliases);
    if (big) {
        free(ids);
        free(acc);
        free(strs);
        free(names);
    }
    return b->data ? 0 : HUB_ENOMEM;
}
