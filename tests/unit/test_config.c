/*
 * Unit tests: YAML documents and configuration tables - defaults, types,
 * unknown keys, environment variables, and errors that name file:line.
 */
#include <stdlib.h>

#include "config.h"
#include "errors.h"
#include "harness.h"

static hub_config_t *load(const char *text, char *err, size_t errlen) {
    hub_config_t *cfg = NULL;
    if (hub_config_parse("test.yaml", text, strlen(text), &cfg, err, errlen))
        return NULL;
    return cfg;
}

TEST(defaults_run_everything_locally) {
    char err[512];
    hub_config_t *cfg = load("", err, sizeof err);
    REQUIRE(cfg);
    CHECK_STR(cfg->kafka.brokers, "embedded");
    CHECK_INT(cfg->kafka.partitions, 12);
    CHECK_STR(cfg->kafka.topic_prefix, "hub360.");
    CHECK_INT(cfg->kafka.delivery_timeout_ms, 30000);
    CHECK_INT(cfg->kafka.queue_max_bytes, 64 << 20);
    CHECK_STR(cfg->data_dir, "./data");
    CHECK_STR(cfg->api.listen, "127.0.0.1:8360");
    CHECK_INT(cfg->api.tokens.n, 0);
    CHECK_STR(cfg->log.level, "info");
    CHECK_STR(cfg->schema_registry.url, "");
    CHECK(hub_config_embedded(cfg));
    hub_config_free(cfg);
}

TEST(values_override_defaults) {
    char err[512];
    setenv("HUB360_TEST_TOKEN", "s3cret", 1);
    hub_config_t *cfg = load("kafka:\n"
                             "  brokers: k1:9092,k2:9092\n"
                             "  partitions: 3\n"
                             "  delivery_timeout: 5s\n"
                             "  queue_max_bytes: 1MiB\n"
                             "  properties:\n"
                             "    security.protocol: SASL_SSL\n"
                             "    linger.ms: 20\n"
                             "api:\n"
                             "  tokens:\n"
                             "    - {token: \"${HUB360_TEST_TOKEN}\", scope: admin}\n"
                             "    - token: ${HUB360_UNSET_VAR:-fallback}\n"
                             "log: {level: debug, format: json}\n",
                             err, sizeof err);
    REQUIRE(cfg);
    CHECK_STR(cfg->kafka.brokers, "k1:9092,k2:9092");
    CHECK_INT(cfg->kafka.partitions, 3);
    CHECK_INT(cfg->kafka.delivery_timeout_ms, 5000);
    CHECK_INT(cfg->kafka.queue_max_bytes, 1 << 20);
    CHECK_INT(cfg->kafka.properties.n, 2);
    CHECK_STR(hub_strmap_get(&cfg->kafka.properties, "linger.ms"), "20");
    REQUIRE(cfg->api.tokens.n == 2);
    hub_api_token_t *t = cfg->api.tokens.items;
    CHECK_STR(t[0].token, "s3cret");
    CHECK_STR(t[0].scope, "admin");
    CHECK_STR(t[1].token, "fallback");
    CHECK_STR(t[1].scope, "read");
    CHECK_STR(cfg->log.format, "json");
    CHECK(!hub_config_embedded(cfg));
    hub_config_free(cfg);
}

/* Each broken file must be rejected with exactly this message. */
static const struct {
    const char *text;
    const char *message;
} broken[] = {
    {"kafka:\n  partitons: 3\n",
     "test.yaml:2: kafka.partitons: unknown key (did you mean \"partitions\"?)"},
    {"kafka:\n  brokers: x\n  partitions: many\n",
     "test.yaml:3: kafka.partitions: expected an integer, got \"many\""},
    {"kafka:\n  partitions: \"3\"\n",
     "test.yaml:2: kafka.partitions: expected an integer, got the string "
     "\"3\" (write it without quotes)"},
    {"kafka:\n  partitions: 0\n",
     "test.yaml:2: kafka.partitions: 0 is out of range 1..10000"},
    {"kafka:\n  delivery_timeout: 30\n",
     "test.yaml:2: kafka.delivery_timeout: expected a duration like 500ms, "
     "30s, 5m, 1h or 7d, got \"30\""},
    {"log:\n  level: loud\n",
     "test.yaml:2: log.level: expected one of debug|info|warn|error, got "
     "\"loud\""},
    {"api:\n  listen: 8360\n",
     "test.yaml:2: api.listen: expected HOST:PORT, got \"8360\""},
    {"api:\n  tokens:\n    - scope: admin\n",
     "test.yaml:3: api.tokens[0]: missing required key \"token\""},
    {"api:\n  tokens:\n    - token: t\n      scope: root\n",
     "test.yaml:4: api.tokens[0].scope: expected one of read|admin, got "
     "\"root\""},
    {"kafka: [1, 2]\n",
     "test.yaml:1: kafka: expected a mapping of keys, got a list"},
    {"kafka:\n  properties: [a]\n",
     "test.yaml:2: kafka.properties: expected a mapping, got a list"},
    {"schema_registry:\n  url: registry:8081\n",
     "test.yaml:2: schema_registry.url: expected an http:// or https:// URL, "
     "got \"registry:8081\""},
    {"data_dir: ''\n", "test.yaml:1: data_dir: must not be empty"},
    {"api:\n  tokens:\n    - {token: \"${HUB360_TEST_UNSET_TOKEN}\", scope: read}\n",
     "test.yaml:3: api.tokens[0].token: empty: ${HUB360_TEST_UNSET_TOKEN} "
     "is not set (write ${HUB360_TEST_UNSET_TOKEN:-} if empty is meant)"},
    {"sourcez: []\n",
     "test.yaml:1: sourcez: unknown key (did you mean \"sources\"?)"},
    {"sources:\n  - name: shop\n    system: erp\n    preset: shopfy\n",
     "test.yaml:4: sources[0].preset: unknown preset 'shopfy' (presets: "
     "hubspot, salesforce, zendesk, shopify, odoo, erpnext, wechat, weibo, "
     "meta, mention)"},
    {"sources:\n  - name: shop\n    system: erp\n",
     "test.yaml:2: sources[0]: give a preset or a mapping file (one of "
     "them)"},
    {"sources:\n  - {name: a, system: erp, preset: odoo}\n"
     "  - {name: a, system: crm, preset: hubspot}\n",
     "test.yaml:3: sources[1]: source name 'a' is used twice (sources[0] "
     "has it too)"},
    {"sources:\n  - {name: shop/x, system: erp, preset: shopify}\n",
     "test.yaml:2: sources[0].name: a source name is letters, digits, '_', "
     "'.' and '-' (it is a URL path segment)"},
    {"sources:\n  - {system: erp, preset: shopify}\n",
     "test.yaml:2: sources[0]: missing required key \"name\""},
    {"sources:\n  - {name: s, system: pos, preset: shopify}\n",
     "test.yaml:2: sources[0].system: expected one of crm|erp|scrm, got "
     "\"pos\""},
    {"sources:\n  - name: s\n    system: erp\n    preset: shopify\n"
     "    webhook: {signature: sha1}\n",
     "test.yaml:5: sources[0].webhook.signature: expected one of "
     "\"\"|none|shopify|meta|hubspot|zendesk|wechat|weibo|hmac, got \"sha1\""},
    {"sources:\n  - name: s\n    system: erp\n    preset: odoo\n"
     "    poll: {url: \"http://x\", interval: soon}\n",
     "test.yaml:5: sources[0].poll.interval: expected a duration like 500ms, "
     "30s, 5m, 1h or 7d, got \"soon\""},
    {"identity:\n  default_region: XX\n",
     "test.yaml:2: identity.default_region: unknown region \"XX\" (ISO "
     "3166-1 alpha-2 codes such as CN, US, GB, DE, JP, SG)"},
    {"identity:\n  link_kinds: [email, fax]\n",
     "test.yaml:2: identity.link_kinds: unknown identity kind \"fax\" (item "
     "1; kinds: email, phone, crm_contact, crm_lead, crm_account, "
     "erp_customer, social_handle, wechat_openid, wechat_unionid, external)"},
    {"identity:\n  blocklist: [\"(unclosed\"]\n",
     "test.yaml:2: identity.blocklist: item 0, \"(unclosed\": Unmatched ( or \\("},
    {"segments:\n  vip: orders.revenue.CNY >=\n",
     "test.yaml:2: segments: vip: at column 22: expected a path, a number, "
     "a 'string', true, false or null"},
    {"profile:\n  rules: {name: newest}\n",
     "test.yaml:2: profile.rules: name: expected \"most_recent\" or "
     "\"source_priority: SOURCE, SOURCE...\", got \"newest\""},
    {"kafka:\n  brokers: a\n  brokers: b\n",
     "test.yaml:3: duplicate key \"brokers\" (first at line 2)"},
    {"kafka:\n  brokers: [a\n", "test.yaml:3: did not find expected ',' or "
                                "']' while parsing a flow sequence (from "
                                "line 2, in kafka.brokers[1])"},
    {"sources:\n  - name: a\n    poll:\n      url: http://x\n"
     "      params: {a: 1, b: [1, 2}\n",
     "test.yaml:5: did not find expected ',' or ']' while parsing a flow "
     "sequence (in sources[0].poll.params.b[2])"},
    {"sources:\n  - name: a\n    poll:\n      url: http://x\n"
     "     interval: 3s\n",
     "test.yaml:5: did not find expected key while parsing a block mapping "
     "(from line 2, in sources[0])"},
    {"a: &x 1\nb: *x\n", "test.yaml:1: anchors (&x) are not supported"},
    {"log: {level: info}\n---\nlog: {}\n",
     "test.yaml:2: only one YAML document is allowed"},
    {"kafka:\n  brokers: ${UNTERMINATED\n",
     "test.yaml:2: unterminated ${ in \"${UNTERMINATED\""},
};

TEST(broken_files_name_file_line_and_key) {
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        char err[512] = "";
        hub_config_t *cfg = load(broken[i].text, err, sizeof err);
        CHECK(cfg == NULL);
        CHECK_STR(err, broken[i].message);
        hub_config_free(cfg);
    }
}

TEST(a_missing_file_is_named) {
    char err[512];
    hub_config_t *cfg = NULL;
    CHECK_INT(hub_config_load("/nonexistent/hub360.yaml", &cfg, err,
                              sizeof err),
              HUB_ENOENT);
    CHECK_STR(err, "/nonexistent/hub360.yaml: No such file or directory");
}

TEST(durations_and_sizes) {
    int64_t v;
    CHECK(hub_cfg_parse_duration("500ms", &v) == 0 && v == 500);
    CHECK(hub_cfg_parse_duration("7d", &v) == 0 && v == 7 * 86400000LL);
    CHECK(hub_cfg_parse_duration("0", &v) == 0 && v == 0);
    CHECK(hub_cfg_parse_duration("5", &v) != 0);
    CHECK(hub_cfg_parse_duration("-5s", &v) != 0);
    CHECK(hub_cfg_parse_duration("5 s", &v) != 0);
    CHECK(hub_cfg_parse_size("64KiB", &v) == 0 && v == 65536);
    CHECK(hub_cfg_parse_size("10MB", &v) == 0 && v == 10000000);
    CHECK(hub_cfg_parse_size("4096", &v) == 0 && v == 4096);
    CHECK(hub_cfg_parse_size("1TB", &v) != 0);
}

TEST(reference_lists_every_key) {
    hub_buf_t b = HUB_BUF_INIT;
    hub_cfg_describe(hub_config_map, "", &b);
    CHECK_CONTAINS(b.data, "| `kafka.brokers` | string | `embedded` |");
    CHECK_CONTAINS(b.data, "| `kafka.partitions` | integer 1..10000 | `12` |");
    CHECK_CONTAINS(b.data, "| `api.tokens[].scope` | one of `read`, `admin` |");
    CHECK_CONTAINS(b.data, "Required.");
    hub_buf_free(&b);
}
