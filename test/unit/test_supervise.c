/* The worker supervisor of ferry sync and ferry up (cmd/supervise.c), on real processes: this
 * binary is its own "ferry worker" (the supervisor runs /proc/self/exe ... worker ARGS). As a
 * child it writes one line with its arguments and environment to stdout, then
 *   --exit N  exits with N;
 *   --wait    waits for a signal (SIGTERM and SIGKILL end it).
 * Checked: the command line and the environment (the Redis URL never in argv), the counts, the
 * exit callback's code / signal / asked, a full table, the order things stop (sup_free refuses
 * while a handle is open; uv_loop_close succeeds after), a spawn that fails (its handle closed).
 * No timing: the test waits for events, never for a duration. */
#define _GNU_SOURCE /* memmem */
#include "supervise.h"
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define URL "redis://:s3cret@127.0.0.1:1/0"

static int child_main(int argc, char **argv)
{
    char line[1024];
    size_t n = 0;
    n += (size_t)snprintf(line + n, sizeof(line) - n, "argv:");
    for (int i = 1; i < argc; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", argv[i]);
    const char *url = getenv("FERRY_REDIS_URL"), *pid = getenv("FERRY_SYNC_PID");
    n += (size_t)snprintf(line + n, sizeof(line) - n, " | url=%s parent=%s\n", url ? url : "-",
                          pid ? pid : "-");
    if (write(1, line, n) != (ssize_t)n)
        return 99;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc)
            return atoi(argv[i + 1]);
        if (strcmp(argv[i], "--wait") == 0)
            for (;;)
                pause();
    }
    return 0;
}

static sup_exit_t exits[8];
static int nexits, busy_in_cb = -1;
static sup_t *cur;

static void on_exit_cb(void *ud, const sup_exit_t *e)
{
    (void)ud;
    if (nexits < 8)
        exits[nexits] = *e;
    nexits++;
    /* the exited entry is closing: with the other one alive, the table is full */
    if (nexits == 1) {
        char *args[] = {"--exit", "0", NULL};
        busy_in_cb = sup_spawn(cur, args, NULL, NULL);
    }
}

static void run_until_exits(uv_loop_t *loop, int n)
{
    while (nexits < n && uv_run(loop, UV_RUN_ONCE))
        ;
    REQUIRE(nexits >= n);
}

/* The log's text (up to cap-1 bytes). */
static void read_log(int fd, char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

/* Wait (for as long as it takes; ctest's timeout bounds it) until the log holds `lines` lines:
 * a child signalled before it wrote its line would not show what it was given. */
static void wait_lines(int fd, int lines)
{
    char buf[4096];
    for (;;) {
        read_log(fd, buf, sizeof(buf));
        int n = 0;
        for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
            n++;
        if (n >= lines)
            return;
        usleep(10000);
    }
}

static void test_lifecycle(void)
{
    char path[] = "/tmp/test_supervise_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    sup_cfg_t cfg = {.loop = &loop,
                     .max = 2,
                     .state_dir = "/tmp/sd",
                     .redis_url = URL,
                     .log_fd = fd,
                     .on_exit = on_exit_cb};
    ferry_error_t err;
    sup_t *s = NULL;
    REQUIRE(sup_new(&cfg, &s, &err) == FERRY_OK);
    cur = s;
    char me[24];
    snprintf(me, sizeof(me), "%ld", (long)getpid());
    CHECK_STR(getenv("FERRY_REDIS_URL"), URL);
    CHECK_STR(getenv("FERRY_SYNC_PID"), me);

    char *quit3[] = {"--exit", "3", NULL}, *waiter[] = {"--task", "t1", "--wait", NULL};
    int a = -1, b = -1;
    REQUIRE(sup_spawn(s, quit3, &a, &err) == FERRY_OK);
    REQUIRE(sup_spawn(s, waiter, &b, &err) == FERRY_OK);
    CHECK_INT(a, 0);
    CHECK_INT(b, 1);
    CHECK_INT(sup_alive(s), 2);
    CHECK_INT(sup_running(s), 2);
    CHECK_INT(sup_spawn(s, waiter, NULL, &err), FERRY_EBUSY); /* two entries */
    CHECK_INT(sup_free(s), FERRY_EBUSY);                      /* children alive: not freed */
    CHECK_INT(sup_idle(s), 0);

    /* a: exits 3 by itself */
    run_until_exits(&loop, 1);
    CHECK_INT(exits[0].idx, 0);
    CHECK_INT(exits[0].code, 3);
    CHECK_INT(exits[0].sig, 0);
    CHECK_INT(exits[0].asked, 0);
    CHECK(exits[0].ran_ms >= 0);
    CHECK_INT(busy_in_cb, FERRY_EBUSY);
    CHECK_INT(sup_alive(s), 1);
    CHECK_INT(sup_running(s), 1);

    /* b: stopped with SIGTERM (asked, 128 + 15) once it has said what it was given */
    wait_lines(fd, 2);
    sup_child_t c;
    REQUIRE(sup_child(s, b, &c) == FERRY_OK);
    CHECK(c.pid > 0 && c.asked == 0);
    CHECK_INT(sup_child(s, a, &c), FERRY_ENOTFOUND);
    CHECK_INT(sup_stop(s, b), FERRY_OK);
    CHECK_INT(sup_stop(s, b), FERRY_ENOTFOUND); /* already asked */
    CHECK_INT(sup_running(s), 0);
    CHECK_INT(sup_alive(s), 1);
    REQUIRE(sup_child(s, b, &c) == FERRY_OK);
    CHECK_INT(c.asked, 1);
    run_until_exits(&loop, 2);
    CHECK_INT(exits[1].idx, 1);
    CHECK_INT(exits[1].code, 128 + SIGTERM);
    CHECK_INT(exits[1].sig, SIGTERM);
    CHECK_INT(exits[1].asked, 1);
    CHECK_INT(sup_alive(s), 0);

    /* after a turn of the loop the entries are free again; all killed at once: 128 + 9 */
    while (!sup_idle(s) && uv_run(&loop, UV_RUN_ONCE))
        ;
    CHECK_INT(sup_spawn(s, waiter, &a, &err), FERRY_OK);
    CHECK_INT(a, 0);
    wait_lines(fd, 3);
    sup_signal_all(s, SIGKILL);
    CHECK_INT(sup_running(s), 0);
    run_until_exits(&loop, 3);
    CHECK_INT(exits[2].code, 128 + SIGKILL);
    CHECK_INT(exits[2].asked, 1);
    while (!sup_idle(s) && uv_run(&loop, UV_RUN_ONCE))
        ;
    CHECK_INT(sup_free(s), FERRY_OK);
    CHECK_INT(uv_loop_close(&loop), 0); /* no handle left open */

    /* what each child was given: the URL only in the environment */
    char log[4096], want[512];
    read_log(fd, log, sizeof(log));
    snprintf(want, sizeof(want),
             "argv: --state-dir /tmp/sd worker --exit 3 | url=" URL " parent=%s\n", me);
    CHECK(strstr(log, want) != NULL);
    snprintf(want, sizeof(want),
             "argv: --state-dir /tmp/sd worker --task t1 --wait | url=" URL " parent=%s\n", me);
    CHECK(strstr(log, want) != NULL);
    char *p = log;
    int argv_has_url = 0;
    for (char *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        char *bar = strstr(p, " | ");
        if (bar && bar < nl && memmem(p, (size_t)(bar - p), "s3cret", 6) != NULL)
            argv_has_url = 1;
    }
    CHECK_INT(argv_has_url, 0);
    fprintf(stderr, "children said:\n%s", log);
    close(fd);
}

/* A process that cannot start: its stdout is a descriptor that is not open. The error says so, no
 * exit callback, and the handle is closed (the loop closes cleanly). */
static void test_spawn_fails(void)
{
    int fd = 900; /* high: not a number libuv's own pipes may take during the spawn */
    REQUIRE(fcntl(fd, F_GETFD) == -1);
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    sup_cfg_t cfg = {.loop = &loop, .max = 1, .log_fd = fd, .on_exit = on_exit_cb};
    ferry_error_t err;
    sup_t *s = NULL;
    REQUIRE(sup_new(&cfg, &s, &err) == FERRY_OK);
    int before = nexits;
    char *args[] = {"--exit", "0", NULL};
    CHECK_INT(sup_spawn(s, args, NULL, &err), FERRY_ESPAWN);
    CHECK(strstr(err.msg, "cannot start") != NULL);
    CHECK_INT(sup_alive(s), 0);
    CHECK_INT(sup_idle(s), 0); /* its handle is closing */
    while (!sup_idle(s) && uv_run(&loop, UV_RUN_ONCE))
        ;
    CHECK_INT(sup_idle(s), 1);
    CHECK_INT(nexits, before);
    CHECK_INT(sup_free(s), FERRY_OK);
    CHECK_INT(uv_loop_close(&loop), 0);
}

static void test_bad_config(void)
{
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    sup_cfg_t cfg = {.loop = &loop, .max = 0, .log_fd = 2};
    ferry_error_t err;
    sup_t *s = (sup_t *)&cfg;
    CHECK_INT(sup_new(&cfg, &s, &err), FERRY_EINVAL);
    CHECK(s == NULL);
    cfg.max = SUP_MAX + 1;
    CHECK_INT(sup_new(&cfg, &s, &err), FERRY_EINVAL);
    cfg.max = 1;
    REQUIRE(sup_new(&cfg, &s, &err) == FERRY_OK);
    char *many[SUP_ARGS_MAX + 2];
    for (int i = 0; i < SUP_ARGS_MAX + 1; i++)
        many[i] = "-v";
    many[SUP_ARGS_MAX + 1] = NULL;
    CHECK_INT(sup_spawn(s, many, NULL, &err), FERRY_EINVAL);
    CHECK_INT(sup_idle(s), 1); /* nothing started, nothing to close */
    CHECK_INT(sup_free(s), FERRY_OK);
    CHECK_INT(sup_free(NULL), FERRY_OK);
    CHECK_INT(uv_loop_close(&loop), 0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc && i <= 3; i++)
        if (strcmp(argv[i], "worker") == 0)
            return child_main(argc, argv);
    test_bad_config();
    test_spawn_fails();
    test_lifecycle();
    return test_summary();
}
