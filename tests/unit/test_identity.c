/*
 * Unit tests: identity normalization (e-mail, E.164 phones, handles,
 * ids), linking rules, and segment expressions.
 */
#include "config.h"
#include "harness.h"
#include "identity.h"
#include "segment.h"

static hub_ident_rules_t rules;

static const char *norm(int kind, const char *v, const char *system) {
    static char out[512];
    static int ready;
    if (!ready) {
        hub_config_t *cfg = NULL;
        char err[256];
        hub_config_parse("t", "", 0, &cfg, err, sizeof err);
        hub_ident_rules_init(&rules, &cfg->identity, err, sizeof err);
        hub_config_free(cfg);
        ready = 1;
    }
    if (hub_ident_normalize(&rules, kind, v, strlen(v), system, out,
                            sizeof out) < 0)
        return "(rejected)";
    return out;
}

TEST(emails_are_trimmed_lower_cased_and_checked) {
    CHECK_STR(norm(HUB_ID_EMAIL, "  Ann.Li@Example.COM\t", "s"),
              "email:ann.li@example.com");
    CHECK_STR(norm(HUB_ID_EMAIL, "ann", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_EMAIL, "ann@localhost", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_EMAIL, "a b@example.com", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_EMAIL, "@example.com", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_EMAIL, "", "s"), "(rejected)");
}

TEST(phones_become_e164_with_the_default_region) {
    /* default region CN */
    CHECK_STR(norm(HUB_ID_PHONE, "13800138000", "s"), "phone:+8613800138000");
    CHECK_STR(norm(HUB_ID_PHONE, "+86 138-0013-8000", "s"),
              "phone:+8613800138000");
    CHECK_STR(norm(HUB_ID_PHONE, "0086 138 0013 8000", "s"),
              "phone:+8613800138000");
    CHECK_STR(norm(HUB_ID_PHONE, "8613800138000", "s"),
              "phone:+8613800138000");
    CHECK_STR(norm(HUB_ID_PHONE, "(021) 6123 4567", "s"),
              "phone:+862161234567");
    CHECK_STR(norm(HUB_ID_PHONE, "+1 (415) 555-2671 ext. 12", "s"),
              "phone:+14155552671");
    CHECK_STR(norm(HUB_ID_PHONE, "0000000", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_PHONE, "+86 00000000000", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_PHONE, "12345", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_PHONE, "call me", "s"), "(rejected)");
    CHECK_STR(norm(HUB_ID_PHONE, "+1234567890123456", "s"), "(rejected)");
    char out[32];
    int us = hub_phone_region("US"), gb = hub_phone_region("gb");
    REQUIRE(us >= 0 && gb >= 0);
    CHECK(hub_phone_e164("(415) 555-2671", 14, us, out, sizeof out) > 0);
    CHECK_STR(out, "+14155552671");
    CHECK(hub_phone_e164("1-415-555-2671", 14, us, out, sizeof out) > 0);
    CHECK_STR(out, "+14155552671");
    CHECK(hub_phone_e164("011 44 20 7946 0958", 19, us, out, sizeof out) > 0);
    CHECK_STR(out, "+442079460958");
    CHECK(hub_phone_e164("020 7946 0958", 13, gb, out, sizeof out) > 0);
    CHECK_STR(out, "+442079460958");
    CHECK_INT(hub_phone_region("XX"), -1);
}

TEST(handles_and_ids_are_namespaced) {
    CHECK_STR(norm(HUB_ID_SOCIAL_HANDLE, "Weibo:@Mei_Tea", "x"),
              "social_handle:weibo:mei_tea");
    CHECK_STR(norm(HUB_ID_SOCIAL_HANDLE, "@Mei_Tea", "weibo"),
              "social_handle:weibo:mei_tea");
    CHECK_STR(norm(HUB_ID_CRM_CONTACT, "1246978", "hubspot"),
              "crm_contact:hubspot:1246978");
    CHECK_STR(norm(HUB_ID_CRM_CONTACT, "salesforce:003AbC", "hubspot"),
              "crm_contact:salesforce:003AbC");
    /* WeChat ids keep their case; the fixture's unionid has a space */
    CHECK_STR(norm(HUB_ID_WECHAT_UNIONID, " o6_bmasdasdsad6_2sgVt7hMZOPfL",
                   "wechat"),
              "wechat_unionid:o6_bmasdasdsad6_2sgVt7hMZOPfL");
}

TEST(blocklist_and_link_kinds_decide_what_links) {
    CHECK(hub_ident_links(&rules, HUB_ID_EMAIL, "email:ann@example.com",
                          "ann@example.com", 15));
    CHECK(!hub_ident_links(&rules, HUB_ID_EMAIL, "email:info@example.com",
                           "Info@Example.com", 16));
    /* crm_lead is not among the default link kinds */
    CHECK(!hub_ident_links(&rules, HUB_ID_CRM_LEAD, "crm_lead:sf:00Q1",
                           "00Q1", 4));
}

/* Several patterns are matched as one alternation: each of them still
 * blocks, on the normalized value or on the raw one. */
TEST(every_blocklist_pattern_blocks_on_the_value_or_the_raw_one) {
    const char *yaml = "identity:\n"
                       "  link_kinds: [email, social_handle]\n"
                       "  blocklist: [\"^noreply@\", \"^@\", "
                       "\"@spam[.]example$\"]\n";
    hub_config_t *cfg = NULL;
    char err[256];
    CHECK_INT(hub_config_parse("t", yaml, strlen(yaml), &cfg, err, sizeof err),
              0);
    hub_ident_rules_t r;
    CHECK_INT(hub_ident_rules_init(&r, &cfg->identity, err, sizeof err), 0);
    CHECK(!hub_ident_links(&r, HUB_ID_EMAIL, "email:noreply@shop.example",
                           "NoReply@Shop.example", 20));
    CHECK(!hub_ident_links(&r, HUB_ID_EMAIL, "email:ann@spam.example",
                           "ann@spam.example", 16));
    /* the normalized handle lost its '@': only the raw value matches */
    CHECK(!hub_ident_links(&r, HUB_ID_SOCIAL_HANDLE, "social_handle:weibo:brand",
                           " @Brand", 7));
    CHECK(hub_ident_links(&r, HUB_ID_SOCIAL_HANDLE, "social_handle:weibo:brand",
                          "Brand", 5));
    CHECK(hub_ident_links(&r, HUB_ID_EMAIL, "email:ann@example.com",
                          "Ann@Example.com", 15));
    hub_ident_rules_free(&r);
    hub_config_free(cfg);
}

static int seg(const char *expr, const hub_seg_value_t *v, size_t n) {
    hub_segment_t *s = NULL;
    char err[256];
    if (hub_segment_compile(expr, &s, err, sizeof err)) {
        FAIL_AT("%s: %s", expr, err);
        return -1;
    }
    hub_seg_env_t env = {v, n};
    int r = hub_segment_eval(s, &env);
    hub_segment_free(s);
    return r;
}

TEST(segment_rules_compare_paths_of_the_view) {
    hub_seg_value_t v[] = {
        {"orders.revenue.CNY", 1, 1500000, NULL},
        {"service.tickets_open", 1, 2, NULL},
        {"social.sentiment_mean", 1, -0.25, NULL},
        {"profile.region", 0, 0, "CN-SH"},
    };
    CHECK_INT(seg("orders.revenue.CNY >= 1000000", v, 4), 1);
    CHECK_INT(seg("service.tickets_open > 0 and social.sentiment_mean < 0",
                  v, 4),
              1);
    CHECK_INT(seg("orders.revenue.USD > 0", v, 4), 0); /* missing: false */
    CHECK_INT(seg("not (profile.region == 'CN-SH') or orders.count", v, 4),
              0);
    CHECK_INT(seg("profile.region != \"CN-BJ\" and service.tickets_open", v,
                  4),
              1);
    hub_segment_t *s = NULL;
    char err[256];
    CHECK(hub_segment_compile("orders.count >=", &s, err, sizeof err) != 0);
    CHECK_STR(err, "at column 16: expected a path, a number, a 'string', "
                   "true, false or null");
    CHECK(hub_segment_compile("a > 1 b", &s, err, sizeof err) != 0);
    CHECK_STR(err, "at column 7: expected 'and', 'or' or the end of the rule");
}
