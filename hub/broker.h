/*
 * hub360 - the embedded broker: librdkafka's mock cluster in-process.
 *
 * `kafka.brokers: embedded` (the default) runs this so hub360 works out of
 * the box, with kcat or any Kafka client able to connect to the address it
 * prints. It keeps about 5 MB per partition in memory and nothing across
 * restarts: for the quick start, demos, tests and benchmarks, never for
 * data that must survive. Production points kafka.brokers at a cluster.
 *
 * A running embedded broker writes its address to DATA_DIR/broker.addr,
 * so other hub360 commands on the same data dir (publish, tail, ...) with
 * `kafka.brokers: embedded` connect to it.
 */
#ifndef HUB_BROKER_H
#define HUB_BROKER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stddef.h>

#include "config.h"

typedef struct hub_broker hub_broker_t;

/*
 * Starts a mock cluster of `brokers` brokers and creates the hub's topics
 * with `partitions` partitions each (kafka.topic_prefix from cfg). When
 * data_dir is not NULL, advertises the address in DATA_DIR/broker.addr.
 */
int hub_broker_start(const hub_config_t *cfg, int brokers, long partitions,
                     const char *data_dir, hub_broker_t **out, char *err,
                     size_t errlen);
/* Stops the cluster (all its data is gone) and removes broker.addr. */
void hub_broker_stop(hub_broker_t *b);

/* "127.0.0.1:PORT[,...]"; valid until stop. */
const char *hub_broker_bootstrap(const hub_broker_t *b);
/* For fault injection in tests (borrowed). */
rd_kafka_mock_cluster_t *hub_broker_mock(hub_broker_t *b);

/*
 * Resolves cfg->kafka.brokers to a bootstrap list: itself, or for
 * "embedded" the address a running embedded broker advertised in
 * DATA_DIR/broker.addr. HUB_ENOENT with advice when none is running.
 * *out is malloc'd.
 */
int hub_broker_resolve(const hub_config_t *cfg, char **out, char *err,
                       size_t errlen);

#endif
