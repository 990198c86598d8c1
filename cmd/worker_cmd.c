/* ferry worker — the long-running copy role (worker/worker.h does the work). */
#include "cli.h"

#include "worker.h"

#include "ferry/log.h"
#include "ferry/queue.h"
#include "ferry/redisd.h"
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

#define WORKER_TASKS_MAX 64

static const char USAGE[] =
    "usage: ferry worker [--task NAME]... [--concurrency N] [--consumer NAME | --slot N|auto]\n"
    "                    [--exit-when-idle] [--grace DUR] [--lease DUR] [--visibility DUR]\n"
    "                    [--max-attempts N] [--delivery-cap N] [--parts-per-job N]\n"
    "                    [--streams N] [--ring SIZE]\n"
    "                    [--janitor-age DUR|off] [--janitor-every DUR] [--log-level L]\n";

static int want_value(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        cli_error(CLI_USAGE, "worker: %s needs a value\n%s", argv[i], USAGE);
        return 0;
    }
    return 1;
}

static int parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (s[0] == '\0' || s[0] == '-' || *end != '\0' || v < lo || v > hi)
        return cli_error(CLI_USAGE, "worker: %s wants a whole number from %u to %u, not \"%s\"",
                         opt, lo, hi, s);
    *out = (unsigned)v;
    return 0;
}

static int parse_dur(const char *opt, const char *s, int64_t *out)
{
    if (ferry_duration_parse(s, out) != FERRY_OK || *out <= 0)
        return cli_error(CLI_USAGE,
                         "worker: %s wants a duration such as 30s, 5m or 500ms, "
                         "not \"%s\"",
                         opt, s);
    return 0;
}

int cmd_worker(cli_t *g, int argc, char **argv)
{
    ferry_worker_opts_t o;
    memset(&o, 0, sizeof(o));
    const char *tasks[WORKER_TASKS_MAX];
    size_t ntasks = 0;
    const char *consumer = NULL;
    unsigned slot = 0, u = 0;
    int slot_set = 0;
    ferry_log_level_t level = FERRY_LOG_INFO;
    for (int i = 1; i < argc;) {
        int r = cli_global_opt(g, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--exit-when-idle") == 0) {
            o.exit_when_idle = 1;
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return cli_error(CLI_USAGE, "worker: unexpected argument \"%s\"\n%s", a, USAGE);
        if (!want_value(argc, argv, i))
            return CLI_USAGE;
        const char *v = argv[i + 1];
        i += 2;
        if (strcmp(a, "--task") == 0) {
            if (!ferry_task_name_valid(v))
                return cli_error(CLI_USAGE, "worker: \"%s\" is not a task name", v);
            if (ntasks >= WORKER_TASKS_MAX)
                return cli_error(CLI_USAGE, "worker: at most %d --task options", WORKER_TASKS_MAX);
            tasks[ntasks++] = v;
        } else if (strcmp(a, "--concurrency") == 0) {
            if (parse_uint(a, v, 1, 4096, &o.concurrency))
                return CLI_USAGE;
        } else if (strcmp(a, "--parts-per-job") == 0) {
            if (parse_uint(a, v, 1, 256, &o.parts_per_job))
                return CLI_USAGE;
        } else if (strcmp(a, "--streams") == 0) {
            if (parse_uint(a, v, 1, 4096, &o.streams))
                return CLI_USAGE;
        } else if (strcmp(a, "--max-attempts") == 0 || strcmp(a, "--max-deliveries") == 0) {
            /* copies that ran and failed (--max-deliveries: the older name) */
            if (parse_uint(a, v, 1, 1000, &u))
                return CLI_USAGE;
            o.max_attempts = (int)u;
        } else if (strcmp(a, "--delivery-cap") == 0) {
            if (parse_uint(a, v, 1, 100000, &u))
                return CLI_USAGE;
            o.delivery_cap = (int)u;
        } else if (strcmp(a, "--consumer") == 0) {
            if (strlen(v) == 0 || strlen(v) > 100)
                return cli_error(CLI_USAGE, "worker: --consumer wants 1 to 100 characters");
            consumer = v;
        } else if (strcmp(a, "--slot") == 0) {
            if (strcmp(v, "auto") == 0)
                o.slot_auto = 1;
            else if (parse_uint(a, v, 0, 100000, &slot))
                return CLI_USAGE;
            slot_set = 1;
        } else if (strcmp(a, "--grace") == 0) {
            if (parse_dur(a, v, &o.grace_ms))
                return CLI_USAGE;
        } else if (strcmp(a, "--lease") == 0) {
            if (parse_dur(a, v, &o.lease_ms))
                return CLI_USAGE;
        } else if (strcmp(a, "--visibility") == 0) {
            if (parse_dur(a, v, &o.visibility_ms))
                return CLI_USAGE;
        } else if (strcmp(a, "--janitor-age") == 0) {
            if (strcmp(v, "off") == 0)
                o.janitor_age_ms = -1;
            else if (parse_dur(a, v, &o.janitor_age_ms))
                return CLI_USAGE;
        } else if (strcmp(a, "--janitor-every") == 0) {
            if (parse_dur(a, v, &o.janitor_every_ms))
                return CLI_USAGE;
        } else if (strcmp(a, "--ring") == 0) {
            uint64_t b;
            if (ferry_size_parse(v, &b) != FERRY_OK || b < 256 * 1024 || b > (1ull << 30))
                return cli_error(CLI_USAGE,
                                 "worker: --ring wants a size from 256KiB to 1GiB, not \"%s\"", v);
            o.ring_size = (size_t)b;
        } else if (strcmp(a, "--log-level") == 0) {
            if (ferry_log_level_parse(v, &level) != FERRY_OK)
                return cli_error(CLI_USAGE,
                                 "worker: --log-level wants debug, info, warn, error or off");
        } else {
            return cli_error(CLI_USAGE, "worker: unknown option %s\n%s", a, USAGE);
        }
    }
    if (consumer && slot_set)
        return cli_error(CLI_USAGE, "worker: give --consumer or --slot, not both");
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
    const char *url = g->redis_url;
    char priv[1200];
    ferry_error_t err;
    ferry_error_clear(&err);
    if (url == NULL || *url == '\0')
        url = getenv("FERRY_REDIS_URL");
    if (url == NULL || *url == '\0') {
        char dir[1024];
        if (ferry_redisd_state_dir(g->state_dir, dir, sizeof(dir)) != FERRY_OK)
            return cli_error(CLI_FAIL, "no state dir: set HOME, FERRY_STATE_DIR or --state-dir");
        if (ferry_redisd_ensure(dir, priv, sizeof(priv), NULL, &err) != FERRY_OK)
            return cli_error(CLI_FAIL, "%s", err.msg);
        url = priv;
    }
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
