/* ferry — private redis-server under the state dir. See ferry/redisd.h. */
#include "ferry/redisd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

int ferry_redisd_state_dir(const char *explicit_dir, char *buf, size_t n)
{
    const char *d = explicit_dir && *explicit_dir ? explicit_dir : getenv("FERRY_STATE_DIR");
    int w;
    if (d && *d)
        w = snprintf(buf, n, "%s", d);
    else {
        const char *home = getenv("HOME");
        if (home == NULL || *home == '\0')
            return FERRY_EINVAL;
        w = snprintf(buf, n, "%s/.local/state/ferry", home);
    }
    if (w < 0 || (size_t)w >= n)
        return FERRY_ERANGE;
    /* strip trailing slashes */
    while (w > 1 && buf[w - 1] == '/')
        buf[--w] = '\0';
    return FERRY_OK;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* 1 when the socket answers PING. */
static int answers(const char *sock)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    int ok = 0;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        /* LOADING replies are errors: the server is up but still reading its AOF. */
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

static int lock_dir(const char *dir, ferry_error_t *err)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s/redis.lock", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == ELOOP)
        return ferry_error_set(err, FERRY_EDENIED,
                               "%s is a symbolic link, which ferry does not follow: remove it "
                               "(rm %s) and try again",
                               p, p);
    if (fd < 0)
        return ferry_error_set(err, FERRY_EIO, "cannot open %s: %s", p, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return ferry_error_set(err, FERRY_EIO, "cannot lock %s: %s", p, strerror(errno));
        }
    }
    return fd;
}

int ferry_redisd_conf_quote(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    if (n < 3)
        return FERRY_ERANGE;
    out[j++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[4];
        size_t el = 0;
        if (*p == '"' || *p == '\\') {
            e[el++] = '\\';
            e[el++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            /* Redis reads \xHH inside double quotes (sdssplitargs) */
            e[el++] = '\\';
            e[el++] = 'x';
            e[el++] = hex[*p >> 4];
            e[el++] = hex[*p & 15];
        } else
            e[el++] = (char)*p;
        if (j + el + 2 > n)
            return FERRY_ERANGE;
        memcpy(out + j, e, el);
        j += el;
    }
    out[j++] = '"';
    out[j] = '\0';
    return FERRY_OK;
}

/* Write redis.conf through redis.conf.tmp, never following a link planted there. */
static int write_conf(const char *dir, const char *conf, const char *sock, ferry_error_t *err)
{
    char tmp[1200], qsock[4400], qdir[4400], qpid[4400], qlog[4400], p[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", conf);
    snprintf(p, sizeof(p), "%s/redis.pid", dir);
    int rc = ferry_redisd_conf_quote(sock, qsock, sizeof(qsock));
    if (rc == FERRY_OK)
        rc = ferry_redisd_conf_quote(dir, qdir, sizeof(qdir));
    if (rc == FERRY_OK)
        rc = ferry_redisd_conf_quote(p, qpid, sizeof(qpid));
    snprintf(p, sizeof(p), "%s/redis.log", dir);
    if (rc == FERRY_OK)
        rc = ferry_redisd_conf_quote(p, qlog, sizeof(qlog));
    if (rc)
        return ferry_error_set(err, FERRY_EINVAL,
                               "state dir %s is too long: pass a shorter "
                               "--state-dir",
                               dir);
    /* A stale tmp file (or a symlink someone planted) is removed, not followed: unlink does not
     * follow links, and O_EXCL|O_NOFOLLOW refuses anything that reappears in between. */
    if (unlink(tmp) != 0 && errno != ENOENT)
        return ferry_error_set(err, FERRY_EIO, "cannot remove the stale %s: %s", tmp,
                               strerror(errno));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return ferry_error_set(err, FERRY_EIO, "cannot create %s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        return ferry_error_set(err, FERRY_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    fprintf(f,
            "# written by ferry; edits are lost on the next start\n"
            "port 0\n"
            "unixsocket %s\n"
            "unixsocketperm 700\n"
            "dir %s\n"
            "daemonize yes\n"
            "pidfile %s\n"
            "logfile %s\n"
            "appendonly yes\n"
            "appendfsync everysec\n"
            "save \"\"\n"
            "# Ledger buckets stay listpack-encoded (docs/internals/ledger.md)\n"
            "hash-max-listpack-entries 512\n"
            "hash-max-listpack-value 1024\n"
            "maxmemory-policy noeviction\n",
            qsock, qdir, qpid, qlog);
    if (fclose(f) != 0 || rename(tmp, conf) != 0) {
        int e = errno;
        unlink(tmp);
        return ferry_error_set(err, FERRY_EIO, "cannot write %s: %s", conf, strerror(e));
    }
    return FERRY_OK;
}

static int start_server(const char *dir, const char *sock, ferry_error_t *err)
{
    char conf[1100];
    snprintf(conf, sizeof(conf), "%s/redis.conf", dir);
    int rc = write_conf(dir, conf, sock, err);
    if (rc)
        return rc;
    unlink(sock); /* a stale socket from a killed server */
    const char *bin = getenv("FERRY_REDIS_SERVER");
    if (bin == NULL || *bin == '\0')
        bin = "redis-server";
    pid_t pid = fork();
    if (pid < 0)
        return ferry_error_set(err, FERRY_ESPAWN, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        setsid();
        execlp(bin, bin, conf, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return ferry_error_set(err, FERRY_ESPAWN,
                               "cannot run %s: install Redis 7 (apt install redis-server) or pass "
                               "--redis URL",
                               bin);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return ferry_error_set(err, FERRY_ESPAWN, "%s %s failed (see %s/redis.log)", bin, conf,
                               dir);
    /* daemonized: wait for the socket to answer (AOF loading can take a while) */
    for (int i = 0; i < 300; i++) {
        if (answers(sock))
            return FERRY_OK;
        sleep_ms(i < 20 ? 10 : 100);
    }
    return ferry_error_set(
        err, FERRY_ETIMEOUT,
        "the private redis-server did not answer on %s within 30 s (see %s/redis.log)", sock, dir);
}

int ferry_redisd_dir_check(const char *dir, ferry_error_t *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return ferry_error_set(err, FERRY_EIO, "cannot stat state dir %s: %s", dir,
                               strerror(errno));
    if (S_ISLNK(st.st_mode) && stat(dir, &st) != 0)
        return ferry_error_set(err, FERRY_EIO, "cannot stat state dir %s: %s", dir,
                               strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ferry_error_set(err, FERRY_EINVAL, "state dir %s is not a directory", dir);
    if (st.st_uid != getuid())
        return ferry_error_set(err, FERRY_EDENIED,
                               "state dir %s belongs to another user (uid %ld): pass a "
                               "--state-dir of your own",
                               dir, (long)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return ferry_error_set(err, FERRY_EDENIED,
                               "state dir %s is writable by other users (mode %03o), who could "
                               "replace its files: run chmod go-w %s (ferry creates it 700)",
                               dir, (unsigned)(st.st_mode & 0777), dir);
    for (const unsigned char *p = (const unsigned char *)dir; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "state dir path holds a control character (byte 0x%02x): "
                                   "pass a --state-dir without one",
                                   *p);
    return FERRY_OK;
}

int ferry_redisd_ensure(const char *state_dir, char *url, size_t n, int *started,
                        ferry_error_t *err)
{
    char sock[1100];
    if (started)
        *started = 0;
    int w = snprintf(sock, sizeof(sock), "%s/redis.sock", state_dir);
    if (w < 0 || w >= 104)
        return ferry_error_set(err, FERRY_EINVAL,
                               "state dir %s is too long for a unix socket path (max ~90 bytes): "
                               "pass a shorter --state-dir",
                               state_dir);
    if ((size_t)snprintf(url, n, "unix://%s", sock) >= n)
        return ferry_error_set(err, FERRY_ERANGE, "URL buffer too small");
    if (mkdir_p(state_dir) != 0)
        return ferry_error_set(err, FERRY_EIO, "cannot create state dir %s: %s", state_dir,
                               strerror(errno));
    /* checked before any use, a running server included: others could have replaced it */
    int rc = ferry_redisd_dir_check(state_dir, err);
    if (rc)
        return rc;
    if (answers(sock))
        return FERRY_OK;
    int fd = lock_dir(state_dir, err);
    if (fd < 0)
        return fd;
    if (!answers(sock)) { /* someone else may have started it while we waited for the lock */
        rc = start_server(state_dir, sock, err);
        if (rc == FERRY_OK && started)
            *started = 1;
    }
    close(fd);
    return rc;
}

static pid_t read_pid(const char *dir)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s/redis.pid", dir);
    FILE *f = fopen(p, "r");
    long v = 0;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 0;
        fclose(f);
    }
    return (pid_t)v;
}

/* A zombie (reaped by whoever is our subreaper, later) has exited as far as we care. */
static int proc_alive(pid_t pid)
{
    if (pid <= 0 || kill(pid, 0) != 0)
        return 0;
    char p[64], buf[512];
    snprintf(p, sizeof(p), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

int ferry_redisd_stop(const char *state_dir, int *was_running, ferry_error_t *err)
{
    char sock[1100];
    if (was_running)
        *was_running = 0;
    snprintf(sock, sizeof(sock), "%s/redis.sock", state_dir);
    struct stat st;
    if (stat(state_dir, &st) != 0)
        return FERRY_OK;
    int fd = lock_dir(state_dir, err);
    if (fd < 0)
        return fd;
    int rc = FERRY_OK;
    pid_t pid = read_pid(state_dir);
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    if (c && !c->err) {
        if (was_running)
            *was_running = 1;
        redisSetTimeout(c, (struct timeval){10, 0});
        redisReply *r = redisCommand(c, "SHUTDOWN");
        /* Success closes the connection (NULL reply); an error reply means it refused. */
        if (r && r->type == REDIS_REPLY_ERROR)
            rc = ferry_error_set(err, FERRY_EREDIS, "redis-server refused SHUTDOWN: %s", r->str);
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    if (rc == FERRY_OK && pid > 0) {
        for (int i = 0; i < 200 && proc_alive(pid); i++)
            sleep_ms(50);
        if (proc_alive(pid))
            rc = ferry_error_set(err, FERRY_ETIMEOUT, "redis-server (pid %ld) did not exit in 10 s",
                                 (long)pid);
    }
    close(fd);
    return rc;
}
