/*
 * hub360 - spreading the iterations of a loop over the machine's cores.
 *
 * The projector applies a batch on one thread (LMDB has one writer), but
 * some of a batch's work is pure computation over data in memory
 * (decoding its messages, the views of the customers it changed, sorting
 * its writes): that part runs on as many threads as there are cores, up
 * to a small cap.
 */
#ifndef HUB_PAR_H
#define HUB_PAR_H

#include <stddef.h>

#define HUB_PAR_MAX 4 /* threads one loop uses at most */

/* The number of threads hub_par_for uses: the online cores, at least 1,
 * at most HUB_PAR_MAX. */
size_t hub_par_threads(void);

/*
 * Calls fn(arg, i, t) once for every i in [0, n) and returns when every
 * call has returned. The calling thread (t 0) and up to
 * min(max, hub_par_threads()) - 1 others (t 1, 2, ...; max 0: no cap)
 * take the items in turns of `chunk`; the calls of one t are made one
 * after the other on one thread, so fn may use state of t's own. A
 * thread the machine does not get round to running holds up at most the
 * turn it took, and one that cannot be started takes none: never fails.
 */
void hub_par_for(size_t n, size_t chunk, size_t max,
                 void (*fn)(void *arg, size_t i, size_t t), void *arg);

#endif
