/*
 * hub360 - what most commands set up first: the schema catalogue, a
 * codec, the resolved broker address and, when asked, a producer.
 */
#ifndef HUB_SESSION_H
#define HUB_SESSION_H

#include "bus.h"
#include "catalog.h"
#include "cli.h"
#include "codec.h"

enum {
    HUB_SESSION_BROKER = 1,   /* resolve the broker address */
    HUB_SESSION_PRODUCER = 2, /* and create a producer (implies BROKER) */
    HUB_SESSION_TOPICS = 4,   /* and create missing topics (implies PRODUCER) */
    HUB_SESSION_QUIET = 8,    /* a failure is not printed (the caller
                                 has a way around it) */
};

typedef struct hub_session {
    hub_catalog_t *cat;
    hub_codec_t *codec;
    char *bootstrap;          /* NULL unless HUB_SESSION_BROKER */
    hub_producer_t *producer; /* NULL unless HUB_SESSION_PRODUCER */
} hub_session_t;

/* Opens what flags ask for, using cli->cfg. On failure prints the error
 * and returns an exit code (nonzero); the session is then closed. */
int hub_session_open(hub_cli_t *cli, int flags, hub_session_t *s);
void hub_session_close(hub_session_t *s);

/* Topic name for events of kind k: "<prefix><kind>.events". */
void hub_session_event_topic(const hub_config_t *cfg, hub_topic_kind k,
                             char *out, size_t outlen);

#endif
