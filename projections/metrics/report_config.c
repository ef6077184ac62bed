/*
 * hub360 - the reporting projection's configuration table.
 */
#include "report_config.h"

#include <stdio.h>

#include "tz.h"

/* The zone must load: a name that is not one is refused at load, with
 * the file the projector would have read. */
static int check_zone(const void *value, char *msg, size_t msglen) {
    const char *name = *(char *const *)value;
    hub_tz_t *tz = NULL;
    if (!name)
        return 0;
    int rc = hub_tz_load(name, &tz, msg, msglen);
    hub_tz_free(tz);
    return rc ? -1 : 0;
}

#define R hub_reporting_config_t
const hub_cfg_entry_t hub_reporting_config_map[] = {
    HUB_CFG(HUB_CFG_STR, "time_zone", "UTC", R, time_zone,
            "IANA time zone (Asia/Shanghai, Europe/Berlin) of the business "
            "days of the daily report, read from /usr/share/zoneinfo with "
            "its daylight saving rules; every figure is also kept by UTC "
            "day. Changing it applies to events folded from then on: "
            "`hub360 rebuild` recounts the past.",
            .check = check_zone),
    {0},
};
#undef R
