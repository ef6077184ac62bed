/*
 * hub360 - small filesystem helpers shared by the broker and the stores.
 */
#ifndef HUB_FSUTIL_H
#define HUB_FSUTIL_H

/* Creates dir and any missing parents (mode 0755), like `mkdir -p`.
 * 0, or -1 with errno set. */
int hub_mkdir_p(const char *dir);

#endif
