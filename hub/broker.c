/*
 * hub360 - the embedded broker.
 */
#include "broker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "bus.h"
#include "errors.h"
#include "log.h"
#include "fsutil.h"

struct hub_broker {
    rd_kafka_t *rk; /* the handle the mock cluster hangs off */
    rd_kafka_mock_cluster_t *mcluster;
    char *bootstrap;
    char *addr_file;
    int lock_fd;    /* DATA_DIR/broker.lock, held while it runs; or -1 */
};

/* One embedded broker per data directory: a second one would replace
 * broker.addr, and the clients of the first would lose it. The lock is
 * the kernel's, so it goes with the process however that ends. */
static int lock_data_dir(hub_broker_t *b, const char *data_dir, char *err,
                         size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/broker.lock", data_dir);
    b->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (b->lock_fd < 0)
        return hub_fail(err, errlen, HUB_EIO, "%s: %s", path, strerror(errno));
    if (flock(b->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int e = errno;
    close(b->lock_fd);
    b->lock_fd = -1;
    if (e != EWOULDBLOCK)
        return hub_fail(err, errlen, HUB_EIO, "%s: %s", path, strerror(e));
    long pid = 0;
    char addr[1024] = "?";
    snprintf(path, sizeof path, "%s/broker.addr", data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld %1023s", &pid, addr) != 2)
            pid = 0;
        fclose(f);
    }
    return hub_fail(err, errlen, HUB_ESTATE,
                    "an embedded broker (pid %ld) already runs for data dir "
                    "%s, at %s: use it, or stop it first",
                    pid, data_dir, addr);
}

int hub_broker_start(const hub_config_t *cfg, int brokers, long partitions,
                     const char *data_dir, hub_broker_t **out, char *err,
                     size_t errlen) {
    *out = NULL;
    hub_broker_t *b = calloc(1, sizeof *b);
    if (!b)
        return HUB_ENOMEM;
    b->lock_fd = -1;
    if (data_dir) {
        if (hub_mkdir_p(data_dir)) {
            int rc = hub_fail(err, errlen, HUB_EIO, "%s: %s", data_dir,
                              strerror(errno));
            free(b);
            return rc;
        }
        int rc = lock_data_dir(b, data_dir, err, errlen);
        if (rc) {
            free(b);
            return rc;
        }
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the host handle never connects anywhere itself */
    rd_kafka_conf_set(conf, "bootstrap.servers", "", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    int rc = 0;
    if (!b->rk) {
        rd_kafka_conf_destroy(conf);
        rc = hub_fail(err, errlen, HUB_EKAFKA, "embedded broker: %s", errstr);
        goto fail;
    }
    b->mcluster = rd_kafka_mock_cluster_new(b->rk, brokers);
    if (!b->mcluster) {
        rc = hub_fail(err, errlen, HUB_EKAFKA,
                      "embedded broker: could not start the mock cluster");
        goto fail;
    }
    if (!(b->bootstrap = strdup(rd_kafka_mock_cluster_bootstraps(b->mcluster)))) {
        rc = HUB_ENOMEM;
        goto fail;
    }
    char names[HUB_BUS_NTOPICS][256];
    hub_bus_topic_names(cfg, names);
    for (int i = 0; i < HUB_BUS_NTOPICS; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
            b->mcluster, names[i], (int)partitions, brokers < 3 ? brokers : 3);
        if (e) {
            rc = hub_fail(err, errlen, HUB_EKAFKA,
                          "embedded broker: topic %s: %s", names[i],
                          rd_kafka_err2str(e));
            goto fail;
        }
    }
    if (data_dir) {
        hub_buf_t path = HUB_BUF_INIT;
        hub_buf_printf(&path, "%s/broker.addr", data_dir);
        b->addr_file = hub_buf_steal(&path, NULL);
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", b->addr_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%ld %s\n", (long)getpid(), b->bootstrap) < 0 ||
            fclose(f) || rename(tmp, b->addr_file)) {
            rc = hub_fail(err, errlen, HUB_EIO, "%s: %s", b->addr_file,
                          strerror(errno));
            free(b->addr_file);
            b->addr_file = NULL;
            goto fail;
        }
    }
    hub_log_info("broker",
                 "embedded broker (librdkafka mock cluster, in memory only) "
                 "at %s with %ld partitions per topic",
                 b->bootstrap, partitions);
    *out = b;
    return 0;
fail:
    hub_broker_stop(b);
    return rc;
}

void hub_broker_stop(hub_broker_t *b) {
    if (!b)
        return;
    if (b->addr_file) {
        unlink(b->addr_file);
        free(b->addr_file);
    }
    if (b->mcluster)
        rd_kafka_mock_cluster_destroy(b->mcluster);
    if (b->rk)
        rd_kafka_destroy(b->rk);
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    free(b->bootstrap);
    free(b);
}

const char *hub_broker_bootstrap(const hub_broker_t *b) {
    return b->bootstrap;
}

rd_kafka_mock_cluster_t *hub_broker_mock(hub_broker_t *b) {
    return b->mcluster;
}

int hub_broker_resolve(const hub_config_t *cfg, char **out, char *err,
                       size_t errlen) {
    *out = NULL;
    if (!hub_config_embedded(cfg)) {
        *out = strdup(cfg->kafka.brokers);
        return *out ? 0 : HUB_ENOMEM;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/broker.addr", cfg->data_dir);
    FILE *f = fopen(path, "r");
    long pid = 0;
    char addr[1024] = "";
    int ok = f && fscanf(f, "%ld %1023s", &pid, addr) == 2;
    if (f)
        fclose(f);
    if (ok && pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
        *out = strdup(addr);
        return *out ? 0 : HUB_ENOMEM;
    }
    return hub_fail(err, errlen, HUB_ENOENT,
                    "kafka.brokers is \"embedded\" but no embedded broker is "
                    "running for data dir %s: start one with `hub360 broker` "
                    "or `hub360 up`, or pass --brokers HOST:PORT",
                    cfg->data_dir);
}
