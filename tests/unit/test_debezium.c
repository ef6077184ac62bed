/*
 * Unit tests: Debezium records as the CDC adapter reads them - both
 * shapes JsonConverter writes (the tutorial's record with its schema,
 * the same payload without), tombstones, values that are not change
 * events, the table each connector names, and record keys.
 */
#include <jansson.h>

#include "debezium.h"
#include "errors.h"
#include "harness.h"

#define VENDORS "tests/fixtures/vendors/"

/* j as compact JSON with sorted keys (a static buffer), or "(null)". */
static const char *dump(const json_t *j) {
    static char out[4096];
    if (!j)
        return "(null)";
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, sizeof out, "%s", s ? s : "(dump failed)");
    free(s);
    return out;
}

/* The table of a parse of text, or "error CODE: message". */
static const char *parse_table(const char *text) {
    static char out[1024];
    char err[512] = "";
    json_t *root = NULL;
    const json_t *payload = NULL;
    int rc = hub_debezium_parse(text, text ? strlen(text) : 0, &root,
                                &payload, err, sizeof err);
    if (rc) {
        snprintf(out, sizeof out, "error %d: %s%s", rc, err,
                 root || payload ? " (with output)" : "");
        return out;
    }
    if (!payload) {
        snprintf(out, sizeof out, "tombstone%s", root && !json_is_object(root)
                                                     ? " (root kept)"
                                                     : "");
        json_decref(root);
        return out;
    }
    char table[256];
    rc = hub_debezium_resource(payload, table, sizeof table);
    snprintf(out, sizeof out, "%s %s", json_string_value(json_object_get(
                                           payload, "op")),
             rc ? "(no table)" : table);
    json_decref(root);
    return out;
}

TEST(both_shapes_of_the_tutorial_record) {
    char *with = hub_test_read(VENDORS "debezium_mysql_customers_create_value_"
                                       "docs.json",
                               NULL);
    REQUIRE(with);
    CHECK_STR(parse_table(with), "c inventory.customers");
    /* the same payload without the schema (schemas.enable=false) */
    json_t *v = json_loads(with, 0, NULL);
    REQUIRE(v);
    char *without = json_dumps(json_object_get(v, "payload"), 0);
    CHECK_STR(parse_table(without), "c inventory.customers");
    const json_t *p = NULL;
    CHECK_INT(hub_debezium_payload(v, &p, NULL, 0), 0);
    CHECK(p == json_object_get(v, "payload"));
    CHECK(hub_debezium_unwrap(v) == p);
    free(without);
    json_decref(v);
    free(with);
}

TEST(tombstones) {
    CHECK_STR(parse_table(NULL), "tombstone");
    CHECK_STR(parse_table("{\"schema\": null, \"payload\": null}"),
              "tombstone");
    const json_t *p = (const json_t *)1;
    CHECK_INT(hub_debezium_payload(NULL, &p, NULL, 0), 0);
    CHECK(p == NULL);
    p = (const json_t *)1;
    CHECK_INT(hub_debezium_payload(json_null(), &p, NULL, 0), 0);
    CHECK(p == NULL);
}

TEST(values_that_are_not_change_events) {
    CHECK_STR(parse_table("{\"before\": "),
              "error -7: not JSON: invalid JSON at column 11: unexpected "
              "token near end of file");
    CHECK_STR(parse_table("\xff{}"),
              "error -7: not JSON: invalid UTF-8 at byte offset 0");
    CHECK_STR(parse_table("[1, 2]"),
              "error -1: not a Debezium change event: the value is not a "
              "JSON object");
    CHECK_STR(parse_table("{\"after\": {\"id\": 1}, \"source\": {}}"),
              "error -1: not a Debezium change event: no \"op\"");
    CHECK_STR(parse_table("{\"op\": \"c\", \"source\": \"mysql\"}"),
              "error -1: not a Debezium change event: no \"source\" object");
    /* an envelope whose payload is not a change event */
    CHECK_STR(parse_table("{\"schema\": {}, \"payload\": {\"ddl\": \"x\"}}"),
              "error -1: not a Debezium change event: no \"op\"");
    /* a third key: not an envelope, and no op at the top */
    CHECK_STR(parse_table("{\"schema\": {}, \"payload\": {\"op\": \"c\", "
                          "\"source\": {}}, \"x\": 1}"),
              "error -1: not a Debezium change event: no \"op\"");
}

static const char *table_of(const char *source) {
    static char out[64];
    char text[512];
    snprintf(text, sizeof text, "{\"op\": \"u\", \"source\": %s}", source);
    json_t *p = json_loads(text, 0, NULL);
    if (!p)
        return "(bad test JSON)";
    int rc = hub_debezium_resource(p, out, sizeof out);
    if (rc)
        snprintf(out, sizeof out, "error %d", rc);
    json_decref(p);
    return out;
}

TEST(the_table_each_connector_names) {
    CHECK_STR(table_of("{\"connector\": \"mysql\", \"db\": \"inventory\", "
                       "\"table\": \"customers\"}"),
              "inventory.customers");
    /* Postgres: one database per connector; the schema tells tables apart */
    CHECK_STR(table_of("{\"connector\": \"postgresql\", \"db\": \"postgres\", "
                       "\"schema\": \"inventory\", \"table\": \"customers\"}"),
              "inventory.customers");
    /* SQL Server names database and schema: the database is kept */
    CHECK_STR(table_of("{\"connector\": \"sqlserver\", \"db\": \"testDB\", "
                       "\"schema\": \"dbo\", \"table\": \"customers\"}"),
              "testDB.customers");
    CHECK_STR(table_of("{\"connector\": \"mongodb\", \"db\": \"inventory\", "
                       "\"collection\": \"customers\"}"),
              "inventory.customers");
    CHECK_STR(table_of("{\"schema\": \"public\", \"table\": \"t\"}"),
              "public.t");
    CHECK_STR(table_of("{\"db\": \"inventory\"}"), "error -4");
    CHECK_STR(table_of("{\"db\": \"\", \"table\": \"t\"}"), "error -4");
    char small[8] = "x";
    json_t *p = json_pack("{s{ssss}}", "source", "db", "inventory", "table",
                          "customers");
    CHECK_INT(hub_debezium_resource(p, small, sizeof small), HUB_ETOOBIG);
    CHECK_STR(small, "");
    json_decref(p);
}

static const char *key_of(const char *bytes, size_t len) {
    json_t *k = hub_debezium_key(bytes, len);
    const char *out = dump(k);
    json_decref(k);
    return out;
}

TEST(record_keys) {
    size_t len = 0;
    char *key = hub_test_read(VENDORS "debezium_mysql_customers_key_docs.json",
                              &len);
    REQUIRE(key);
    CHECK_STR(key_of(key, len), "{\"id\":1004}");
    free(key);
    CHECK_STR(key_of("{\"id\":1004}", 11), "{\"id\":1004}");
    CHECK_STR(key_of("1004", 4), "1004");
    CHECK_STR(key_of("customer-7", 10), "\"customer-7\"");
    CHECK_STR(key_of("\xff\xfe", 2), "null");
    CHECK_STR(key_of(NULL, 0), "null");
}

/* The change event of text as the CDC adapter hands it to a mapping
 * (*root to decref), or NULL. */
static const json_t *rewritten(const char *text, json_t **root) {
    char err[256];
    const json_t *payload = NULL;
    if (hub_debezium_parse(text, strlen(text), root, &payload, err,
                           sizeof err) != 0 ||
        !payload)
        return NULL;
    hub_debezium_logical(*root, (json_t *)payload);
    return payload;
}

/* A row with its schema (JsonConverter's schemas.enable): the logical
 * types decoded exactly, the unread column dropped, what does not decode
 * left as it came. */
TEST(logical_types_with_the_schema) {
    const char *text =
        "{\"schema\": {\"type\": \"struct\", \"fields\": ["
        " {\"field\": \"before\", \"type\": \"struct\", \"fields\": []},"
        " {\"field\": \"after\", \"type\": \"struct\", \"fields\": ["
        "  {\"field\": \"id\", \"type\": \"int32\"},"
        "  {\"field\": \"price\", \"type\": \"bytes\", \"name\": "
        "\"org.apache.kafka.connect.data.Decimal\", \"parameters\": "
        "{\"scale\": \"2\"}},"
        "  {\"field\": \"refund\", \"type\": \"bytes\", \"name\": "
        "\"org.apache.kafka.connect.data.Decimal\", \"parameters\": "
        "{\"scale\": \"2\"}},"
        "  {\"field\": \"cent\", \"type\": \"bytes\", \"name\": "
        "\"org.apache.kafka.connect.data.Decimal\", \"parameters\": "
        "{\"scale\": \"2\"}},"
        "  {\"field\": \"huge\", \"type\": \"bytes\", \"name\": "
        "\"org.apache.kafka.connect.data.Decimal\", \"parameters\": "
        "{\"scale\": \"0\"}},"
        "  {\"field\": \"bad\", \"type\": \"bytes\", \"name\": "
        "\"org.apache.kafka.connect.data.Decimal\", \"parameters\": "
        "{\"scale\": \"2\"}},"
        "  {\"field\": \"rate\", \"type\": \"struct\", \"name\": "
        "\"io.debezium.data.VariableScaleDecimal\"},"
        "  {\"field\": \"born\", \"type\": \"int32\", \"name\": "
        "\"io.debezium.time.Date\"},"
        "  {\"field\": \"created\", \"type\": \"int64\", \"name\": "
        "\"io.debezium.time.Timestamp\"},"
        "  {\"field\": \"updated\", \"type\": \"int64\", \"name\": "
        "\"io.debezium.time.MicroTimestamp\"},"
        "  {\"field\": \"early\", \"type\": \"int64\", \"name\": "
        "\"io.debezium.time.MicroTimestamp\"},"
        "  {\"field\": \"seen\", \"type\": \"int64\", \"name\": "
        "\"io.debezium.time.NanoTimestamp\"},"
        "  {\"field\": \"notes\", \"type\": \"string\"}]}]},"
        " \"payload\": {\"op\": \"u\", \"source\": {\"db\": \"shop\"},"
        " \"before\": null, \"after\": {\"id\": 7, \"price\": \"AeI6\","
        " \"refund\": \"/h3G\", \"cent\": \"/w==\","
        " \"huge\": \"HWMp8cNcpL+rufVhAAAAAAc=\", \"bad\": \"!!\","
        " \"rate\": {\"scale\": 3, \"value\": \"AeI6\"}, \"born\": 19723,"
        " \"created\": 1704067200123, \"updated\": 1704067200123456,"
        " \"early\": -1, \"seen\": 1704067200000000001,"
        " \"notes\": \"__debezium_unavailable_value\"}}}";
    json_t *root = NULL;
    const json_t *payload = rewritten(text, &root);
    REQUIRE(payload);
    CHECK_STR(dump(json_object_get(payload, "after")),
              "{\"bad\":\"!!\",\"born\":\"2024-01-01\",\"cent\":\"-0.01\","
              "\"created\":\"2024-01-01T00:00:00.123Z\","
              "\"early\":\"1969-12-31T23:59:59.999999Z\","
              "\"huge\":\"10000000000000000000000000000000000000007\","
              "\"id\":7,\"price\":\"1234.50\",\"rate\":\"123.450\","
              "\"refund\":\"-1234.50\","
              "\"seen\":\"2024-01-01T00:00:00.000000001Z\","
              "\"updated\":\"2024-01-01T00:00:00.123456Z\"}");
    json_decref(root);
}

/* Without a schema nothing says which integers are dates: only the
 * column Debezium could not read goes. */
TEST(without_the_schema_only_unread_columns_go) {
    const char *text =
        "{\"op\": \"u\", \"source\": {\"db\": \"shop\"},"
        " \"before\": {\"id\": 7, \"notes\": \"__debezium_unavailable_value\"},"
        " \"after\": {\"id\": 7, \"born\": 19723,"
        " \"notes\": \"__debezium_unavailable_value\"}}";
    json_t *root = NULL;
    const json_t *payload = rewritten(text, &root);
    REQUIRE(payload);
    CHECK_STR(dump(json_object_get(payload, "after")),
              "{\"born\":19723,\"id\":7}");
    CHECK_STR(dump(json_object_get(payload, "before")), "{\"id\":7}");
    json_decref(root);
}
