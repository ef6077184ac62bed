/*
 * hub360 - spreading the iterations of a loop over the machine's cores.
 *
 * The projector applies a batch on one thread (LMDB has one writer), but
 * some of a batch's work is pure computation over data in memory (the
 * views of the customers it changed, sorting its writes): that part runs
 * on as many threads as there are cores, up to a small cap.
 */
#ifndef HUB_PAR_H
#define HUB_PAR_H

#include <stddef.h>

#define HUB_PAR_MAX 4 /* threads one loop uses at most */

/* The number of threads hub_par_run uses: the online cores, at least 1,
 * at most HUB_PAR_MAX. */
size_t hub_par_threads(void);

/*
 * Calls fn(arg, t, nt) for every t in [0, nt), nt = min(max,
 * hub_par_threads()) (max 0: no cap), t = 0 on the calling thread and
 * each other t on a thread of its own; returns when every call has
 * returned. fn must only touch what its t owns. When a thread cannot be
 * started, its call runs on the calling thread instead: never fails.
 */
void hub_par_run(size_t max, void (*fn)(void *arg, size_t t, size_t nt),
                 void *arg);

#endif
