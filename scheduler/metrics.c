/* ferry scheduler — Prometheus metrics (see metrics.h). */
#include "metrics.h"

#include "ferry/ledger.h"
#include "ferry/task.h"

#include <stdlib.h>
#include <string.h>

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.1.0"
#endif

int ferry_metrics_render(ferry_redis_t *r, ferry_buf_t *out, ferry_error_t *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = ferry_task_list(r, &names, &n);
    if (rc)
        return ferry_error_set(err, rc, "listing the tasks: %s", ferry_redis_error(r)->msg);
    rc = ferry_buf_addf(out,
                        "# HELP ferry_build_info The running ferry's version.\n"
                        "# TYPE ferry_build_info gauge\n"
                        "ferry_build_info{version=\"%s\"} 1\n"
                        "# HELP ferry_objects Objects of a task by ledger state.\n"
                        "# TYPE ferry_objects gauge\n",
                        FERRY_VERSION);
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        ferry_ledger_t *led = NULL;
        ferry_counters_t c;
        if ((rc = ferry_ledger_open(r, names[i], 0, &led)) != FERRY_OK)
            break;
        rc = ferry_ledger_counters(led, &c);
        ferry_ledger_free(led);
        for (int s = 0; rc == FERRY_OK && s < FERRY_STATE_COUNT; s++)
            rc = ferry_buf_addf(out, "ferry_objects{task=\"%s\",state=\"%s\"} %lld\n", names[i],
                                ferry_state_name(s), c.objects[s]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc == FERRY_ETOOBIG || rc == FERRY_ENOMEM)
        return ferry_error_set(err, rc, "the metrics page does not fit: %s", ferry_strerror(rc));
    if (rc)
        return ferry_error_set(err, rc, "reading the task counters: %s", ferry_redis_error(r)->msg);
    return FERRY_OK;
}
