/*
 * hub360 - segment rules: small boolean expressions over a view.
 *
 *   vip:     orders.revenue.CNY >= 1000000
 *   at_risk: service.tickets_open > 0 and social.sentiment_mean < 0
 *
 * Grammar: or-expressions of and-expressions of `not`, comparisons
 * (>= > <= < == !=) and parentheses; operands are numbers, 'strings',
 * true, false, null and paths into the view (the view's JSON field
 * names joined by dots; per-currency amounts as orders.revenue.CNY).
 * A path the view does not have is null; a comparison with null is
 * false. An operand alone is true when it is set and not 0, false or "".
 */
#ifndef HUB_C360_SEGMENT_H
#define HUB_C360_SEGMENT_H

#include <stddef.h>

typedef struct hub_segment hub_segment_t;

/* Compiles expr; errors name the column at fault. */
int hub_segment_compile(const char *expr, hub_segment_t **out, char *err,
                        size_t errlen);
void hub_segment_free(hub_segment_t *s);

/* The values a rule can see: paths with numbers or strings. */
typedef struct hub_seg_value {
    const char *path;
    int is_num;
    double num;
    const char *str;
} hub_seg_value_t;

typedef struct hub_seg_env {
    const hub_seg_value_t *values;
    size_t n;
} hub_seg_env_t;

/* 1 when the view described by env is in the segment, else 0. */
int hub_segment_eval(const hub_segment_t *s, const hub_seg_env_t *env);

#endif
