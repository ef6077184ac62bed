/*
 * hub360 - spreading the iterations of a loop over the machine's cores.
 *
 * Threads are started per call, detached, and take turns of items from a
 * shared counter; the caller takes turns too and then waits for the turns
 * taken to finish, not for the threads to end. A loop started ahead
 * (hub_par_start) leaves the caller free until it asks for an item; each
 * turn then says when its calls have returned. On a busy machine a helper
 * may start late: it then finds nothing left and goes. The call's state
 * is on the heap, freed by whoever leaves it last. A call is made a few
 * times per batch; starting a thread costs tens of microseconds against
 * a batch's hundreds of milliseconds, which keeps this free of a pool and
 * its shutdown order.
 */
#include "par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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

typedef struct hub_par job;
struct hub_par {
    void (*fn)(void *, size_t, size_t);
    void *arg;
    size_t n, chunk;
    atomic_size_t next;     /* the first item no turn has taken */
    atomic_size_t next_t;   /* the index the next helper takes */
    atomic_int refs;        /* the caller and the helpers not gone */
    pthread_mutex_t lock;
    pthread_cond_t finished; /* a turn's calls returned */
    size_t done;            /* items whose calls returned (lock) */
    atomic_uchar *turn_done; /* hub_par_start: per turn, its calls
                                returned */
};

static void release(job *j) {
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->finished);
        free(j->turn_done);
        free(j);
    }
}

/* Takes the next turn and makes its calls; 0 when none is left. */
static int take_turn(job *j, size_t t) {
    size_t i = atomic_fetch_add(&j->next, j->chunk);
    if (i >= j->n)
        return 0;
    size_t end = j->n - i < j->chunk ? j->n : i + j->chunk;
    for (size_t k = i; k < end; k++)
        j->fn(j->arg, k, t);
    if (j->turn_done) /* before the lock: a waiter checks it under it */
        atomic_store_explicit(&j->turn_done[i / j->chunk], 1,
                              memory_order_release);
    pthread_mutex_lock(&j->lock);
    j->done += end - i;
    if (j->turn_done || j->done == j->n)
        pthread_cond_broadcast(&j->finished);
    pthread_mutex_unlock(&j->lock);
    return 1;
}

static void take_turns(job *j, size_t t) {
    while (take_turn(j, t))
        ;
}

static void *helper(void *p) {
    job *j = p;
    take_turns(j, atomic_fetch_add(&j->next_t, 1));
    release(j);
    return NULL;
}

/* A loop with its helpers started; NULL (every call made here) when it
 * gets no helper. */
static job *start(size_t n, size_t chunk, size_t max,
                  void (*fn)(void *arg, size_t i, size_t t), void *arg,
                  int ahead) {
    size_t nt = hub_par_threads();
    if (max && nt > max)
        nt = max;
    if (!chunk)
        chunk = 1;
    size_t turns = (n + chunk - 1) / chunk;
    if (nt > turns)
        nt = turns; /* no more threads than turns */
    job *j = nt > 1 ? calloc(1, sizeof *j) : NULL;
    if (j && ahead && !(j->turn_done = calloc(turns, 1))) {
        free(j);
        j = NULL;
    }
    if (!j) { /* one thread, or no memory for more: all here */
        for (size_t i = 0; i < n; i++)
            fn(arg, i, 0);
        return NULL;
    }
    j->fn = fn;
    j->arg = arg;
    j->n = n;
    j->chunk = chunk;
    atomic_init(&j->next, 0);
    atomic_init(&j->next_t, 1);
    atomic_init(&j->refs, 1);
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->finished, NULL);
    pthread_attr_t attr;
    int attr_made = pthread_attr_init(&attr) == 0;
    int attr_ok = attr_made && pthread_attr_setdetachstate(
                                   &attr, PTHREAD_CREATE_DETACHED) == 0;
    for (size_t t = 1; attr_ok && t < nt; t++) {
        pthread_t th;
        atomic_fetch_add(&j->refs, 1);
        if (pthread_create(&th, &attr, helper, j) != 0) {
            atomic_fetch_sub(&j->refs, 1);
            break;
        }
    }
    if (attr_made)
        pthread_attr_destroy(&attr);
    return j;
}

/* Waits until the calls of `items` items have returned, and frees. */
static void wait_release(job *j, size_t items) {
    pthread_mutex_lock(&j->lock);
    while (j->done < items)
        pthread_cond_wait(&j->finished, &j->lock);
    pthread_mutex_unlock(&j->lock);
    release(j);
}

void hub_par_for(size_t n, size_t chunk, size_t max,
                 void (*fn)(void *arg, size_t i, size_t t), void *arg) {
    job *j = start(n, chunk, max, fn, arg, 0);
    if (j) {
        take_turns(j, 0);
        wait_release(j, n);
    }
}

void hub_par_end(hub_par_t *j) {
    if (!j)
        return;
    /* the turns taken so far are all the items below what next was */
    size_t taken = atomic_exchange(&j->next, j->n);
    wait_release(j, taken < j->n ? taken : j->n);
}

hub_par_t *hub_par_start(size_t n, size_t chunk, size_t max,
                         void (*fn)(void *arg, size_t i, size_t t),
                         void *arg) {
    return start(n, chunk, max, fn, arg, 1);
}

void hub_par_need(hub_par_t *j, size_t i) {
    if (!j || i >= j->n)
        return;
    atomic_uchar *done = &j->turn_done[i / j->chunk];
    while (!atomic_load_explicit(done, memory_order_acquire)) {
        if (take_turn(j, 0))
            continue; /* a later turn, maybe: needed soon anyway */
        pthread_mutex_lock(&j->lock); /* a helper has it: wait */
        while (!atomic_load_explicit(done, memory_order_acquire))
            pthread_cond_wait(&j->finished, &j->lock);
        pthread_mutex_unlock(&j->lock);
    }
}
