/*
 * hub360 - JSON output in the canonical form, and small helpers around
 * jansson for input.
 *
 * Canonical output is compact (no spaces), keeps the field order it is
 * given, writes non-ASCII as raw UTF-8 and escapes only what JSON requires
 * (", \, control characters as \b \f \n \r \t or \u00xx). Doubles print in
 * their shortest round-trip form with a ".0" when integral (0.8, -0.35,
 * 2.0). This is byte-for-byte what Python's json.dumps(ensure_ascii=False,
 * separators=(',', ':')) prints, so examples can be written by hand.
 */
#ifndef HUB_JSON_H
#define HUB_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends s[0..len) as a quoted JSON string. The input must be UTF-8. */
int hub_json_put_str(hub_buf_t *b, const char *s, size_t len);
int hub_json_put_cstr(hub_buf_t *b, const char *s);
int hub_json_put_int(hub_buf_t *b, int64_t v);
/* Fails with HUB_EINVAL for NaN and infinities, which JSON cannot hold. */
int hub_json_put_double(hub_buf_t *b, double v);
/* Appends `"key":` (with a leading comma unless *first, which it clears). */
int hub_json_put_key(hub_buf_t *b, const char *key, int *first);

/* The body the API answers for a customer view: view[0..len) (a JSON
 * object) as is, or with "resolved_from": from as its first member when
 * from is not NULL (the view was asked for by alias or identity). */
int hub_json_view_answer(hub_buf_t *out, const char *view, size_t len,
                         const char *from);

/* The timeline document `get --timeline` prints and the API answers:
 * {"customer_id", "items": <items JSON array>, "next": cursor or null}. */
int hub_json_timeline_doc(hub_buf_t *out, const char *id, const char *items,
                          size_t len, const char *next);

/* Appends a jansson value in canonical form (object keys in their order). */
int hub_json_put_value(hub_buf_t *b, const json_t *v);

/*
 * Describes a value for an error message: `string "12.5"`, `number 12.5`,
 * `object`, `array`, `true`, `null`. Long strings are shortened.
 */
void hub_json_describe(const json_t *v, char *out, size_t outlen);

/* Checks that s[0..len) is valid UTF-8; returns the offset of the first
 * bad byte, or -1 when the whole text is valid. */
long hub_utf8_invalid_at(const char *s, size_t len);

#endif
