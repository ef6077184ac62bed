/*
 * hub360 - qsort that accepts an empty (possibly NULL) array.
 *
 * qsort's base must not be NULL even when nmemb is 0 (C11 7.22.5), and
 * UBSan says so; lists here are often empty and unallocated.
 */
#ifndef HUB_SORT_H
#define HUB_SORT_H

#include <stdlib.h>

static inline void hub_sort(void *base, size_t n, size_t size,
                            int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

#endif
