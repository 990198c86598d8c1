/* bench_redis_cpu: Redis's CPU and commands per object over the ledger's whole life cycle,
 * with fixed batches, so that two builds compare without the timing noise of a real sync
 * (whose batch sizes follow timing). Per batch of B new keys: enqueue (one script call), read
 * the jobs (ferry_queue_next_batch), start (one call), finish as done (one call), ack (one
 * call). Redis runs on its own (started here, no persistence, the private server's listpack
 * settings); its CPU is read from /proc/PID/stat before and after each rep, its commands from
 * INFO commandstats (a script's own commands included).
 *
 *   bench_redis_cpu [--objects N] [--batch B] [--reps R]     (defaults 20000, 16, 3)
 *
 * Prints, per rep, Redis CPU µs per object and commands per object, then the calls per object
 * of each command of the last rep. BENCH_REDIS_WRAP prefixes redis-server's command line: with
 * "valgrind --tool=callgrind --callgrind-out-file=F" F's "summary:" line is Redis's instruction
 * count, which does not depend on the machine's load as CPU time does (run with the same N, B
 * and R to compare builds); BENCH_REDIS_ARGS adds to it (a server setting to try). Build without
 * sanitizers for meaningful figures. Not a test. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ferry/ledger.h"
#include "ferry/queue.h"

static char url[64];

static pid_t start_redis(int port, const char *dir)
{
    pid_t p = fork();
    if (p == 0) {
        char ps[16];
        snprintf(ps, sizeof(ps), "%d", port);
        const char *wrap = getenv("BENCH_REDIS_WRAP"); /* e.g. "valgrind --tool=callgrind" */
        const char *more = getenv("BENCH_REDIS_ARGS"); /* e.g. "--stream-node-max-entries 16" */
        if ((wrap && *wrap) || (more && *more)) {
            char cmd[1024];
            snprintf(cmd, sizeof(cmd),
                     "exec %s redis-server --port %s --bind 127.0.0.1 --save '' --appendonly no "
                     "--dir %s --hash-max-listpack-value 1024 --hash-max-listpack-entries 512 "
                     "--loglevel warning %s",
                     wrap ? wrap : "", ps, dir, more ? more : "");
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir, "--hash-max-listpack-value", "1024",
               "--hash-max-listpack-entries", "512", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    return p;
}

/* utime + stime of pid, in clock ticks; -1 when unreadable */
static long long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

/* the total of INFO commandstats calls (INFO and CONFIG excluded); prints each command's calls
 * per object when n > 0 */
static long long commands(ferry_redis_t *r, long n)
{
    redisReply *rep;
    if (ferry_redis_cmd(r, &rep, "INFO commandstats"))
        return -1;
    long long t = 0;
    for (const char *p = rep->str; (p = strstr(p, "cmdstat_")) != NULL; p++) {
        char name[64];
        long long calls;
        if (sscanf(p, "cmdstat_%63[^:]:calls=%lld", name, &calls) != 2)
            continue;
        if (!strcmp(name, "info") || !strncmp(name, "config", 6))
            continue;
        t += calls;
        if (n > 0)
            printf("  %-16s %6.3f/obj\n", name, (double)calls / (double)n);
    }
    freeReplyObject(rep);
    return t;
}

static void key_of(char *b, size_t n, long i)
{
    snprintf(b, n, "photos/2026/%02ld/%02ld/IMG_%07ld.jpg", 1 + i % 12, 1 + (i / 12) % 28, i);
}

/* One rep: task name, N objects in batches of B. Returns 0 or a step number that failed. */
static int rep_run(ferry_redis_t *r, const char *task, long N, int B)
{
    ferry_ledger_t *l;
    ferry_queue_t *q;
    ferry_queue_opts_t qo = {.consumer = "bench/0"};
    if (ferry_ledger_open(r, task, 0, &l) || ferry_queue_open(l, &qo, &q))
        return 1;
    char(*keys)[64] = calloc((size_t)B, 64);
    char(*toks)[32] = calloc((size_t)B, 32);
    ferry_item_t *it = calloc((size_t)B, sizeof(*it));
    ferry_job_t *jobs = calloc((size_t)B, sizeof(*jobs));
    const ferry_job_t **jp = calloc((size_t)B, sizeof(*jp));
    ferry_start_item_t *st = calloc((size_t)B, sizeof(*st));
    ferry_outcome_t *o = calloc((size_t)B, sizeof(*o));
    ferry_finish_item_t *fi = calloc((size_t)B, sizeof(*fi));
    int *res = calloc((size_t)B, sizeof(*res));
    int bad = 0;
    if (!keys || !toks || !it || !jobs || !jp || !st || !o || !fi || !res)
        bad = 2;
    for (long i = 0; i < N && !bad; i += B) {
        int b = (int)(N - i < B ? N - i : B);
        for (int j = 0; j < b; j++) {
            key_of(keys[j], sizeof(keys[j]), i + j);
            it[j] = (ferry_item_t){.key = keys[j],
                                   .size = 16384,
                                   .mtime = 1786603543 + i + j,
                                   .etag = "\"688a4c0f0b5d3b7e2f1a6b5c4d3e2f10\"",
                                   .origin = FERRY_ORIGIN_SCAN,
                                   .force = 0};
        }
        if (ferry_ledger_enqueue(l, FERRY_QUEUE_BULK, it, (size_t)b, res)) {
            bad = 3;
            break;
        }
        int got = 0;
        while (got < b && !bad) {
            int n = 0;
            if (ferry_queue_next_batch(q, jobs + got, b - got, 0, &n))
                bad = 4;
            got += n;
        }
        for (int j = 0; j < got && !bad; j++) {
            snprintf(toks[j], sizeof(toks[j]), "bench/0/%d/f%ld", (int)getpid(), i + j);
            st[j] = (ferry_start_item_t){.key = jobs[j].key, .token = toks[j]};
            o[j] = (ferry_outcome_t){.state = FERRY_STATE_DONE,
                                     .size = jobs[j].size,
                                     .mtime = jobs[j].mtime,
                                     .etag = jobs[j].etag,
                                     .dst_etag = jobs[j].etag,
                                     .checks = "src:md5,dst:content-md5",
                                     .duration_ms = 3};
            fi[j] = (ferry_finish_item_t){jobs[j].key, toks[j], &o[j]};
            jp[j] = &jobs[j];
        }
        if (!bad && ferry_ledger_start_many(l, st, (size_t)got, "bench/0", 60000))
            bad = 5;
        for (int j = 0; j < got && !bad; j++)
            if (st[j].rc || st[j].result != FERRY_START_COPY)
                bad = 6;
        if (!bad && ferry_ledger_finish_many(l, fi, (size_t)got, res))
            bad = 7;
        for (int j = 0; j < got && !bad; j++)
            if (res[j] != 0)
                bad = 8;
        if (!bad && ferry_queue_ack_many(q, jp, (size_t)got))
            bad = 9;
    }
    free(keys);
    free(toks);
    free(it);
    free(jobs);
    free(jp);
    free(st);
    free(o);
    free(fi);
    free(res);
    ferry_queue_free(q);
    ferry_ledger_free(l);
    return bad;
}

int main(int argc, char **argv)
{
    long N = 20000;
    int B = 16, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--objects") && i + 1 < argc)
            N = atol(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_redis_cpu [--objects N] [--batch B] [--reps R]\n");
            return 2;
        }
    }
    if (N < 1 || B < 1 || B > 1000 || reps < 1) {
        fprintf(stderr, "bench_redis_cpu: N >= 1, 1 <= B <= 1000, R >= 1\n");
        return 2;
    }
    int port = 20000 + (int)(getpid() % 20000);
    char dir[] = "/tmp/bench_redis_cpuXXXXXX";
    if (!mkdtemp(dir))
        return 1;
    pid_t rp = start_redis(port, dir);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    ferry_redis_t *r = NULL;
    for (int i = 0; i < 600 && r == NULL; i++) { /* 30 s: valgrind starts slowly */
        usleep(50000);
        ferry_error_t e;
        ferry_redis_opts_t ro = {.command_timeout_ms = 600000};
        if (ferry_redis_connect(url, &ro, &r, &e))
            r = NULL;
    }
    if (r == NULL) {
        fprintf(stderr, "bench_redis_cpu: redis-server did not start\n");
        kill(rp, SIGKILL);
        return 1;
    }
    long hz = sysconf(_SC_CLK_TCK);
    int rc = 0;
    printf("objects=%ld batch=%d\n", N, B);
    for (int k = 0; k < reps && rc == 0; k++) {
        char task[32];
        snprintf(task, sizeof(task), "cpu%d", k);
        redisReply *rep;
        if (ferry_redis_cmd(r, &rep, "CONFIG RESETSTAT") == FERRY_OK)
            freeReplyObject(rep);
        long long c0 = cpu_ticks(rp);
        rc = rep_run(r, task, N, B);
        long long c1 = cpu_ticks(rp);
        long long cmds = commands(r, k == reps - 1 ? N : 0);
        if (rc)
            fprintf(stderr, "bench_redis_cpu: rep %d failed at step %d\n", k, rc);
        else
            printf("rep %d: redis %.2f us/obj, %.2f commands/obj\n", k,
                   (double)(c1 - c0) * 1e6 / (double)hz / (double)N, (double)cmds / (double)N);
    }
    ferry_redis_free(r);
    kill(rp, SIGTERM);
    waitpid(rp, NULL, 0);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_redis_cpu: could not remove %s\n", dir);
    return rc ? 1 : 0;
}
