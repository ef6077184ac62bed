/*
 * hub360 - sources: their configuration, the presets, and the one path
 * from a vendor record to encoded events.
 */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errors.h"
#include "session.h"
#include "timefmt.h"
#include "uuid.h"

/* ------------------------------------------------------------------ */
/* Presets                                                             */
/* ------------------------------------------------------------------ */

/* {name, system, signature, description[, hmac header, hmac encoding]} */
const hub_preset_t hub_presets[] = {
    {"hubspot", "crm", HUB_SIG_HUBSPOT,
     "HubSpot: contact and deal webhooks; CRM v3 objects polling", 0, 0},
    {"salesforce", "crm", HUB_SIG_NONE,
     "Salesforce: REST query polling on SystemModstamp (Lead, Contact, "
     "Opportunity, Case); Change Data Capture events", 0, 0},
    {"zendesk", "crm", HUB_SIG_ZENDESK,
     "Zendesk: ticket event webhooks; incremental ticket export polling",
     0, 0},
    {"shopify", "erp", HUB_SIG_SHOPIFY,
     "Shopify: orders, fulfillments, refunds and customers webhooks", 0, 0},
    {"odoo", "erp", HUB_SIG_NONE,
     "Odoo: JSON-2 search_read polling on write_date (res.partner, "
     "sale.order, stock.picking, account.move)", 0, 0},
    {"erpnext", "erp", HUB_SIG_HMAC,
     "ERPNext: REST polling on modified (Customer, Sales Order, Delivery "
     "Note, Sales Invoice)", "X-Frappe-Webhook-Signature", "base64"},
    {"wechat", "scrm", HUB_SIG_WECHAT,
     "WeChat Official Account: XML event and message pushes; user info",
     0, 0},
    {"weibo", "scrm", HUB_SIG_WEIBO,
     "Weibo fan service: message and follow pushes", 0, 0},
    {"meta", "scrm", HUB_SIG_META,
     "Meta: page feed comments and mentions, Messenger, Instagram comments",
     0, 0},
    {"mention", "scrm", HUB_SIG_HMAC,
     "Generic social-listening mention feed with sentiment", 0, 0},
    {0, 0, HUB_SIG_NONE, 0, 0, 0},
};

const hub_preset_t *hub_preset_find(const char *name) {
    for (const hub_preset_t *p = hub_presets; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static const hub_cfg_entry_t webhook_map[] = {
    HUB_CFG(HUB_CFG_STR, "secret", NULL, hub_webhook_config_t, secret,
            "The vendor's signing secret, app secret or token (use ${VAR}); "
            "a source takes webhooks when it has one."),
    HUB_CFG(HUB_CFG_STR, "signature", NULL, hub_webhook_config_t, signature,
            "Signature scheme; empty takes the preset's (hmac for a preset "
            "whose vendor signs nothing, salesforce and odoo: hub360's own, "
            "for a relay). none takes unsigned webhooks and no secret.",
            .choices = "|none|shopify|meta|hubspot|zendesk|wechat|weibo|hmac"),
    HUB_CFG(HUB_CFG_STR, "verify_token", NULL, hub_webhook_config_t,
            verify_token, "Meta: the hub.verify_token of the subscription "
            "handshake."),
    HUB_CFG(HUB_CFG_STR, "header", NULL, hub_webhook_config_t, header,
            "hmac: the header that carries the signature; empty takes the "
            "preset's (erpnext: X-Frappe-Webhook-Signature), else "
            "X-Signature."),
    HUB_CFG(HUB_CFG_STR, "encoding", NULL, hub_webhook_config_t, encoding,
            "hmac: how the digest is written; empty takes the preset's "
            "(erpnext: base64), else hex.",
            .choices = "|hex|base64"),
    HUB_CFG(HUB_CFG_STR, "prefix", NULL, hub_webhook_config_t, prefix,
            "hmac: text before the digest, e.g. \"sha256=\"."),
    HUB_CFG(HUB_CFG_DURATION, "max_age", "5m", hub_webhook_config_t,
            max_age_ms, "Timestamped schemes (HubSpot v3, Zendesk): the "
            "oldest request accepted."),
    HUB_CFG(HUB_CFG_DURATION, "ack_timeout", "10s", hub_webhook_config_t,
            ack_timeout_ms, "How long a request waits for Kafka to "
            "acknowledge its events before it is answered 503 (the vendor "
            "retries); 4s at most for WeChat, which gives up after 5."),
    HUB_CFG(HUB_CFG_STR, "public_url", NULL, hub_webhook_config_t,
            public_url, "The scheme and host the vendor calls (e.g. "
            "https://hooks.example.com), for signatures over the URL "
            "(HubSpot v2/v3); empty: https:// and the Host header."),
    HUB_CFG(HUB_CFG_STR, "min_version", NULL, hub_webhook_config_t,
            min_version, "HubSpot: the oldest signature version taken. v3 "
            "refuses v1 and v2 signatures, which have no timestamp: a "
            "captured request could be replayed, or one signed v3 sent again "
            "with only its older signature. Empty takes every version.",
            .choices = "|v1|v2|v3"),
    {0},
};

/* ------------------------------------------------------------------ */
/* Checks: what would only fail when an adapter starts is refused at   */
/* load, with the file and line (hub360 check)                         */
/* ------------------------------------------------------------------ */

static int check_auth_header(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    if (*s && (!strchr(s, ':') || s[0] == ':' || strpbrk(s, "\r\n"))) {
        snprintf(msg, msglen, "expected \"Name: value\", got \"%s\"", s);
        return -1;
    }
    return 0;
}

/* The auth section as a whole: the settings that need each other. */
static int check_auth(const void *value, char *msg, size_t msglen) {
    const hub_poll_auth_config_t *a = value;
    if (a->token_url[0] && (!a->client_id[0] || !a->client_secret[0])) {
        snprintf(msg, msglen, "token_url needs client_id and client_secret "
                              "(OAuth2 client credentials)");
        return -1;
    }
    if (a->password[0] && !a->username[0]) {
        snprintf(msg, msglen, "password needs a username");
        return -1;
    }
    return 0;
}

static int check_since(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    int64_t ms;
    const char *why = NULL;
    if (*s && hub_time_parse(s, strlen(s), &ms, &why)) {
        snprintf(msg, msglen, "%s, got \"%s\"",
                 why ? why : "expected an RFC 3339 time", s);
        return -1;
    }
    return 0;
}

/* A mapping file is compiled at load, so that a missing file or a jq
 * error is reported with the line that names it. Only a regular file is
 * read (a FIFO or a device could block the loader). */
static int check_mapping(const void *value, char *msg, size_t msglen) {
    const char *path = *(char *const *)value;
    struct stat st;
    if (!*path)
        return 0;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(msg, msglen, "%s: not a regular file", path);
        return -1;
    }
    hub_mapping_t *m = NULL;
    int rc = hub_mapping_load(path, &m, msg, msglen);
    hub_mapping_free(m);
    return rc ? -1 : 0;
}

static int check_preset(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    if (*s && !hub_preset_find(s)) {
        snprintf(msg, msglen, "unknown preset '%s' (presets: hubspot, "
                              "salesforce, zendesk, shopify, odoo, erpnext, "
                              "wechat, weibo, meta, mention)",
                 s);
        return -1;
    }
    return 0;
}

static const hub_cfg_entry_t auth_map[] = {
    HUB_CFG(HUB_CFG_STR, "bearer", NULL, hub_poll_auth_config_t, bearer,
            "Bearer token (Authorization: Bearer ...)."),
    HUB_CFG(HUB_CFG_STR, "username", NULL, hub_poll_auth_config_t, username,
            "Basic auth user."),
    HUB_CFG(HUB_CFG_STR, "password", NULL, hub_poll_auth_config_t, password,
            "Basic auth password."),
    HUB_CFG(HUB_CFG_STR, "header", NULL, hub_poll_auth_config_t, header,
            "A header of the vendor's own, \"Name: value\" (e.g. ERPNext's "
            "\"Authorization: token KEY:SECRET\").",
            .check = check_auth_header),
    HUB_CFG(HUB_CFG_STR, "token_url", NULL, hub_poll_auth_config_t,
            token_url, "OAuth2 client credentials: the token endpoint."),
    HUB_CFG(HUB_CFG_STR, "client_id", NULL, hub_poll_auth_config_t,
            client_id, "OAuth2 client id."),
    HUB_CFG(HUB_CFG_STR, "client_secret", NULL, hub_poll_auth_config_t,
            client_secret, "OAuth2 client secret."),
    HUB_CFG(HUB_CFG_STR, "scope", NULL, hub_poll_auth_config_t, scope,
            "OAuth2 scope, if the vendor wants one."),
    {0},
};

static const hub_cfg_entry_t poll_map[] = {
    HUB_CFG(HUB_CFG_STR, "url", NULL, hub_poll_config_t, url,
            "Base URL of the vendor's API; a source is polled when it has "
            "one.",
            .check = hub_cfg_check_url),
    HUB_CFG(HUB_CFG_DURATION, "interval", "30s", hub_poll_config_t,
            interval_ms, "Pause between two syncs."),
    HUB_CFG(HUB_CFG_SECTION, "auth", NULL, hub_poll_config_t, auth, NULL,
            .sub = auth_map, .check = check_auth),
    HUB_CFG(HUB_CFG_STRMAP, "params", NULL, hub_poll_config_t, params,
            "Values the preset's requests use ($params), e.g. database."),
    HUB_CFG(HUB_CFG_STRLIST, "resources", "[]", hub_poll_config_t,
            resources, "Resources to poll; empty: all the preset polls."),
    HUB_CFG(HUB_CFG_STR, "since", NULL, hub_poll_config_t, since,
            "Where the first sync starts (RFC 3339, any offset: the vendor "
            "is asked in UTC); empty: everything.",
            .check = check_since),
    HUB_CFG(HUB_CFG_DURATION, "min_interval", "0ms", hub_poll_config_t,
            min_interval_ms, "Rate limit: at most one request per this "
            "long."),
    HUB_CFG(HUB_CFG_DURATION, "timeout", "30s", hub_poll_config_t,
            timeout_ms, "Deadline of one request."),
    HUB_CFG(HUB_CFG_INT, "retries", "5", hub_poll_config_t, retries,
            "Retries of one request on 5xx, 429 and timeouts.", .min = 0,
            .max = 100),
    HUB_CFG(HUB_CFG_DURATION, "backoff", "1s", hub_poll_config_t,
            backoff_ms, "First retry delay; doubles on each retry, with "
            "jitter."),
    HUB_CFG(HUB_CFG_DURATION, "max_backoff", "60s", hub_poll_config_t,
            max_backoff_ms, "Longest retry delay (a Retry-After header "
            "may ask for more)."),
    HUB_CFG(HUB_CFG_DURATION, "lookback", "0s", hub_poll_config_t,
            lookback_ms, "Ask again for what changed this long before the "
            "cursor, and produce what was not produced yet: records a vendor "
            "stamps before its transaction commits (Odoo's write_date). 0: "
            "off."),
    {0},
};

static const hub_cfg_entry_t cdc_map[] = {
    HUB_CFG(HUB_CFG_STRLIST, "topics", "[]", hub_cdc_config_t, topics,
            "Debezium topics to consume; a source does CDC when it has "
            "some."),
    HUB_CFG(HUB_CFG_STR, "group", NULL, hub_cdc_config_t, group,
            "Consumer group; empty: hub360.cdc.<source>."),
    HUB_CFG(HUB_CFG_INT, "batch_records", "500", hub_cdc_config_t,
            batch_records, "Most records in one batch: consumed, mapped, "
            "produced and acknowledged, then committed together.",
            .min = 1, .max = 100000),
    HUB_CFG(HUB_CFG_DURATION, "batch_time", "500ms", hub_cdc_config_t,
            batch_ms, "Longest a batch waits to fill before it is "
            "produced."),
    {0},
};

static int check_name(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    if (!s || !*s) /* the defaults pass through here; `required` tells */
        return 0;
    if (strspn(s, "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                         strlen(s)) {
        snprintf(msg, msglen, "a source name is letters, digits, '_', '.' "
                              "and '-' (it is a URL path segment)");
        return -1;
    }
    return 0;
}

const hub_cfg_entry_t hub_source_config_map[] = {
    HUB_CFG(HUB_CFG_STR, "name", NULL, hub_source_config_t, name,
            "The source's name: webhooks arrive at POST /ingest/{name}, "
            "events carry it as source.system.",
            .required = 1, .check = check_name),
    HUB_CFG(HUB_CFG_STR, "system", NULL, hub_source_config_t, system,
            "What kind of system it is.", .required = 1,
            .choices = "crm|erp|scrm"),
    HUB_CFG(HUB_CFG_STR, "preset", NULL, hub_source_config_t, preset,
            "A built-in mapping: hubspot salesforce zendesk shopify odoo "
            "erpnext wechat weibo meta mention.",
            .check = check_preset),
    HUB_CFG(HUB_CFG_STR, "mapping", NULL, hub_source_config_t, mapping,
            "A mapping file (jq, see adapters/README.md), instead of a "
            "preset; compiled when the configuration is read.",
            .check = check_mapping),
    HUB_CFG(HUB_CFG_SECTION, "webhook", NULL, hub_source_config_t, webhook,
            NULL, .sub = webhook_map),
    HUB_CFG(HUB_CFG_SECTION, "poll", NULL, hub_source_config_t, poll, NULL,
            .sub = poll_map),
    HUB_CFG(HUB_CFG_SECTION, "cdc", NULL, hub_source_config_t, cdc, NULL,
            .sub = cdc_map),
    {0},
};

/* The signature scheme a source's webhooks are checked with: the
 * preset's, or hub360's own hmac for a mapping; webhook.signature
 * overrides it. A vendor that signs nothing (Salesforce, Odoo) comes
 * through a relay: with a secret, the relay signs as hub360's hmac does.
 * HUB_ECONFIG for a webhook.signature that names no scheme. */
static int source_scheme(const hub_source_config_t *cfg,
                         hub_sig_scheme *out) {
    const hub_preset_t *p = cfg->preset[0] ? hub_preset_find(cfg->preset)
                                           : NULL;
    *out = p ? p->signature : HUB_SIG_HMAC;
    if (*out == HUB_SIG_NONE && cfg->webhook.secret[0])
        *out = HUB_SIG_HMAC;
    if (cfg->webhook.signature[0] &&
        hub_sig_scheme_parse(cfg->webhook.signature, out) != 0)
        return HUB_ECONFIG;
    return 0;
}

int hub_source_check_item(const void *items, size_t i, char *msg,
                          size_t msglen) {
    const hub_source_config_t *s = items;
    for (size_t j = 0; j < i; j++)
        if (strcmp(s[i].name, s[j].name) == 0) {
            snprintf(msg, msglen, "source name '%s' is used twice (sources[%zu] "
                                  "has it too)",
                     s[i].name, j);
            return -1;
        }
    int has_preset = s[i].preset[0] != '\0';
    if (has_preset == (s[i].mapping[0] != '\0')) {
        snprintf(msg, msglen, "give a preset or a mapping file (one of "
                              "them)");
        return -1;
    }
    if (has_preset && check_preset(&s[i].preset, msg, msglen))
        return -1;
    if (strcmp(s[i].webhook.signature, "none") == 0 && s[i].webhook.secret[0]) {
        snprintf(msg, msglen, "webhook.signature is none, so nothing would "
                              "check webhook.secret: remove the secret, or "
                              "name the scheme that uses it");
        return -1;
    }
    hub_sig_scheme scheme;
    if (s[i].webhook.min_version[0] && source_scheme(&s[i], &scheme) == 0 &&
        scheme != HUB_SIG_HUBSPOT) {
        snprintf(msg, msglen, "webhook.min_version is for HubSpot's "
                              "signatures, and this source's are %s",
                 hub_sig_scheme_name(scheme));
        return -1;
    }
    return 0;
}

int hub_sources_check(const void *value, char *msg, size_t msglen) {
    const hub_cfg_list_t *l = value;
    char why[400];
    for (size_t i = 0; i < l->n; i++)
        if (hub_source_check_item(l->items, i, why, sizeof why)) {
            snprintf(msg, msglen, "sources[%zu]: %s", i, why);
            return -1;
        }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Runtime                                                             */
/* ------------------------------------------------------------------ */

struct hub_source {
    const hub_source_config_t *cfg;
    hub_codec_t *codec;
    hub_codec_t *own_codec;   /* hub_source_open's, freed with it */
    hub_mapping_t *mapping;
    json_t *json;             /* $source */
};

int hub_source_new(const hub_source_config_t *cfg, hub_codec_t *codec,
                   hub_source_t **out, char *err, size_t errlen) {
    hub_source_t *s = calloc(1, sizeof(*s));
    if (!s)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    s->cfg = cfg;
    s->codec = codec;
    int rc = cfg->preset[0]
                 ? hub_mapping_preset(cfg->preset, &s->mapping, err, errlen)
                 : hub_mapping_load(cfg->mapping, &s->mapping, err, errlen);
    if (rc == 0 && !(s->json = json_pack("{ssss}", "name", cfg->name,
                                         "system", cfg->system)))
        rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    if (rc) {
        hub_source_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int hub_source_open(const hub_source_config_t *cfg, hub_catalog_t *cat,
                    const char *prefix, hub_source_t **out, char *err,
                    size_t errlen) {
    hub_codec_t *codec = NULL;
    int rc = hub_codec_new(cat, prefix, &codec, err, errlen);
    if (rc == 0)
        rc = hub_source_new(cfg, codec, out, err, errlen);
    if (rc) {
        hub_codec_free(codec);
        return rc;
    }
    (*out)->own_codec = codec;
    return 0;
}

void hub_source_free(hub_source_t *s) {
    if (!s)
        return;
    hub_mapping_free(s->mapping);
    json_decref(s->json);
    hub_codec_free(s->own_codec);
    free(s);
}

hub_mapping_t *hub_source_mapping(hub_source_t *s) { return s->mapping; }

const json_t *hub_source_json(const hub_source_t *s) { return s->json; }

int hub_source_signature(const hub_source_t *s, hub_sig_config_t *out) {
    const hub_webhook_config_t *w = &s->cfg->webhook;
    const hub_preset_t *p = s->cfg->preset[0] ? hub_preset_find(s->cfg->preset)
                                              : NULL;
    hub_sig_scheme scheme;
    if (source_scheme(s->cfg, &scheme))
        return HUB_ECONFIG;
    if (scheme != HUB_SIG_NONE && !w->secret[0])
        return HUB_ECONFIG; /* no secret: the source takes no webhooks */
    const char *header = w->header[0] ? w->header
                         : p && p->sig_header ? p->sig_header
                                              : "X-Signature";
    const char *encoding = w->encoding[0] ? w->encoding
                           : p && p->sig_encoding ? p->sig_encoding
                                                  : "hex";
    *out = (hub_sig_config_t){
        .scheme = scheme,
        .secret = w->secret,
        .verify_token = w->verify_token[0] ? w->verify_token : NULL,
        .header = header,
        .encoding = strcmp(encoding, "base64") == 0 ? HUB_SIG_BASE64
                                                    : HUB_SIG_HEX,
        .prefix = w->prefix[0] ? w->prefix : NULL,
        .max_age_ms = w->max_age_ms,
        .min_version = w->min_version[0] ? w->min_version[1] - '0' : 1,
    };
    return 0;
}

/* ------------------------------------------------------------------ */
/* Completing and encoding                                             */
/* ------------------------------------------------------------------ */

/* A number where the schema wants a string becomes its decimal text. */
static int stringify(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return 0;
    char text[64];
    if (json_is_integer(v))
        snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
    else
        snprintf(text, sizeof(text), "%.17g", json_real_value(v));
    return json_object_set_new(obj, key, json_string(text));
}

/* Epoch milliseconds where the schema wants a time become RFC 3339. */
static int timestamp(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return 0;
    char text[HUB_TIME_MAXLEN];
    hub_time_format((int64_t)json_number_value(v), text);
    return json_object_set_new(obj, key, json_string(text));
}

int hub_source_complete(const char *source, const char *system,
                        int64_t ingested_ms, json_t *ev, char *err,
                        size_t errlen) {
    json_t *id = json_object_get(ev, "id");
    if (json_is_number(id)) {
        stringify(ev, "id");
        id = json_object_get(ev, "id");
    }
    if (id && !json_is_null(id) && !json_is_string(id))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "id: expected a string, got %s",
                        json_is_object(id)  ? "an object"
                        : json_is_array(id) ? "an array"
                                            : "a boolean");
    /* A mapping that passes canonical events through may carry their
     * event_id; otherwise the vendor's id names the event. */
    if (json_is_string(id) || !json_is_string(json_object_get(ev, "event_id"))) {
        hub_uuid_t u;
        if (json_is_string(id)) {
            hub_buf_t name = HUB_BUF_INIT;
            if (hub_buf_printf(&name, "%s/%s", source, json_string_value(id)))
                return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
            hub_uuid_v5(&hub_uuid_ns_hub360, name.data, name.len, &u);
            hub_buf_free(&name);
        } else {
            hub_uuid_v7(&u);
        }
        char text[HUB_UUID_STRLEN + 1];
        hub_uuid_format(&u, text);
        json_object_set_new(ev, "event_id", json_string(text));
    }
    json_object_del(ev, "id");

    json_t *src = json_object_get(ev, "source");
    if (!json_is_object(src))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "source: expected an object with entity_type and "
                        "entity_id");
    /* a request a vendor relays (an erasure: customer.forget) is a
     * control event, whose source kind is hub; the system says who */
    const char *type = json_string_value(json_object_get(ev, "type"));
    int control = type && hub_topic_of_type(type) == HUB_TOPIC_CONTROL;
    json_object_set_new(src, "system", json_string(source));
    json_object_set_new(src, "kind", json_string(control ? "hub" : system));
    stringify(src, "entity_id");
    timestamp(ev, "occurred_at");
    if (!json_object_get(ev, "ingested_at")) {
        char text[HUB_TIME_MAXLEN];
        hub_time_format(ingested_ms, text);
        json_object_set_new(ev, "ingested_at", json_string(text));
    }
    json_t *ids = json_object_get(ev, "identities");
    if (!ids)
        json_object_set_new(ev, "identities", ids = json_array());
    size_t i;
    json_t *one;
    json_array_foreach(ids, i, one) stringify(one, "value");
    return 0;
}

void hub_mapped_reset(hub_mapped_t *m) {
    for (size_t i = 0; i < m->n; i++) {
        hub_buf_reset(&m->events[i].value);
        hub_buf_reset(&m->events[i].key);
    }
    m->n = 0;
}

void hub_mapped_free(hub_mapped_t *m) {
    for (size_t i = 0; i < m->cap; i++)
        hub_encoded_free(&m->events[i]);
    free(m->events);
    *m = (hub_mapped_t){0};
}

/* hub_source_map, and with refused set hub_source_map_each. */
static int map_record(hub_source_t *s, const json_t *record,
                      const json_t *meta, hub_mapped_t *out,
                      json_t *json_out, size_t *refused, char *refused_why,
                      size_t whylen, char *err, size_t errlen) {
    json_t *events = json_array();
    if (!events)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    int64_t at = hub_time_now_ms();
    json_t *received = json_object_get(meta, "received_at");
    if (json_is_string(received))
        hub_time_parse(json_string_value(received),
                       json_string_length(received), &at, NULL);

    size_t first = out->n;
    size_t first_json = json_out ? json_array_size(json_out) : 0;
    int rc = hub_mapping_events(s->mapping, record, s->json, meta, events,
                                err, errlen);
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        if (rc)
            break;
        char why[512];
        rc = hub_source_complete(s->cfg->name, s->cfg->system, at, ev, why,
                                 sizeof(why));
        if (rc == 0 && out->n == out->cap) {
            size_t cap = out->cap;
            rc = hub_array_grow(&out->events, &out->cap, out->n,
                                sizeof(*out->events), 8);
            if (rc == 0)
                memset(out->events + cap, 0,
                       (out->cap - cap) * sizeof(*out->events));
            else
                snprintf(why, sizeof(why), "out of memory");
        }
        if (rc == 0)
            rc = hub_codec_encode(s->codec, ev, &out->events[out->n], why,
                                  sizeof(why));
        if (rc) {
            json_t *type = json_object_get(ev, "type");
            hub_fail(err, errlen, rc, "event %zu (%s): %s", i + 1,
                     json_is_string(type) ? json_string_value(type)
                                          : "no type",
                     why);
            if (refused && rc != HUB_ENOMEM) {
                if ((*refused)++ == 0)
                    snprintf(refused_why, whylen, "%s", err);
                rc = 0;
                continue;
            }
            break;
        }
        out->n++;
        if (json_out && json_array_append(json_out, ev) != 0)
            rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    json_decref(events);
    if (rc) {
        for (size_t k = first; k < out->n; k++) {
            hub_buf_reset(&out->events[k].value);
            hub_buf_reset(&out->events[k].key);
        }
        out->n = first;
        while (json_out && json_array_size(json_out) > first_json)
            json_array_remove(json_out, first_json);
    }
    return rc;
}

int hub_source_map(hub_source_t *s, const json_t *record, const json_t *meta,
                   hub_mapped_t *out, json_t *json_out, char *err,
                   size_t errlen) {
    return map_record(s, record, meta, out, json_out, NULL, NULL, 0, err,
                      errlen);
}

int hub_source_map_each(hub_source_t *s, const json_t *record,
                        const json_t *meta, hub_mapped_t *out,
                        size_t *refused, char *why, size_t whylen,
                        char *err, size_t errlen) {
    *refused = 0;
    if (whylen)
        why[0] = '\0';
    return map_record(s, record, meta, out, NULL, refused, why, whylen, err,
                      errlen);
}

int hub_mapped_send(const hub_mapped_t *m, const hub_config_t *cfg,
                    hub_producer_t *p, hub_acks_t *acks, int64_t block_ms,
                    char *err, size_t errlen) {
    for (size_t i = 0; i < m->n; i++) {
        const hub_encoded_t *e = &m->events[i];
        char topic[256];
        hub_session_event_topic(cfg, e->topic, topic, sizeof(topic));
        int rc = hub_producer_send(p, topic, -1, e->key.data, e->key.len,
                                   e->value.data, e->value.len, NULL, 0,
                                   acks, block_ms, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}
