/*
 * hub360 - mappings: jq programs from a vendor's JSON to canonical events.
 *
 * A mapping is a jq file of definitions (adapters/README.md): `events`
 * reads one vendor record and emits partial events; polling presets also
 * define poll_request, poll_response and poll_cursor. The prelude
 * (adapters/presets/prelude.jq) is prepended. Each entry point is
 * compiled once, with `$source` and `$meta` bound per call, so running a
 * mapping costs no parsing of the program.
 *
 * A mapping is not thread-safe (libjq's state is not): callers that run
 * one from several threads serialize (hub_mapping_lock) or make one per
 * thread.
 */
#ifndef HUB_MAPPING_H
#define HUB_MAPPING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hub_mapping hub_mapping_t;

/*
 * Compiles text[0..len) (a preset's or a mapping file's definitions;
 * `name` names it in messages) and its `events` entry (the polling
 * entries wait for hub_mapping_poll_check). HUB_EINVAL with
 * jq's message, its line numbers those of the file ("shopify.jq: line 12:
 * syntax error, ..."), or "does not define events". The caller frees
 * *out with hub_mapping_free.
 */
int hub_mapping_new(const char *name, const char *text, size_t len,
                    hub_mapping_t **out, char *err, size_t errlen);

/* Compiles the built-in preset `preset` (HUB_ENOENT if there is none). */
int hub_mapping_preset(const char *preset, hub_mapping_t **out, char *err,
                       size_t errlen);

/* Reads a mapping file and compiles it (errors name the file). */
int hub_mapping_load(const char *path, hub_mapping_t **out, char *err,
                     size_t errlen);

void hub_mapping_free(hub_mapping_t *m);

/* The name it was compiled under. Valid while m lives. */
const char *hub_mapping_name(const hub_mapping_t *m);

/* 1 when the mapping defines the polling entry points, 0 when it defines
 * none; HUB_EINVAL (named in err) when it defines some but not all, or
 * they do not compile. They are compiled on this first call (or the
 * first polling call), not with the mapping. */
int hub_mapping_poll_check(hub_mapping_t *m, char *err, size_t errlen);

/*
 * Runs `events` on record with $source and $meta bound (borrowed JSON
 * objects) and appends every emitted value to out (a JSON array; new
 * references). A jq runtime error is HUB_EINVAL with jq's message; a
 * value that is not an object is HUB_EINVAL too ("events emitted a
 * string, not an object"). On error out may hold the values emitted
 * before it: callers treat the record as failed as a whole.
 */
int hub_mapping_events(hub_mapping_t *m, const json_t *record,
                       const json_t *source, const json_t *meta, json_t *out,
                       char *err, size_t errlen);

/*
 * Polling entry points (HUB_ENOENT when the mapping does not poll).
 * poll_resources: *out is an array of strings.
 * poll_request: resource, cursor (NULL: first sync), page (NULL: first
 *   page), params (an object) -> *out the request object.
 * poll_response: body, resource, page -> *out {records: [...], next}.
 * poll_cursor: record, resource -> *out {at, id}.
 * *out is a new reference on success.
 */
int hub_mapping_poll_resources(hub_mapping_t *m, const json_t *source,
                               json_t **out, char *err, size_t errlen);
int hub_mapping_poll_request(hub_mapping_t *m, const json_t *source,
                             const char *resource, const json_t *cursor,
                             const json_t *page, const json_t *params,
                             json_t **out, char *err, size_t errlen);
int hub_mapping_poll_response(hub_mapping_t *m, const json_t *source,
                              const char *resource, const json_t *page,
                              const json_t *body, json_t **out, char *err,
                              size_t errlen);
int hub_mapping_poll_cursor(hub_mapping_t *m, const json_t *source,
                            const char *resource, const json_t *record,
                            json_t **out, char *err, size_t errlen);

/*
 * Evaluates any jq expression over the mapping's definitions, with
 * $source and $meta bound and `.` = input, collecting every output in an
 * array (*out, new reference). For tests and `hub360 map --eval`.
 */
int hub_mapping_eval(hub_mapping_t *m, const char *expr, const json_t *input,
                     const json_t *source, const json_t *meta, json_t **out,
                     char *err, size_t errlen);

/* Serializes callers that share one mapping across threads. */
void hub_mapping_lock(hub_mapping_t *m);
void hub_mapping_unlock(hub_mapping_t *m);

#endif
