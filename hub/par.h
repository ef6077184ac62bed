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

/*
 * The same loop, started ahead: the helper threads take turns while the
 * caller goes on, and the caller asks for the items as it needs them,
 * in order. hub_par_need returns once item i's call has returned; while
 * it is not done the caller takes turns itself (as t 0), so it never
 * waits on a helper the machine does not run while turns are left.
 * hub_par_end hands out no more turns, waits for the calls in progress
 * and frees the loop: items nobody asked for may never be called (a
 * batch given up). NULL from hub_par_start (one core, no memory): the
 * caller has already made every call itself, and the other two do
 * nothing.
 */
typedef struct hub_par hub_par_t;
hub_par_t *hub_par_start(size_t n, size_t chunk, size_t max,
                         void (*fn)(void *arg, size_t i, size_t t),
                         void *arg);
void hub_par_need(hub_par_t *j, size_t i);
void hub_par_end(hub_par_t *j);

#endif
