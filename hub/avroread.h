/*
 * hub360 - reading Avro binary in place, without building values.
 *
 * The projector reads a handful of fields out of every event; decoding
 * into avro-c values would copy every string. A hub_arec_t instead records
 * where each field of a record starts in the buffer and hands out pointers
 * into it. The bytes must have passed hub_avro_validate against the same
 * schema (the getters still never read past the buffer). Pointers returned
 * live as long as the buffer.
 */
#ifndef HUB_AVROREAD_H
#define HUB_AVROREAD_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

#define HUB_AREC_MAXFIELDS 48

typedef struct hub_arec {
    const hub_snode_t *node;  /* a record */
    const uint8_t *buf;
    size_t len;
    uint32_t off[HUB_AREC_MAXFIELDS]; /* where each field's value starts */
    uint32_t end;             /* offset just past the record */
} hub_arec_t;

/* Opens the record of type node that starts at offset `at` of buf.
 * HUB_EDECODE if the bytes run out; HUB_EINVAL for too many fields. */
int hub_arec_open(hub_arec_t *r, const hub_snode_t *node, const void *buf,
                  size_t len, size_t at);

/* Index of the field called name in a record node, or -1. */
int hub_snode_field(const hub_snode_t *record, const char *name);

/*
 * Getters for field i. Optional fields (a union with null) return 0 when
 * null and 1 when set; required fields always return 1. They return -1
 * when the field is not of the asked type.
 */
int hub_arec_str(const hub_arec_t *r, int i, const char **s, size_t *len);
int hub_arec_long(const hub_arec_t *r, int i, int64_t *v); /* int or long */
int hub_arec_double(const hub_arec_t *r, int i, double *v);
int hub_arec_bool(const hub_arec_t *r, int i, int *v);
int hub_arec_enum(const hub_arec_t *r, int i, int *v);
int hub_arec_rec(const hub_arec_t *r, int i, hub_arec_t *sub);
/* For a union of records (the envelope's payload): the branch index. */
int hub_arec_branch(const hub_arec_t *r, int i, int *branch,
                    hub_arec_t *sub);

/* Arrays: iterate the items of field i. */
typedef struct hub_aiter {
    const hub_snode_t *items;
    const uint8_t *buf;
    size_t len, pos;
    int64_t left;       /* items left in the current block */
} hub_aiter_t;

int hub_arec_array(const hub_arec_t *r, int i, hub_aiter_t *it);
/* Next item: 1 with *at its offset, 0 at the end, -1 on bad bytes. */
int hub_aiter_next(hub_aiter_t *it, size_t *at);
/* The string item at offset at (of an array of strings). */
int hub_aiter_str(const hub_aiter_t *it, size_t at, const char **s,
                  size_t *len);

#endif
