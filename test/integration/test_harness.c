/* The harness's own test: every server starts, answers, restarts, and dies with the test —
 * also when the test aborts or is SIGKILLed. */
#include "harness.h"
#include "test.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Gone means no such process, or a zombie. harness_init makes this test a child subreaper,
 * so the servers of a crashed child test are reparented to us and reaped here. */
static int pid_gone(pid_t pid)
{
    char path[64], buf[512];
    if (waitpid(pid, NULL, WNOHANG) == pid)
        return 1;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

static int wait_gone(pid_t pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        if (pid_gone(pid))
            return 1;
        sleep_ms(20);
    }
    return pid_gone(pid);
}

static int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One HTTP/1.1 GET on loopback; returns the status code, the body head in body. */
static int http_get(int port, const char *path, char *body, size_t bodysz)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[256];
    int n =
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    char buf[8192];
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof buf && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fd);
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, bodysz, "%s", b ? b + 4 : "");
    return status;
}

static redisContext *redis_connect(const harness_server_t *s)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (c && c->err) {
        fprintf(stderr, "redis connect: %s\n", c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

static void test_redis(void)
{
    harness_server_t r;
    REQUIRE(harness_redis_start(&r) == 0);
    CHECK(r.pid > 0);
    CHECK(r.port > 0);
    CHECK(strncmp(r.url, "redis://127.0.0.1:", 18) == 0);
    CHECK(dir_exists(r.dir));

    redisContext *c = redis_connect(&r);
    REQUIRE(c != NULL);
    redisReply *rep = redisCommand(c, "PING");
    CHECK(rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0);
    freeReplyObject(rep);
    rep = redisCommand(c, "SET %s %s", "ferry:harness", "survives restart");
    CHECK(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = redisCommand(c, "CONFIG GET appendonly");
    CHECK(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
          strcmp(rep->element[1]->str, "yes") == 0);
    freeReplyObject(rep);
    redisFree(c);

    int port = r.port;
    pid_t old = r.pid;
    REQUIRE(harness_restart(&r) == 0);
    CHECK_INT(r.port, port);
    CHECK(r.pid != old);
    CHECK(wait_gone(old, 2000));
    c = redis_connect(&r);
    REQUIRE(c != NULL);
    rep = redisCommand(c, "GET %s", "ferry:harness");
    CHECK(rep && rep->type == REDIS_REPLY_STRING);
    if (rep && rep->type == REDIS_REPLY_STRING)
        CHECK_STR(rep->str, "survives restart");
    freeReplyObject(rep);
    redisFree(c);

    pid_t pid = r.pid;
    CHECK(harness_stop(&r, SIGTERM) == 0);
    CHECK(wait_gone(pid, 2000));
    CHECK(harness_stop(&r, SIGTERM) == -1); /* already stopped */
}

static void test_fakes3(void)
{
    harness_server_t f;
    const char *extra[] = {"--bucket", "harness", NULL};
    REQUIRE(harness_fakes3_start("s3", extra, &f) == 0);
    CHECK(f.port > 0);
    CHECK(strlen(f.access_key) == 20);
    CHECK(strlen(f.secret_key) == 40);
    char body[2048];
    int status = http_get(f.port, "/harness/", body, sizeof body);
    /* Unsigned: any HTTP answer proves it serves; fakes3 must refuse (403). */
    CHECK(status >= 200 && status < 600);
    CHECK_INT(status, 403);
    int port = f.port;
    REQUIRE(harness_restart(&f) == 0);
    CHECK_INT(f.port, port);
    pid_t pid = f.pid;
    CHECK(harness_stop(&f, SIGTERM) == 0);
    CHECK(wait_gone(pid, 2000));
}

static void test_s3rver(void)
{
    harness_server_t s;
    const char *buckets[] = {"alpha", "beta", NULL};
    REQUIRE(harness_s3rver_start(buckets, &s) == 0);
    CHECK_STR(s.access_key, "S3RVER");
    CHECK_STR(s.secret_key, "S3RVER");
    char body[4096];
    CHECK_INT(http_get(s.port, "/", body, sizeof body), 200);
    CHECK(strstr(body, "<Name>alpha</Name>") != NULL);
    CHECK(strstr(body, "<Name>beta</Name>") != NULL);
    pid_t pid = s.pid;
    CHECK(harness_stop(&s, SIGTERM) == 0);
    CHECK(wait_gone(pid, 3000));
}

/* A child test process starts servers, reports their pids and its temp dir through a pipe,
 * then dies: by abort() (the signal handler cleans up) or by SIGKILL (PR_SET_PDEATHSIG). */
#define CRASH_SANITIZER 0

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

struct child_report {
    pid_t pids[3];
    int n;
    char tmpdir[512];
};

static void crash_child(int wfd, int how)
{
    struct child_report rep;
    memset(&rep, 0, sizeof rep);
    if (harness_init() != 0)
        _exit(2);
    harness_server_t r, s;
    if (harness_redis_start(&r) != 0)
        _exit(3);
    rep.pids[rep.n++] = r.pid;
    const char *sleep_argv[] = {"sleep", "600", NULL};
    pid_t p = harness_spawn(sleep_argv, NULL, NULL);
    if (p < 0)
        _exit(4);
    rep.pids[rep.n++] = p;
    if (harness_fakes3_start("oss", NULL, &s) != 0)
        _exit(5);
    rep.pids[rep.n++] = s.pid;
    snprintf(rep.tmpdir, sizeof rep.tmpdir, "%s", harness_tmpdir());
    if (write(wfd, &rep, sizeof rep) != (ssize_t)sizeof rep)
        _exit(6);
    if (how == SIGABRT)
        abort();
    if (how == CRASH_SANITIZER) {
        /* A use after free: ASan (not UBSan, whose GCC runtime is a separate library with its
         * own death callback) reports it and ends the process with _exit. */
        char *volatile q = malloc(8); /* volatile: the compiler cannot see the free */
        free(q);
        q[0] = 1;
        _exit(7); /* not reached in a sanitizer build */
    }
    for (;;)
        pause(); /* the parent SIGKILLs us */
}

static void test_crash(int how)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(NULL);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        close(fds[0]);
        crash_child(fds[1], how);
    }
    close(fds[1]);
    if (how == CRASH_SANITIZER)
        fprintf(stderr, "test_harness: an AddressSanitizer report from child %d is expected\n",
                (int)child);
    struct child_report rep;
    memset(&rep, 0, sizeof rep);
    ssize_t n = read(fds[0], &rep, sizeof rep);
    close(fds[0]);
    CHECK_INT(n, (ssize_t)sizeof rep);
    if (how == SIGKILL)
        kill(child, SIGKILL);
    int st = 0;
    REQUIRE(waitpid(child, &st, 0) == child);
    if (how == CRASH_SANITIZER)
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 7);
    else
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == how);
    CHECK(rep.n >= 2);
    for (int i = 0; i < rep.n; i++) {
        CHECK(rep.pids[i] > 0);
        if (!wait_gone(rep.pids[i], 5000))
            fprintf(stderr, "FAIL: pid %d survived its test's signal %d\n", (int)rep.pids[i], how);
        CHECK(pid_gone(rep.pids[i]));
        /* What the server forked itself (redis's AOF rewrite) has no PDEATHSIG: it was
         * reparented to us, the subreaper; end it and reap it. */
        kill(-rep.pids[i], SIGKILL);
        while (waitpid(-rep.pids[i], NULL, 0) > 0) {
        }
    }
    /* The child's temp dir lies inside ours. abort() or a sanitizer report: the handler or
     * the death callback removed it; SIGKILL: it stays until our cleanup. */
    CHECK(strncmp(rep.tmpdir, harness_tmpdir(), strlen(harness_tmpdir())) == 0);
    if (how != SIGKILL)
        CHECK(!dir_exists(rep.tmpdir));
}

static void test_spawn_and_cleanup(void)
{
    const char *missing[] = {"ferry-no-such-program", NULL};
    CHECK(harness_spawn(missing, NULL, NULL) == -1);

    char out[600];
    snprintf(out, sizeof out, "%s/echo.out", harness_tmpdir());
    const char *echo_argv[] = {"sh", "-c", "echo spawned", NULL};
    pid_t e = harness_spawn(echo_argv, out, NULL);
    CHECK(e > 0);
    harness_server_t tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.pid = e;
    harness_stop(&tmp, 0); /* signal 0: just reap it */
    FILE *f = fopen(out, "r");
    char line[64] = "";
    if (f) {
        if (fgets(line, sizeof line, f) == NULL)
            line[0] = 0;
        fclose(f);
    }
    CHECK_STR(line, "spawned\n");

    harness_server_t r;
    REQUIRE(harness_redis_start(&r) == 0);
    const char *sleep_argv[] = {"sleep", "600", NULL};
    pid_t p = harness_spawn(sleep_argv, NULL, NULL);
    CHECK(p > 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", harness_tmpdir());
    harness_cleanup();
    CHECK(wait_gone(r.pid, 2000));
    CHECK(wait_gone(p, 2000));
    CHECK(getenv("FERRY_KEEP_TMP") || !dir_exists(dir));
    harness_cleanup(); /* safe twice */
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    REQUIRE(dir_exists(harness_tmpdir()));
    REQUIRE(harness_init() == 0); /* idempotent */

    test_redis();
    test_fakes3();
    test_s3rver();
    test_crash(SIGABRT);
    test_crash(SIGKILL);
#ifdef HAVE_ASAN
    test_crash(CRASH_SANITIZER);
#endif
    test_spawn_and_cleanup();
    return test_summary();
}
