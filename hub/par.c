/*
 * hub360 - spreading the iterations of a loop over the machine's cores.
 *
 * Threads are started per call and joined before it returns: a call is
 * made once or twice per batch, and starting a thread costs tens of
 * microseconds against a batch's hundreds of milliseconds, which keeps
 * this free of queues, pools and shutdown order.
 */
#include "par.h"

#include <pthread.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static size_t cores;

static void count_cores(void) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    cores = c < 1 ? 1 : c > HUB_PAR_MAX ? HUB_PAR_MAX : (size_t)c;
}

size_t hub_par_threads(void) {
    pthread_once(&once, count_cores);
    return cores;
}

typedef struct task {
    void (*fn)(void *, size_t, size_t);
    void *arg;
    size_t t, nt;
} task;

static void *run_task(void *p) {
    task *k = p;
    k->fn(k->arg, k->t, k->nt);
    return NULL;
}

void hub_par_run(size_t max, void (*fn)(void *arg, size_t t, size_t nt),
                 void *arg) {
    size_t nt = hub_par_threads();
    if (max && nt > max)
        nt = max;
    task tasks[HUB_PAR_MAX];
    pthread_t th[HUB_PAR_MAX];
    int started[HUB_PAR_MAX] = {0};
    for (size_t t = 1; t < nt; t++) {
        tasks[t] = (task){fn, arg, t, nt};
        started[t] = pthread_create(&th[t], NULL, run_task, &tasks[t]) == 0;
    }
    fn(arg, 0, nt);
    for (size_t t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            fn(arg, t, nt);
    }
}
