/*
 * hub360 - the reporting projection's configuration (the `reporting`
 * section).
 */
#ifndef HUB_REPORT_CONFIG_H
#define HUB_REPORT_CONFIG_H

#include "cfgmap.h"

typedef struct hub_reporting_config {
    char *time_zone; /* IANA name of the business days' zone */
} hub_reporting_config_t;

extern const hub_cfg_entry_t hub_reporting_config_map[];

#endif
