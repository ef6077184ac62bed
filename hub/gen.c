/*
 * hub360 - the synthetic event generator.
 *
 * Each person p has a fixed set of identities, each present with some
 * probability: an e-mail, a phone, a HubSpot contact, a Salesforce
 * contact, a shop customer, an ERPNext customer, a WeChat openid and a
 * Weibo uid. An event picks a person (skewed: some people are much more
 * active), then a kind of event from a fixed mix, and names the
 * identities that system would know. A few people share a phone or
 * write from a shared mailbox (info@...), so the identity rules have
 * something to do.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "timefmt.h"
#include "uuid.h"

struct hub_gen {
    hub_gen_opts_t o;
    uint64_t i;          /* events emitted */
    uint64_t state;      /* PRNG */
    hub_buf_t *recent;   /* a ring of recent events, for duplicates */
    size_t nrecent;      /* events stored in the ring so far */
};

#define RING 64

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A fixed random number for (person, salt): the person's traits. */
static uint64_t trait(const hub_gen_t *g, uint64_t p, uint64_t salt) {
    uint64_t s = g->o.seed * 0x100000001b3ULL ^ p * 0x9e3779b97f4a7c15ULL ^
                 salt * 0xc2b2ae3d27d4eb4fULL;
    return splitmix(&s);
}

static int has(const hub_gen_t *g, uint64_t p, uint64_t salt, int pct) {
    return (int)(trait(g, p, salt) % 100) < pct;
}

hub_gen_t *hub_gen_new(const hub_gen_opts_t *opts) {
    hub_gen_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->o = *opts;
    if (!g->o.people)
        g->o.people = g->o.events / 5 ? g->o.events / 5 : 1;
    if (!g->o.start_ms)
        g->o.start_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    if (!g->o.span_ms)
        g->o.span_ms = 90LL * 86400000;
    g->state = g->o.seed ^ 0x5eed;
    if (!(g->recent = calloc(RING, sizeof *g->recent))) {
        free(g);
        return NULL;
    }
    return g;
}

void hub_gen_free(hub_gen_t *g) {
    if (!g)
        return;
    for (size_t i = 0; i < RING; i++)
        hub_buf_free(&g->recent[i]);
    free(g->recent);
    free(g);
}

/* ------------------------------------------------------------------ */
/* Writing one event                                                   */
/* ------------------------------------------------------------------ */

typedef struct ev {
    hub_buf_t *b;
    int first, ids_first;
} ev;

static void begin(hub_gen_t *g, ev *e, hub_buf_t *b, const char *type,
                  const char *system, const char *kind, const char *etype,
                  const char *eid) {
    e->b = b;
    e->first = 1;
    char name[64];
    snprintf(name, sizeof name, "%llu/%llu", (unsigned long long)g->o.seed,
             (unsigned long long)g->i);
    hub_uuid_t u;
    hub_uuid_v5(&hub_uuid_ns_hub360, name, strlen(name), &u);
    char uid[HUB_UUID_STRLEN + 1];
    hub_uuid_format(&u, uid);
    int64_t at = g->o.start_ms +
                 (int64_t)(splitmix(&g->state) % (uint64_t)g->o.span_ms);
    char occ[HUB_TIME_MAXLEN], ing[HUB_TIME_MAXLEN];
    hub_time_format(at, occ);
    hub_time_format(at + 1000 + (int64_t)(splitmix(&g->state) % 60000), ing);
    hub_buf_putc(b, '{');
    hub_json_put_key(b, "event_id", &e->first);
    hub_json_put_cstr(b, uid);
    hub_json_put_key(b, "type", &e->first);
    hub_json_put_cstr(b, type);
    hub_json_put_key(b, "occurred_at", &e->first);
    hub_json_put_cstr(b, occ);
    hub_json_put_key(b, "ingested_at", &e->first);
    hub_json_put_cstr(b, ing);
    hub_json_put_key(b, "source", &e->first);
    int f = 1;
    hub_buf_putc(b, '{');
    hub_json_put_key(b, "system", &f);
    hub_json_put_cstr(b, system);
    hub_json_put_key(b, "kind", &f);
    hub_json_put_cstr(b, kind);
    hub_json_put_key(b, "entity_type", &f);
    hub_json_put_cstr(b, etype);
    hub_json_put_key(b, "entity_id", &f);
    hub_json_put_cstr(b, eid);
    hub_buf_putc(b, '}');
    hub_json_put_key(b, "identities", &e->first);
    hub_buf_putc(b, '[');
    e->ids_first = 1;
}

static void ident(ev *e, const char *kind, const char *value) {
    if (!e->ids_first)
        hub_buf_putc(e->b, ',');
    e->ids_first = 0;
    int f = 1;
    hub_buf_putc(e->b, '{');
    hub_json_put_key(e->b, "kind", &f);
    hub_json_put_cstr(e->b, kind);
    hub_json_put_key(e->b, "value", &f);
    hub_json_put_cstr(e->b, value);
    hub_buf_putc(e->b, '}');
}

static void payload(ev *e) {
    hub_buf_putc(e->b, ']');
    hub_json_put_key(e->b, "payload", &e->first);
    hub_buf_putc(e->b, '{');
    e->ids_first = 1; /* reused: first field of the payload */
}

static void pstr(ev *e, const char *k, const char *v) {
    hub_json_put_key(e->b, k, &e->ids_first);
    hub_json_put_cstr(e->b, v);
}

static void pint(ev *e, const char *k, int64_t v) {
    hub_json_put_key(e->b, k, &e->ids_first);
    hub_json_put_int(e->b, v);
}

static void pdbl(ev *e, const char *k, double v) {
    hub_json_put_key(e->b, k, &e->ids_first);
    hub_json_put_double(e->b, v);
}

static void end(ev *e) { hub_buf_puts(e->b, "}}"); }

/* ------------------------------------------------------------------ */
/* The population                                                      */
/* ------------------------------------------------------------------ */

static const char *const first_names[] = {"Ann", "Bo", "Chen", "Dana",
                                          "Eli", "Fang", "Gus", "Hui",
                                          "Ivy", "Jun", "Kai", "Lin"};
static const char *const last_names[] = {"Li", "Wang", "Zhang", "Liu",
                                         "Chen", "Smith", "Garcia", "Kim",
                                         "Müller", "Rossi", "Sato", "Yang"};
static const char *const stages[] = {"subscriber", "lead", "opportunity",
                                     "customer", "evangelist"};

/* Person p's identities, written into the buffers given. */
static void email_of(hub_gen_t *g, uint64_t p, char *out, size_t n) {
    if (has(g, p, 91, 1)) /* a shared mailbox: blocklisted by default */
        snprintf(out, n, "info@shop%llu.example.com",
                 (unsigned long long)(p % 7));
    else
        snprintf(out, n, "%s.%llu@example.com",
                 first_names[trait(g, p, 1) % 12],
                 (unsigned long long)p);
}

static void phone_of(hub_gen_t *g, uint64_t p, char *out, size_t n) {
    /* 2% share a phone with the person before them (families) */
    uint64_t q = has(g, p, 92, 2) && p > 0 ? p - 1 : p;
    snprintf(out, n, "+86139%08llu", (unsigned long long)(q % 100000000));
}

static void openid_of(hub_gen_t *g, uint64_t p, char *out, size_t n) {
    snprintf(out, n, "o6_%016llx", (unsigned long long)trait(g, p, 3));
}

/* Picks a person: a quarter of the events go to a tenth of the people. */
static uint64_t pick(hub_gen_t *g) {
    uint64_t r = splitmix(&g->state);
    uint64_t hot = g->o.people / 10 ? g->o.people / 10 : 1;
    return (r & 3) == 0 ? (r >> 2) % hot : (r >> 2) % g->o.people;
}

int hub_gen_next(hub_gen_t *g, hub_buf_t *b) {
    if (g->i >= g->o.events)
        return 0;
    /* a duplicate: an earlier event again, byte for byte */
    if (g->o.duplicate_pct && g->nrecent &&
        (int)(splitmix(&g->state) % 100) < g->o.duplicate_pct) {
        hub_buf_t *old = &g->recent[splitmix(&g->state) %
                                    (g->nrecent < RING ? g->nrecent : RING)];
        hub_buf_append(b, old->data, old->len);
        g->i++;
        return 1;
    }
    size_t start = b->len;
    uint64_t p = pick(g);
    uint64_t k = splitmix(&g->state) % 4; /* which order, ticket, ... */
    char email[96], phone[32], openid[40], id[96], name[96];
    email_of(g, p, email, sizeof email);
    phone_of(g, p, phone, sizeof phone);
    openid_of(g, p, openid, sizeof openid);
    snprintf(name, sizeof name, "%s %s", first_names[trait(g, p, 1) % 12],
             last_names[trait(g, p, 2) % 12]);
    int in_erp = has(g, p, 11, 60), in_scrm = has(g, p, 12, 50),
        has_phone = has(g, p, 13, 60);
    unsigned roll = (unsigned)(splitmix(&g->state) % 100);
    ev e;
    if ((int)roll < g->o.control_pct) {
        /* operators at work: link, unlink or forget */
        unsigned op = (unsigned)(splitmix(&g->state) % 3);
        snprintf(id, sizeof id, "ctl-%llu", (unsigned long long)g->i);
        if (op == 2) {
            begin(g, &e, b, "customer.forget", "hub360", "hub", "identity",
                  id);
            payload(&e);
            hub_json_put_key(b, "identity", &e.ids_first);
            hub_buf_printf(b, "{\"kind\":\"email\",\"value\":");
            hub_json_put_cstr(b, email);
            hub_buf_putc(b, '}');
            pstr(&e, "requested_by", "dpo@example.com");
        } else {
            char other[96];
            email_of(g, (p + 1) % g->o.people, other, sizeof other);
            begin(g, &e, b, op ? "identity.unlink" : "identity.link",
                  "hub360", "hub", "identity", id);
            payload(&e);
            hub_json_put_key(b, "identities", &e.ids_first);
            hub_buf_printf(b, "[{\"kind\":\"email\",\"value\":");
            hub_json_put_cstr(b, email);
            hub_buf_printf(b, "},{\"kind\":\"email\",\"value\":");
            hub_json_put_cstr(b, other);
            hub_buf_puts(b, "}]");
            pstr(&e, "requested_by", "ops@example.com");
        }
        end(&e);
    } else if (roll < 38 || (!in_erp && !in_scrm)) {
        /* CRM */
        unsigned c = (unsigned)(splitmix(&g->state) % 8);
        char cid[48];
        snprintf(cid, sizeof cid, "hubspot:%llu", (unsigned long long)(9000 + p));
        if (c <= 1) {
            snprintf(id, sizeof id, "%llu", (unsigned long long)(9000 + p));
            begin(g, &e, b, "crm.contact.upserted", "hubspot", "crm",
                  "contact", id);
            ident(&e, "email", email);
            if (has_phone)
                ident(&e, "phone", phone);
            ident(&e, "crm_contact", cid);
            payload(&e);
            pstr(&e, "name", name);
            pstr(&e, "lifecycle_stage",
                 stages[splitmix(&g->state) % 5]);
            pstr(&e, "owner", (splitmix(&g->state) & 1) ? "rep-1" : "rep-2");
            pstr(&e, "region", "CN-SH");
        } else if (c == 2) {
            snprintf(id, sizeof id, "00Q%llu", (unsigned long long)p);
            begin(g, &e, b, "crm.lead.created", "salesforce", "crm", "lead",
                  id);
            ident(&e, "email", email);
            if (has_phone)
                ident(&e, "phone", phone);
            payload(&e);
            pstr(&e, "name", name);
            pstr(&e, "company", "Example Tea Co.");
            pstr(&e, "lead_source", "web");
        } else if (c == 3) {
            snprintf(id, sizeof id, "006%llu-%llu", (unsigned long long)p,
                     (unsigned long long)k);
            begin(g, &e, b, "crm.opportunity.upserted", "salesforce", "crm",
                  "opportunity", id);
            ident(&e, "email", email);
            payload(&e);
            static const char *const st[] = {"open", "won", "lost", "open"};
            pstr(&e, "stage", "negotiation");
            pstr(&e, "status", st[splitmix(&g->state) % 4]);
            pint(&e, "amount", (int64_t)(splitmix(&g->state) % 5000000));
            pstr(&e, "currency", "CNY");
        } else if (c <= 5) {
            snprintf(id, sizeof id, "%llu%llu", (unsigned long long)p,
                     (unsigned long long)k);
            int resolve = c == 5;
            begin(g, &e, b, resolve ? "crm.ticket.resolved" : "crm.ticket.opened",
                  "zendesk", "crm", "ticket", id);
            ident(&e, "email", email);
            payload(&e);
            if (resolve) {
                pstr(&e, "status", "solved");
            } else {
                pstr(&e, "subject", "Where is my order?");
                pstr(&e, "status", "open");
            }
        } else if (c == 6) {
            snprintf(id, sizeof id, "fb-%llu", (unsigned long long)g->i);
            begin(g, &e, b, "crm.feedback.received", "hubspot", "crm",
                  "feedback_submission", id);
            ident(&e, "email", email);
            ident(&e, "crm_contact", cid);
            payload(&e);
            pint(&e, "nps", (int64_t)(splitmix(&g->state) % 11));
            pint(&e, "csat", 1 + (int64_t)(splitmix(&g->state) % 5));
        } else {
            snprintf(id, sizeof id, "ev-%llu", (unsigned long long)g->i);
            begin(g, &e, b, "crm.campaign.responded", "hubspot", "crm",
                  "email_event", id);
            ident(&e, "email", email);
            payload(&e);
            pstr(&e, "campaign_id", "spring-2026");
            pstr(&e, "response", "clicked");
        }
        end(&e);
    } else if (roll < 78 || !in_scrm) {
        /* ERP */
        unsigned c = (unsigned)(splitmix(&g->state) % 10);
        char cust[48], order[48];
        snprintf(cust, sizeof cust, "shop:%llu", (unsigned long long)(70000 + p));
        snprintf(order, sizeof order, "%llu%llu", (unsigned long long)(100 + p),
                 (unsigned long long)k);
        if (c == 0) {
            snprintf(id, sizeof id, "%llu", (unsigned long long)(70000 + p));
            begin(g, &e, b, "erp.customer.upserted", "shop", "erp", "customer",
                  id);
            ident(&e, "email", email);
            if (has_phone)
                ident(&e, "phone", phone);
            ident(&e, "erp_customer", cust);
            payload(&e);
            pstr(&e, "first_name", first_names[trait(g, p, 1) % 12]);
            pstr(&e, "last_name", last_names[trait(g, p, 2) % 12]);
        } else if (c <= 3) {
            begin(g, &e, b, "erp.order.placed", "shop", "erp", "order", order);
            ident(&e, "email", email);
            ident(&e, "erp_customer", cust);
            payload(&e);
            hub_json_put_key(b, "lines", &e.ids_first);
            int64_t qty = 1 + (int64_t)(splitmix(&g->state) % 3);
            int64_t price = 1000 * (1 + (int64_t)(splitmix(&g->state) % 50));
            hub_buf_printf(b, "[{\"sku\":\"TEA-%llu\",\"quantity\":%lld,"
                              "\"unit_price\":%lld}]",
                           (unsigned long long)(splitmix(&g->state) % 20),
                           (long long)qty, (long long)price);
            pint(&e, "total", qty * price);
            pstr(&e, "currency",
                 (splitmix(&g->state) % 10) ? "CNY" : "USD");
        } else if (c <= 5) {
            snprintf(id, sizeof id, "f%s", order);
            int delivered = c == 5;
            begin(g, &e, b,
                  delivered ? "erp.order.delivered" : "erp.order.shipped",
                  "shop", "erp", "fulfillment", id);
            ident(&e, "erp_customer", cust);
            payload(&e);
            pstr(&e, "order_id", order);
            if (!delivered) {
                hub_json_put_key(b, "lines", &e.ids_first);
                hub_buf_puts(b, "[]");
            }
        } else if (c == 6) {
            begin(g, &e, b, "erp.order.cancelled", "shop", "erp", "order",
                  order);
            ident(&e, "erp_customer", cust);
            payload(&e);
            pstr(&e, "reason", "customer");
        } else if (c == 7) {
            snprintf(id, sizeof id, "r%s", order);
            begin(g, &e, b, "erp.order.returned", "shop", "erp", "refund", id);
            ident(&e, "erp_customer", cust);
            payload(&e);
            pstr(&e, "order_id", order);
            hub_json_put_key(b, "lines", &e.ids_first);
            hub_buf_puts(b, "[]");
            pint(&e, "refund_amount", 1000);
            pstr(&e, "currency", "CNY");
        } else {
            char ecust[48], inv[48];
            snprintf(ecust, sizeof ecust, "erpnext:CUST-%llu",
                     (unsigned long long)p);
            snprintf(inv, sizeof inv, "INV-%llu-%llu", (unsigned long long)p,
                     (unsigned long long)k);
            if (c == 8) {
                begin(g, &e, b, "erp.invoice.issued", "erpnext", "erp",
                      "sales_invoice", inv);
                ident(&e, "erp_customer", ecust);
                ident(&e, "email", email);
                payload(&e);
                pint(&e, "total", 50000);
                pstr(&e, "currency", "CNY");
            } else {
                snprintf(id, sizeof id, "PAY-%llu", (unsigned long long)g->i);
                begin(g, &e, b, "erp.payment.received", "erpnext", "erp",
                      "payment_entry", id);
                ident(&e, "erp_customer", ecust);
                payload(&e);
                pstr(&e, "invoice_id", inv);
                pint(&e, "amount", 25000);
                pstr(&e, "currency", "CNY");
            }
        }
        end(&e);
    } else {
        /* SCRM */
        unsigned c = (unsigned)(splitmix(&g->state) % 8);
        if (c <= 1) {
            begin(g, &e, b, c ? "scrm.follow.stopped" : "scrm.follow.started",
                  "wechat", "scrm", "follower", openid);
            ident(&e, "wechat_openid", openid);
            payload(&e);
            pstr(&e, "platform", "wechat");
        } else if (c == 2) {
            begin(g, &e, b, "scrm.profile.linked", "wechat", "scrm",
                  "follower", openid);
            ident(&e, "wechat_openid", openid);
            ident(&e, "phone", phone);
            payload(&e);
            pstr(&e, "platform", "wechat");
            pstr(&e, "method", "phone_authorization");
            hub_json_put_key(b, "verified", &e.ids_first);
            hub_buf_puts(b, "true");
        } else if (c <= 4) {
            int in = c == 3;
            begin(g, &e, b, in ? "scrm.message.received" : "scrm.message.sent",
                  "wechat", "scrm", "conversation", openid);
            ident(&e, "wechat_openid", openid);
            payload(&e);
            pstr(&e, "platform", "wechat");
            pstr(&e, "message_type", "text");
            pstr(&e, "text", in ? "请问有货吗？" : "有的，今天发货。");
            if (in)
                pdbl(&e, "sentiment",
                     (double)((int)(splitmix(&g->state) % 21) - 10) / 10.0);
        } else {
            char uid[32], handle[48];
            snprintf(uid, sizeof uid, "%llu",
                     (unsigned long long)(2000000000ULL + p));
            snprintf(handle, sizeof handle, "weibo:%s", uid);
            snprintf(id, sizeof id, "%llu",
                     (unsigned long long)(g->i + 5000000000000000ULL));
            int comment = c == 7;
            begin(g, &e, b,
                  comment ? "scrm.comment.posted" : "scrm.mention.posted",
                  "weibo", "scrm", comment ? "comment" : "status", id);
            ident(&e, "social_handle", handle);
            payload(&e);
            pstr(&e, "platform", "weibo");
            if (comment)
                pstr(&e, "post_id", "5012000000000001");
            pstr(&e, "author_handle", uid);
            pstr(&e, "text", "刚收到的龙井，香气很正");
            pdbl(&e, "sentiment",
                 (double)((int)(splitmix(&g->state) % 21) - 10) / 10.0);
        }
        end(&e);
    }
    hub_buf_t *slot = &g->recent[g->nrecent++ % RING];
    hub_buf_reset(slot);
    hub_buf_append(slot, b->data + start, b->len - start);
    g->i++;
    return 1;
}
