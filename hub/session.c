/*
 * hub360 - common command set-up.
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "errors.h"

int hub_session_open(hub_cli_t *cli, int flags, hub_session_t *s) {
    memset(s, 0, sizeof *s);
    char err[1024];
    const hub_config_t *cfg = cli->cfg;
    if (hub_catalog_open(&cfg->schema_registry, &s->cat, err, sizeof err) ||
        hub_codec_new(s->cat, cfg->kafka.topic_prefix, &s->codec, err,
                      sizeof err))
        goto fail;
    if (flags & (HUB_SESSION_BROKER | HUB_SESSION_PRODUCER |
                 HUB_SESSION_TOPICS)) {
        if (hub_broker_resolve(cfg, &s->bootstrap, err, sizeof err))
            goto fail;
    }
    if (flags & HUB_SESSION_TOPICS) {
        rd_kafka_t *admin = hub_bus_admin_new(cfg, s->bootstrap, err,
                                              sizeof err);
        int rc = admin ? hub_bus_ensure_topics(admin, cfg, 10000, err,
                                               sizeof err)
                       : HUB_EKAFKA;
        if (admin)
            rd_kafka_destroy(admin);
        if (rc)
            goto fail;
    }
    if (flags & (HUB_SESSION_PRODUCER | HUB_SESSION_TOPICS)) {
        if (hub_producer_new(cfg, s->bootstrap, &s->producer, err,
                             sizeof err))
            goto fail;
    }
    if (flags & HUB_SESSION_TOPICS) { /* they exist now */
        char names[HUB_BUS_NTOPICS][256];
        const char *topics[HUB_BUS_NTOPICS];
        hub_bus_topic_names(cfg, names);
        for (int i = 0; i < HUB_BUS_NTOPICS; i++)
            topics[i] = names[i];
        hub_producer_know_topics(s->producer, topics, HUB_BUS_NTOPICS);
    }
    return 0;
fail:
    hub_session_close(s);
    if (flags & HUB_SESSION_QUIET)
        return HUB_EXIT_FAIL;
    return hub_cli_fail(cli, "%s", err);
}

void hub_session_close(hub_session_t *s) {
    hub_producer_free(s->producer);
    hub_codec_free(s->codec);
    hub_catalog_free(s->cat);
    free(s->bootstrap);
    memset(s, 0, sizeof *s);
}

void hub_session_event_topic(const hub_config_t *cfg, hub_topic_kind k,
                             char *out, size_t outlen) {
    snprintf(out, outlen, "%s%s.events", cfg->kafka.topic_prefix,
             hub_topic_kind_name(k));
}
