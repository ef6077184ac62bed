/*
 * hub360 - reading Debezium's change events (JsonConverter records).
 *
 * A record is recognised by its shape, not by its topic or connector:
 * an object of exactly `schema` and `payload` is an envelope with the
 * schema; any other object is the payload itself. A change event must
 * have a string `op` and an object `source`, which every Debezium
 * connector writes; the rest (before, after, ts_ms, transaction) is the
 * mapping's business.
 */
#include "debezium.h"

#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "errors.h"

const json_t *hub_debezium_unwrap(const json_t *v) {
    if (json_is_object(v) && json_object_size(v) == 2 &&
        json_object_get(v, "schema") && json_object_get(v, "payload"))
        return json_object_get(v, "payload");
    return v;
}

int hub_debezium_payload(const json_t *value, const json_t **payload,
                         char *err, size_t errlen) {
    *payload = NULL;
    const json_t *p = hub_debezium_unwrap(value);
    if (!p || json_is_null(p))
        return 0; /* a tombstone */
    if (!json_is_object(p))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "not a Debezium change event: the value is not a "
                        "JSON object");
    if (!json_is_string(json_object_get(p, "op")))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "not a Debezium change event: no \"op\"");
    if (!json_is_object(json_object_get(p, "source")))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "not a Debezium change event: no \"source\" object");
    *payload = p;
    return 0;
}

int hub_debezium_parse(const void *value, size_t len, json_t **root,
                       const json_t **payload, char *err, size_t errlen) {
    *root = NULL;
    *payload = NULL;
    if (!value)
        return 0;
    char why[256];
    json_t *v = NULL;
    if (hub_codec_parse_text(value, len, &v, why, sizeof(why)))
        return hub_fail(err, errlen, HUB_EDECODE, "not JSON: %s", why);
    int rc = hub_debezium_payload(v, payload, err, errlen);
    if (rc) {
        json_decref(v);
        return rc;
    }
    *root = v;
    return 0;
}

/* source[key] when it is a non-empty string, else NULL. */
static const char *text(const json_t *source, const char *key) {
    const json_t *v = json_object_get(source, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v)
                                                      : NULL;
}

int hub_debezium_resource(const json_t *payload, char *out, size_t outlen) {
    const json_t *s = json_object_get(payload, "source");
    if (outlen)
        out[0] = '\0';
    const char *connector = text(s, "connector");
    const char *table = text(s, "table");
    if (!table)
        table = text(s, "collection");
    const char *space = connector && strcmp(connector, "postgresql") == 0
                            ? text(s, "schema")
                            : text(s, "db");
    if (!space)
        space = text(s, "schema");
    if (!table || !space)
        return HUB_ENOENT;
    int n = snprintf(out, outlen, "%s.%s", space, table);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return HUB_ETOOBIG;
    }
    return 0;
}

json_t *hub_debezium_key(const void *key, size_t len) {
    if (!key)
        return json_null();
    json_t *v = json_loadb(key, len, JSON_DECODE_ANY, NULL);
    if (!v && !(v = json_stringn(key, len)))
        return json_null(); /* neither JSON nor UTF-8 */
    const json_t *p = hub_debezium_unwrap(v);
    if (p != v) {
        json_incref((json_t *)p);
        json_decref(v);
        v = (json_t *)p;
    }
    return v;
}
