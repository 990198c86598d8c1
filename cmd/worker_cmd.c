/* ferry worker — the long-running copy role (worker/worker.h does the work). */
#include "cli.h"

#include "worker.h"

#include "ferry/log.h"
#include "ferry/queue.h"
#include "ferry/task.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

int cmd_worker(cli_t *g, const cli_args_t *a)
{
    ferry_worker_opts_t o;
    memset(&o, 0, sizeof(o));
    const char *tasks[CLI_MANY_MAX];
    size_t ntasks = 0;
    const char *consumer = a->v[O_CONSUMER].str;
    unsigned slot = 0;
    int slot_set = a->v[O_SLOT].set;
    ferry_log_level_t level = FERRY_LOG_INFO;
    for (int i = 0; i < a->nmany; i++) { /* --task, repeatable */
        if (!ferry_task_name_valid(a->many[i]))
            return cli_error(CLI_USAGE, "worker: \"%s\" is not a task name (see ferry task ls)",
                             a->many[i]);
        tasks[ntasks++] = a->many[i];
    }
    /* values already checked against their bounds by cli_parse */
    o.exit_when_idle = a->v[O_EXIT_WHEN_IDLE].set;
    o.concurrency = (unsigned)a->v[O_CONCURRENCY].num;
    o.parts_per_job = (unsigned)a->v[O_PARTS_PER_JOB].num;
    o.streams = (unsigned)a->v[O_STREAMS].num;
    o.max_attempts = (int)a->v[O_MAX_ATTEMPTS].num;
    o.delivery_cap = (int)a->v[O_DELIVERY_CAP].num;
    o.grace_ms = a->v[O_GRACE].num;
    o.lease_ms = a->v[O_LEASE].num;
    o.visibility_ms = a->v[O_VISIBILITY].num;
    o.janitor_age_ms = a->v[O_JANITOR_AGE].word ? -1 : a->v[O_JANITOR_AGE].num;
    o.janitor_every_ms = a->v[O_JANITOR_EVERY].num;
    o.ring_size = (size_t)a->v[O_RING].size;
    o.md5_hold = (uint64_t)a->v[O_MD5_HOLD].size;
    o.peers = a->v[O_PEERS].set ? (unsigned)a->v[O_PEERS].num : 1;
    if (a->v[O_SLOT].word)
        o.slot_auto = 1;
    else
        slot = (unsigned)a->v[O_SLOT].num;
    if (consumer && (strlen(consumer) == 0 || strlen(consumer) > 100))
        return cli_error(CLI_USAGE, "worker: --consumer wants 1 to 100 characters");
    if (a->v[O_LOG_LEVEL].set && ferry_log_level_parse(a->v[O_LOG_LEVEL].str, &level) != FERRY_OK)
        return cli_error(CLI_USAGE, "worker: --log-level wants debug, info, warn, error or off");
    if (consumer && slot_set)
        return cli_error(CLI_USAGE, "worker: give --consumer or --slot, not both");
    ferry_log_format_t lf = FERRY_LOG_TEXT;
    if (a->v[O_LOG_FORMAT].set && ferry_log_format_parse(a->v[O_LOG_FORMAT].str, &lf) != FERRY_OK)
        return cli_error(CLI_USAGE, "worker: --log-format wants text or json");
    ferry_log_set_format(lf);
    ferry_log_setup(level, 2);
    char cname[160];
    if (consumer == NULL && !o.slot_auto) {
        if (ferry_queue_consumer_name(cname, sizeof(cname), NULL, (int)slot) != FERRY_OK)
            return cli_error(CLI_FAIL, "worker: cannot make a consumer name (set "
                                       "FERRY_HOSTNAME or pass --consumer)");
        consumer = cname;
    }
    /* A worker of ferry sync drains and stops (as on SIGTERM) when that sync dies, even by
     * SIGKILL, instead of working on alone against a Redis nobody watches any more. */
    const char *sync_pid = getenv("FERRY_SYNC_PID");
    if (sync_pid && *sync_pid) {
        long sp = strtol(sync_pid, NULL, 10);
#ifdef __linux__
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
            return cli_error(CLI_FAIL, "worker: cannot ask to be stopped with ferry sync: %s",
                             strerror(errno));
#endif
        if ((long)getppid() != sp)
            return cli_error(CLI_FAIL,
                             "worker: the ferry sync that started this worker (pid "
                             "%ld) is gone: nothing to do",
                             sp);
    }
    /* The Redis URL: the feeder thread opens its own connection with it. */
    char url[1200];
    ferry_error_t err;
    ferry_error_clear(&err);
    if (cli_redis_url(g, url, sizeof(url), &err) != FERRY_OK)
        return cli_error(CLI_FAIL, "worker: %s", err.msg);
    o.redis_url = url;
    o.consumer = consumer;
    o.tasks = ntasks ? tasks : NULL;
    o.ntasks = ntasks;
    int rc = ferry_worker_run(&o, &err);
    if (rc != FERRY_OK)
        return cli_error(rc == FERRY_EINVAL ? CLI_USAGE : CLI_FAIL, "worker: %s",
                         err.msg[0] ? err.msg : ferry_strerror(rc));
    return CLI_OK;
}
