/*
 * hub360 - the fold table: which payload fields of which event write which
 * entity registers, and the hooks for ticket states, follow state,
 * message counts and the like.
 */
#include "fold.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"

typedef enum fop {
    F_STR,        /* string -> register (LWW) */
    F_LOWER,      /* string, lower-cased -> register */
    F_INT,        /* int or long -> register */
    F_ENUM,       /* enum symbol, lower-cased -> register */
    F_TIME,       /* timestamp-millis -> register */
    F_MIN_TIME,   /* timestamp-millis -> register, keeping the earliest */
    F_MICRO,      /* double in [-1, 1] -> register in micro-units */
    F_REF_ORDER,  /* an order id: R_ORDER_ID and an @order reference */
    F_REF_INVOICE,
    F_REF_TICKET,
    F_ID_CONTACT, /* a contact id: a crm_contact identity */
} fop;

typedef enum hook {
    H_NONE,
    H_ORDER_PLACED,
    H_ORDER_CANCELLED,
    H_DELIVERED,
    H_TICKET_OPENED,
    H_TICKET_UPDATED,
    H_TICKET_RESOLVED,
    H_FOLLOW,
    H_UNFOLLOW,
    H_MSG_IN,
    H_MSG_OUT,
    H_COMMUNITY,
} hook;

#define MAXMAP 12

typedef struct fmap {
    const char *field;
    uint8_t slot;
    uint8_t op;
} fmap;

struct hub_fold_rule {
    const char *type;
    uint32_t role;
    const char *self_ref; /* "@order": the entity is referable by its id */
    hook hook;
    fmap map[MAXMAP];
};

#define PERSON_FIELDS                                                          \
    {"name", R_NAME, F_STR}, {"first_name", R_FIRST_NAME, F_STR},              \
        {"last_name", R_LAST_NAME, F_STR}, {"company", R_COMPANY, F_STR},      \
        {"title", R_TITLE, F_STR}, {"locale", R_LOCALE, F_STR},                \
        {"region", R_REGION, F_STR}

static const struct hub_fold_rule rules[] = {
    {"crm.lead.created", ROLE_LEAD, NULL, H_NONE,
     {PERSON_FIELDS, {"lead_source", R_LEAD_SOURCE, F_LOWER},
      {"owner", R_OWNER, F_STR}, {"status", R_STATUS, F_LOWER}}},
    {"crm.lead.updated", ROLE_LEAD, NULL, H_NONE,
     {PERSON_FIELDS, {"lead_source", R_LEAD_SOURCE, F_LOWER},
      {"owner", R_OWNER, F_STR}, {"status", R_STATUS, F_LOWER}}},
    {"crm.lead.converted", ROLE_LEAD, NULL, H_NONE,
     {{"contact_id", 0, F_ID_CONTACT}}},
    {"crm.contact.upserted", ROLE_CONTACT, NULL, H_NONE,
     {PERSON_FIELDS, {"lifecycle_stage", R_LIFECYCLE, F_LOWER},
      {"lead_source", R_LEAD_SOURCE, F_LOWER}, {"owner", R_OWNER, F_STR}}},
    {"crm.account.upserted", ROLE_ACCOUNT, NULL, H_NONE,
     {{"name", R_COMPANY, F_STR}, {"owner", R_OWNER, F_STR},
      {"region", R_REGION, F_STR}}},
    {"crm.opportunity.upserted", ROLE_OPPORTUNITY, NULL, H_NONE,
     {{"stage", R_STAGE, F_LOWER}, {"status", R_STATUS, F_ENUM},
      {"amount", R_AMOUNT, F_INT}, {"currency", R_CURRENCY, F_STR}}},
    {"crm.contract.signed", ROLE_CONTRACT, NULL, H_NONE,
     {{"amount", R_AMOUNT, F_INT}, {"currency", R_CURRENCY, F_STR},
      {"start_date", R_START, F_TIME}, {"end_date", R_END, F_TIME}}},
    {"crm.ticket.opened", ROLE_TICKET, "@ticket", H_TICKET_OPENED,
     {{"status", R_STATUS, F_LOWER}}},
    {"crm.ticket.updated", ROLE_TICKET, "@ticket", H_TICKET_UPDATED,
     {{"status", R_STATUS, F_LOWER}}},
    {"crm.ticket.resolved", ROLE_TICKET, "@ticket", H_TICKET_RESOLVED,
     {{"status", R_STATUS, F_LOWER}, {"opened_at", R_OPENED_AT, F_MIN_TIME}}},
    {"crm.feedback.received", ROLE_FEEDBACK, NULL, H_NONE,
     {{"nps", R_NPS, F_INT}, {"csat", R_CSAT, F_INT},
      {"ticket_id", 0, F_REF_TICKET}}},
    {"crm.campaign.responded", ROLE_CAMPAIGN, NULL, H_NONE, {{0}}},
    {"crm.article.viewed", ROLE_ARTICLE, NULL, H_NONE,
     {{"ticket_id", 0, F_REF_TICKET}}},
    {"erp.customer.upserted", ROLE_CUSTOMER, NULL, H_NONE,
     {{"name", R_NAME, F_STR}, {"first_name", R_FIRST_NAME, F_STR},
      {"last_name", R_LAST_NAME, F_STR}, {"company", R_COMPANY, F_STR},
      {"locale", R_LOCALE, F_STR}, {"region", R_REGION, F_STR}}},
    {"erp.order.placed", ROLE_ORDER, "@order", H_ORDER_PLACED,
     {{"total", R_AMOUNT, F_INT}, {"currency", R_CURRENCY, F_STR}}},
    {"erp.order.cancelled", ROLE_ORDER, "@order", H_ORDER_CANCELLED,
     {{"refund_amount", R_REFUND, F_INT},
      {"currency", R_REFUND_CURRENCY, F_STR}}},
    {"erp.order.shipped", ROLE_SHIPMENT, NULL, H_NONE,
     {{"order_id", 0, F_REF_ORDER}}},
    {"erp.order.delivered", ROLE_SHIPMENT, NULL, H_DELIVERED,
     {{"order_id", 0, F_REF_ORDER}}},
    {"erp.order.returned", ROLE_RETURN, NULL, H_NONE,
     {{"order_id", 0, F_REF_ORDER}, {"refund_amount", R_REFUND, F_INT},
      {"currency", R_REFUND_CURRENCY, F_STR}}},
    {"erp.invoice.issued", ROLE_INVOICE, "@invoice", H_NONE,
     {{"total", R_AMOUNT, F_INT}, {"currency", R_CURRENCY, F_STR},
      {"order_id", 0, F_REF_ORDER}}},
    {"erp.payment.received", ROLE_PAYMENT, NULL, H_NONE,
     {{"amount", R_AMOUNT, F_INT}, {"currency", R_CURRENCY, F_STR},
      {"invoice_id", 0, F_REF_INVOICE}, {"order_id", 0, F_REF_ORDER}}},
    {"scrm.mention.posted", ROLE_MENTION, NULL, H_NONE,
     {{"platform", R_PLATFORM, F_LOWER}, {"sentiment", R_SENTIMENT, F_MICRO}}},
    {"scrm.message.received", ROLE_CONVERSATION, NULL, H_MSG_IN,
     {{"platform", R_PLATFORM, F_LOWER}}},
    {"scrm.message.sent", ROLE_CONVERSATION, NULL, H_MSG_OUT,
     {{"platform", R_PLATFORM, F_LOWER}}},
    {"scrm.comment.posted", ROLE_COMMENT, NULL, H_NONE,
     {{"platform", R_PLATFORM, F_LOWER}, {"sentiment", R_SENTIMENT, F_MICRO}}},
    {"scrm.follow.started", ROLE_FOLLOWER, NULL, H_FOLLOW,
     {{"platform", R_PLATFORM, F_LOWER}, {"account", R_ACCOUNT, F_STR}}},
    {"scrm.follow.stopped", ROLE_FOLLOWER, NULL, H_UNFOLLOW,
     {{"platform", R_PLATFORM, F_LOWER}, {"account", R_ACCOUNT, F_STR}}},
    {"scrm.share.posted", ROLE_SHARE, NULL, H_NONE,
     {{"platform", R_PLATFORM, F_LOWER}}},
    {"scrm.community.joined", ROLE_MEMBERSHIP, NULL, H_COMMUNITY,
     {{"platform", R_PLATFORM, F_LOWER}}},
    {"scrm.profile.linked", ROLE_SOCIAL_PROFILE, NULL, H_NONE,
     {{"platform", R_PLATFORM, F_LOWER}, {"nickname", R_NICKNAME, F_STR},
      {"locale", R_LOCALE, F_STR}, {"region", R_REGION, F_STR}}},
};
#define NRULES (sizeof rules / sizeof rules[0])

/* Summary fields, in order of preference. */
static const char *const summary_fields[] = {
    "subject", "text", "name", "order_number", "invoice_number",
    "campaign_name", "title", "comment", "reason", "nickname", "stage",
    "status", NULL,
};
#define NSUMMARY 12

typedef struct bound {
    const hub_fold_rule_t *rule;
    int idx[MAXMAP];       /* payload field index of map[i], -1 if none */
    int summary[NSUMMARY]; /* field indexes for the summary text */
    int amount, currency;  /* for the summary: total/amount/refund */
    int platform, community; /* H_COMMUNITY */
    int sentiment;         /* H_MSG_IN */
} bound;

struct hub_folder {
    bound *by_branch;      /* indexed by payload branch; rule NULL if none */
    size_t nbranches;
};

void hub_folder_free(hub_folder_t *f) {
    if (f) {
        free(f->by_branch);
        free(f);
    }
}

int hub_folder_new(const hub_schema_t *envelope, hub_folder_t **out,
                   char *err, size_t errlen) {
    *out = NULL;
    const hub_snode_t *root = hub_schema_root(envelope);
    int pi = hub_snode_field(root, "payload");
    if (pi < 0)
        return hub_fail(err, errlen, HUB_ESCHEMA, "envelope has no payload");
    const hub_snode_t *u = root->fields[pi].type;
    hub_folder_t *f = calloc(1, sizeof *f);
    if (!f || !(f->by_branch = calloc(u->nbranches, sizeof *f->by_branch))) {
        hub_folder_free(f);
        return HUB_ENOMEM;
    }
    f->nbranches = u->nbranches;
    for (size_t b = 0; b < u->nbranches; b++) {
        const hub_snode_t *rec = u->branches[b];
        const hub_fold_rule_t *rule = NULL;
        for (size_t r = 0; r < NRULES && !rule; r++) {
            if (rec->event_type && strcmp(rules[r].type, rec->event_type) == 0)
                rule = &rules[r];
        }
        bound *bd = &f->by_branch[b];
        bd->rule = rule;
        if (!rule)
            continue;
        for (int i = 0; i < MAXMAP; i++) {
            bd->idx[i] = rule->map[i].field
                             ? hub_snode_field(rec, rule->map[i].field)
                             : -1;
            if (rule->map[i].field && bd->idx[i] < 0) {
                hub_folder_free(f);
                return hub_fail(err, errlen, HUB_ESCHEMA,
                                "fold table: %s has no field %s", rule->type,
                                rule->map[i].field);
            }
        }
        for (int i = 0; i < NSUMMARY; i++)
            bd->summary[i] = summary_fields[i]
                                 ? hub_snode_field(rec, summary_fields[i])
                                 : -1;
        bd->amount = hub_snode_field(rec, "total");
        if (bd->amount < 0)
            bd->amount = hub_snode_field(rec, "amount");
        if (bd->amount < 0)
            bd->amount = hub_snode_field(rec, "refund_amount");
        bd->currency = hub_snode_field(rec, "currency");
        bd->platform = hub_snode_field(rec, "platform");
        bd->community = hub_snode_field(rec, "community_id");
        bd->sentiment = hub_snode_field(rec, "sentiment");
    }
    *out = f;
    return 0;
}

const hub_fold_rule_t *hub_fold_rule(const hub_folder_t *f, int branch) {
    if (branch < 0 || (size_t)branch >= f->nbranches)
        return NULL;
    return f->by_branch[branch].rule;
}

uint32_t hub_fold_role(const hub_fold_rule_t *rule) { return rule->role; }

static const bound *bound_of(const hub_folder_t *f,
                             const hub_fold_rule_t *rule) {
    for (size_t b = 0; b < f->nbranches; b++) {
        if (f->by_branch[b].rule == rule)
            return &f->by_branch[b];
    }
    return NULL;
}

/* Adds an internal reference "<tag>:<system>/<id>"; returns new_links. */
static int add_ref(hub_ent_t *e, const char *tag, const char *system,
                   const char *id, size_t idlen, const hub_stamp_t *st) {
    char key[512];
    int n = snprintf(key, sizeof key, "%s:%s/%.*s", tag, system, (int)idlen,
                     id);
    if (n <= 0 || (size_t)n >= sizeof key)
        return 0;
    int rc = hub_ent_add_id(e, key, (size_t)n, -1,
                            HUB_EID_INTERNAL | HUB_EID_LINKS, st);
    return rc > 0;
}

static int set_lower(hub_ent_t *e, int slot, const hub_stamp_t *st,
                     const char *s, size_t len) {
    char tmp[256];
    if (len >= sizeof tmp)
        len = sizeof tmp - 1;
    for (size_t i = 0; i < len; i++)
        tmp[i] = (char)tolower((unsigned char)s[i]);
    return hub_ent_set_str(e, slot, st, tmp, len);
}

/* Appends up to max bytes of s to b, cutting only between UTF-8
 * characters, as a JSON string. */
static void put_short(hub_buf_t *b, const char *s, size_t len, size_t max) {
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    }
    hub_json_put_str(b, s, len);
}

static void summarize(const bound *bd, const hub_arec_t *p, hub_buf_t *out) {
    int first = 1;
    hub_buf_putc(out, '{');
    for (int i = 0; i < NSUMMARY; i++) {
        const char *s;
        size_t len;
        if (bd->summary[i] < 0 || hub_arec_str(p, bd->summary[i], &s, &len) != 1 ||
            len == 0)
            continue;
        hub_json_put_key(out, "summary", &first);
        put_short(out, s, len, 140);
        break;
    }
    int64_t amount;
    const char *cur;
    size_t clen;
    if (bd->amount >= 0 && hub_arec_long(p, bd->amount, &amount) == 1 &&
        bd->currency >= 0 && hub_arec_str(p, bd->currency, &cur, &clen) == 1) {
        hub_json_put_key(out, "amount", &first);
        hub_json_put_int(out, amount);
        hub_json_put_key(out, "currency", &first);
        hub_json_put_str(out, cur, clen);
    }
    hub_buf_putc(out, '}');
}

int hub_fold_apply(const hub_folder_t *f, const hub_fold_rule_t *rule,
                   hub_ent_t *e, const hub_arec_t *p, const hub_stamp_t *st,
                   const char *system, hub_fold_out_t *out,
                   hub_buf_t *summary) {
    const bound *bd = bound_of(f, rule);
    int changed = 0, links = 0;
    if (!(e->roles & rule->role)) {
        e->roles |= rule->role;
        changed = 1;
    }
    if (rule->self_ref) {
        const char *sys, *type, *id;
        size_t syslen, typelen, idlen;
        hub_ent_parts(e, &sys, &syslen, &type, &typelen, &id, &idlen);
        links |= add_ref(e, rule->self_ref, system, id, idlen, st);
    }
    for (int i = 0; i < MAXMAP && rule->map[i].field; i++) {
        const fmap *m = &rule->map[i];
        int fi = bd->idx[i];
        const char *s;
        size_t len;
        int64_t v;
        double d;
        int en;
        switch (m->op) {
        case F_STR:
            if (hub_arec_str(p, fi, &s, &len) == 1)
                changed |= hub_ent_set_str(e, m->slot, st, s, len) > 0;
            break;
        case F_LOWER:
            if (hub_arec_str(p, fi, &s, &len) == 1)
                changed |= set_lower(e, m->slot, st, s, len) > 0;
            break;
        case F_INT:
        case F_TIME:
            if (hub_arec_long(p, fi, &v) == 1)
                changed |= hub_ent_set_int(e, m->slot, st, v);
            break;
        case F_MIN_TIME:
            if (hub_arec_long(p, fi, &v) == 1)
                changed |= hub_ent_min_int(e, m->slot, st, v);
            break;
        case F_ENUM:
            if (hub_arec_enum(p, fi, &en) == 1) {
                const hub_snode_t *t = p->node->fields[fi].type;
                if (t->type == HUB_S_UNION)
                    t = t->branches[1];
                if (en >= 0 && (size_t)en < t->nsymbols)
                    changed |= set_lower(e, m->slot, st, t->symbols[en],
                                         strlen(t->symbols[en])) > 0;
            }
            break;
        case F_MICRO:
            if (hub_arec_double(p, fi, &d) == 1 && isfinite(d))
                changed |= hub_ent_set_int(e, m->slot, st,
                                           (int64_t)llround(d * 1e6));
            break;
        case F_REF_ORDER:
        case F_REF_INVOICE:
        case F_REF_TICKET:
            if (hub_arec_str(p, fi, &s, &len) == 1 && len) {
                const char *tag = m->op == F_REF_ORDER     ? "@order"
                                  : m->op == F_REF_INVOICE ? "@invoice"
                                                           : "@ticket";
                links |= add_ref(e, tag, system, s, len, st);
                if (m->op == F_REF_ORDER)
                    changed |= hub_ent_set_str(e, R_ORDER_ID, st, s, len) > 0;
                else if (m->op == F_REF_INVOICE)
                    changed |= hub_ent_set_str(e, R_INVOICE_ID, st, s, len) > 0;
            }
            break;
        case F_ID_CONTACT:
            if (hub_arec_str(p, fi, &s, &len) == 1 && len) {
                char key[512];
                int n = snprintf(key, sizeof key, "crm_contact:%s%s%.*s",
                                 memchr(s, ':', len) ? "" : system,
                                 memchr(s, ':', len) ? "" : ":", (int)len, s);
                if (n > 0 && (size_t)n < sizeof key &&
                    hub_ent_add_id(e, key, (size_t)n, HUB_ID_CRM_CONTACT,
                                   HUB_EID_LINKS, st) > 0)
                    links = 1;
            }
            break;
        }
    }
    switch (rule->hook) {
    case H_NONE: break;
    case H_ORDER_PLACED:
        changed |= hub_ent_set_int(e, R_PLACED_AT, st, st->at);
        break;
    case H_ORDER_CANCELLED:
        changed |= hub_ent_set_int(e, R_CANCELLED, st, 1);
        break;
    case H_DELIVERED:
        changed |= hub_ent_set_int(e, R_DELIVERED_AT, st, st->at);
        break;
    case H_TICKET_OPENED:
        changed |= hub_ent_min_int(e, R_OPENED_AT, st, st->at);
        changed |= hub_ent_set_int(e, R_RESOLVED_AT, st, 0);
        break;
    case H_TICKET_UPDATED: {
        changed |= hub_ent_min_int(e, R_OPENED_AT, st, st->at);
        const hub_reg_t *sr = hub_ent_reg(e, R_STATUS);
        const char *status =
            sr->set && hub_stamp_cmp(&sr->st, st) == 0 ? sr->s : NULL;
        if (status) {
            int done = strcmp(status, "solved") == 0 ||
                       strcmp(status, "closed") == 0 ||
                       strcmp(status, "resolved") == 0;
            changed |= hub_ent_set_int(e, R_RESOLVED_AT, st, done ? st->at : 0);
        }
        break;
    }
    case H_TICKET_RESOLVED:
        changed |= hub_ent_min_int(e, R_OPENED_AT, st, st->at);
        changed |= hub_ent_set_int(e, R_RESOLVED_AT, st, st->at);
        break;
    case H_FOLLOW:
    case H_UNFOLLOW:
        changed |= hub_ent_set_int(e, R_FOLLOWING, st, rule->hook == H_FOLLOW);
        break;
    case H_MSG_IN: {
        e->acc[A_MSG_IN]++;
        changed = 1;
        double d;
        if (bd->sentiment >= 0 && hub_arec_double(p, bd->sentiment, &d) == 1 &&
            isfinite(d)) {
            int64_t micro = (int64_t)llround(d * 1e6);
            e->acc[A_SENT_SUM] += micro;
            e->acc[A_SENT_N]++;
            hub_ent_set_int(e, R_SENTIMENT, st, micro);
        }
        break;
    }
    case H_MSG_OUT:
        e->acc[A_MSG_OUT]++;
        changed = 1;
        break;
    case H_COMMUNITY: {
        const char *plat, *cid;
        size_t plen, clen;
        if (hub_arec_str(p, bd->platform, &plat, &plen) == 1 &&
            hub_arec_str(p, bd->community, &cid, &clen) == 1) {
            /* the platform lower-cased, the community id as given */
            char tmp[512];
            int n = snprintf(tmp, sizeof tmp, "%.*s:%.*s", (int)plen, plat,
                             (int)clen, cid);
            for (size_t i = 0; n > 0 && i < plen && i < sizeof tmp; i++)
                tmp[i] = (char)tolower((unsigned char)tmp[i]);
            if (n > 0 && (size_t)n < sizeof tmp)
                changed |= hub_ent_set_str(e, R_COMMUNITY, st, tmp,
                                           (size_t)n) > 0;
        }
        break;
    }
    }
    if (summary)
        summarize(bd, p, summary);
    out->changed = changed || links;
    out->new_links = links;
    return 0;
}
