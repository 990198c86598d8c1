/* One ferry worker serving several tasks: the event stream of every task is read before the
 * bulk stream of any. Three tasks with a bulk backlog each and one event job in the last task;
 * with one job slot, the event job is the first copy the worker makes, and every job of all
 * three tasks is done.
 * Then an idle worker of one task, waiting for work in XREADGROUP BLOCK: a SIGTERM ends that
 * wait with CLIENT UNBLOCK (Redis counts the call, and no client stays blocked) and the worker
 * exits 0. */
#include "test_worker_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The key of the first copy.done line of the log, or "". */
static void first_done(const char *logname, char *key, size_t n)
{
    char path[1024], line[4096];
    snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), logname);
    key[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "event=copy.done");
        const char *k = p ? strstr(p, " key=") : NULL;
        if (k == NULL)
            continue;
        k += 5;
        size_t len = strcspn(k, " \n");
        snprintf(key, n, "%.*s", (int)len, k);
        break;
    }
    fclose(f);
}

/* The integer after pat in Redis's INFO section; dflt when pat is not there, -1 on error. */
static long long info_after(wt_t *w, const char *section, const char *pat, long long dflt)
{
    redisReply *rep = NULL;
    long long v = dflt;
    if (ferry_redis_cmd(w->r, &rep, "INFO %s", section) != FERRY_OK)
        return -1;
    const char *p = rep->type == REDIS_REPLY_STRING ? strstr(rep->str, pat) : NULL;
    if (p)
        v = strtoll(p + strlen(pat), NULL, 10);
    freeReplyObject(rep);
    return v;
}

static long long blocked_clients(wt_t *w)
{
    return info_after(w, "clients", "blocked_clients:", -1);
}

/* How often Redis ran CLIENT UNBLOCK (INFO commandstats), 0 when never. */
static long long unblocks(wt_t *w)
{
    return info_after(w, "commandstats", "cmdstat_client|unblock:calls=", 0);
}

static void idle_sigterm(wt_t *w)
{
    const char *opts[] = {"--log-level", "info", NULL};
    long long unblocks0 = unblocks(w);
    pid_t p = wt_worker(w, "ta", "idle.log", opts);
    double end = wt_now() + 30;
    while (wt_now() < end && blocked_clients(w) < 1)
        usleep(20 * 1000);
    CHECK(blocked_clients(w) >= 1); /* the feeder waits for work */
    double t0 = wt_now();
    kill(p, SIGTERM);
    CHECK_INT(wt_wait(p, 30), 0);
    printf("idle worker: exited %.3f s after SIGTERM\n", wt_now() - t0);
    CHECK(unblocks(w) > unblocks0);
    CHECK_INT(blocked_clients(w), 0);
}

int main(void)
{
    wt_t w;
    wt_start(&w, "oss", "oss");
    char out[1024];
    const char *names[] = {"ta", "tb", "tc"};
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        char json[256], prefix[8];
        snprintf(prefix, sizeof(prefix), "%s/", names[i]);
        snprintf(json, sizeof(json),
                 "{\"bucket\":\"src\",\"prefix\":\"%s\",\"count\":25,\"size\":1000,\"seed\":%d}",
                 prefix, i + 1);
        REQUIRE(s3t_control(&w.s, w.src.url, "POST", "/_fakes3/seed", json, out, sizeof(out)) ==
                200);
        wt_task(&w, names[i], prefix, NULL, prefix, NULL);
        total += wt_enqueue_prefix(&w, names[i], prefix);
    }
    s3t_res_t x;
    REQUIRE(s3t_put(&w.s, "src", "tc/event-me", 11, "hello", 5, &x) == FERRY_OK);
    wt_enqueue_key(&w, "tc", "tc/event-me", 5);
    total++;
    const char *wopts[] = {"--task",      "tb",   "--task",           "tc", "--concurrency", "1",
                           "--log-level", "info", "--exit-when-idle", NULL};
    pid_t p = wt_worker(&w, "ta", "tasks.log", wopts);
    CHECK_INT(wt_wait(p, 120), 0);
    char key[256];
    first_done("tasks.log", key, sizeof(key));
    CHECK_STR(key, "tc/event-me");
    CHECK_INT(wt_log_count("tasks.log", "event=copy.done"), (long long)total);
    for (int i = 0; i < 3; i++) {
        ferry_counters_t c;
        wt_counters(&w, names[i], &c);
        CHECK_INT(c.objects[FERRY_STATE_DONE], i == 2 ? 26 : 25);
    }
    idle_sigterm(&w);
    wt_stop(&w);
    return test_summary();
}
