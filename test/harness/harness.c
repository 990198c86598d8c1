/* ferry test harness: real servers for integration tests, always torn down.
 *
 * Cleanup paths, in order of preference:
 *  1. harness_stop() / harness_cleanup() from the test;
 *  2. atexit (normal return, exit() from a failed REQUIRE);
 *  3. the fatal-signal handler (abort(), a crash, SIGINT/SIGTERM/SIGHUP from ctest's
 *     timeout): async-signal-safe only — kill each tracked process group, reap, remove the
 *     temp dir with openat/getdents64/unlinkat, then re-raise with the default action;
 *  4. the sanitizer runtime's death callback, when ASan ends the test after a report (with
 *     GCC, UBSan is a separate runtime whose deaths skip it: then, as in 5, the children die
 *     by PDEATHSIG and the temp dir stays);
 *  5. PR_SET_PDEATHSIG=SIGKILL in every child, for the one path no code of ours sees (the
 *     test itself SIGKILLed, as ctest does on a timeout; the temp dir then stays behind).
 *
 * Each child runs in its own process group (setpgid), so a server that forks helpers is
 * killed whole by kill(-pid, ...), and a terminal's Ctrl-C reaches only the test. The test
 * process is made a child subreaper, so those helpers, once orphaned, are reaped by us.
 *
 * Ports: redis-server cannot be told "port 0", so it gets a port found free by binding
 * 127.0.0.1:0; a clash with a server another test started in between is detected (our child
 * exits, or the PING is answered by a redis whose INFO process_id is not our child) and the
 * start is retried on a new port. fakes3 and s3rver bind port 0 themselves and report the
 * port they got, which cannot clash: fakes3 prints "ready PORT", s3rver logs
 * "S3rver listening on 127.0.0.1:PORT". Both outputs go to files in the server's directory,
 * not to a pipe, so a chatty server can never block on a full pipe or die of SIGPIPE once
 * we stop reading; the harness polls the file with a deadline.
 *
 * A test process that fork()s and wants servers of its own in the child calls harness_init()
 * again there: the child forgets the parent's servers (they are the parent's to kill) and
 * gets a fresh temp dir inside the parent's, so even a SIGKILLed child leaves nothing behind
 * once the parent cleans up.
 *
 * State is file-static because a signal handler has to reach it; the header says the harness
 * is single-threaded. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FERRY_SOURCE_ROOT
#define FERRY_SOURCE_ROOT ""
#endif

#define MAX_CHILDREN 64
#define MAX_SERVERS  32
#define MAX_ARGS     64

enum kind { KIND_REDIS = 1, KIND_FAKES3, KIND_S3RVER };

/* What harness_restart needs to start a server again: its argv, with the port in it. */
struct server_rec {
    int used;
    enum kind kind;
    char dir[512]; /* key: harness_server_t.dir is unique per server */
    char base[512];
    char *argv[MAX_ARGS];
    int port_arg; /* index of the argv entry that holds the port */
};

static struct {
    pid_t owner; /* the process that ran harness_init; 0 before */
    int keep_tmp;
    unsigned seq;
    char tmpdir[PATH_MAX];
    volatile pid_t pids[MAX_CHILDREN]; /* tracked children, 0 = free slot */
    struct server_rec servers[MAX_SERVERS];
} H;

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS, SIGHUP};

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("harness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- async-signal-safe pieces: used by the handler and by normal cleanup alike ---- */

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Remove name (relative to dirfd) and everything below it. Only system calls: no malloc, no
 * stdio, no opendir. Depth-limited so a pathological tree cannot exhaust the stack. */
static void rm_tree_at(int dirfd, const char *name, int depth)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    if (depth < 48) {
        /* Deleting while reading a directory may skip entries: read again from the start
         * until a pass finds nothing (or nothing it can remove). */
        for (int pass = 0; pass < 8; pass++) {
            _Alignas(8) char buf[2048];
            int seen = 0;
            lseek(fd, 0, SEEK_SET);
            for (;;) {
                long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
                if (n <= 0)
                    break;
                for (long off = 0; off < n;) {
                    struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
                    off += d->d_reclen;
                    if (d->d_name[0] == '.' &&
                        (d->d_name[1] == 0 || (d->d_name[1] == '.' && d->d_name[2] == 0)))
                        continue;
                    seen++;
                    rm_tree_at(fd, d->d_name, depth + 1);
                }
            }
            if (seen == 0)
                break;
        }
    }
    close(fd);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Reap every child of ours in process group pgid: the server, and (because harness_init
 * makes this process a child subreaper) whatever the server forked and left behind, such
 * as redis's AOF-rewrite child. Blocks until all have exited: call after SIGKILL. */
static void reap_group(pid_t pgid)
{
    for (;;) {
        pid_t r = waitpid(-pgid, NULL, 0);
        if (r > 0 || (r < 0 && errno == EINTR))
            continue;
        break;
    }
}

static void kill_all_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        pid_t p = H.pids[i];
        if (p > 0) {
            kill(-p, SIGKILL);
            kill(p, SIGKILL);
        }
    }
    for (int i = 0; i < MAX_CHILDREN; i++) {
        pid_t p = H.pids[i];
        if (p > 0) {
            reap_group(p);
            H.pids[i] = 0;
        }
    }
}

static void on_fatal_signal(int sig)
{
    int saved = errno;
    /* A forked child between fork and exec, or a forked test child that has not called
     * harness_init, must not tear down its parent's servers. */
    if (H.owner != 0 && getpid() == H.owner) {
        kill_all_children();
        if (!H.keep_tmp && H.tmpdir[0])
            rm_tree_at(AT_FDCWD, H.tmpdir, 0);
        H.tmpdir[0] = 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    errno = saved;
    raise(sig);
}

/* ---- tracking ---- */

static int track(pid_t p)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (H.pids[i] == 0) {
            H.pids[i] = p;
            return 0;
        }
    }
    return -1;
}

static void untrack(pid_t p)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (H.pids[i] == p)
            H.pids[i] = 0;
    }
}

static void free_rec(struct server_rec *r)
{
    for (int i = 0; i < MAX_ARGS && r->argv[i]; i++)
        free(r->argv[i]);
    memset(r, 0, sizeof *r);
}

static struct server_rec *find_rec(const char *dir)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (H.servers[i].used && strcmp(H.servers[i].dir, dir) == 0)
            return &H.servers[i];
    }
    return NULL;
}

/* ---- init / cleanup ---- */

/* With ASan/UBSan, a sanitizer report ends the process through the runtime's Die(), which
 * calls _exit: no atexit, no signal. The runtime offers a death callback for exactly this;
 * the weak declaration makes it NULL in a build without sanitizers. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

void harness_cleanup(void)
{
    if (H.owner == 0 || getpid() != H.owner)
        return;
    kill_all_children();
    if (H.tmpdir[0]) {
        if (H.keep_tmp)
            say("FERRY_KEEP_TMP=1: keeping %s", H.tmpdir);
        else
            rm_tree_at(AT_FDCWD, H.tmpdir, 0);
        H.tmpdir[0] = 0;
    }
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (H.servers[i].used)
            free_rec(&H.servers[i]);
    }
}

int harness_init(void)
{
    static int atexit_done;
    if (H.owner != 0 && H.owner == getpid())
        return 0;

    char parent_tmp[PATH_MAX] = "";
    if (H.owner != 0) {
        /* A forked child: the parent's servers are not ours. */
        snprintf(parent_tmp, sizeof parent_tmp, "%s", H.tmpdir);
        for (int i = 0; i < MAX_CHILDREN; i++)
            H.pids[i] = 0;
        for (int i = 0; i < MAX_SERVERS; i++) {
            if (H.servers[i].used)
                free_rec(&H.servers[i]);
        }
    }

    const char *keep = getenv("FERRY_KEEP_TMP");
    H.keep_tmp = keep && strcmp(keep, "1") == 0;
    const char *base = parent_tmp[0] ? parent_tmp : getenv("TMPDIR");
    if (base == NULL || base[0] == 0)
        base = "/tmp";
    int n = snprintf(H.tmpdir, sizeof H.tmpdir, "%s/ferry-test-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof H.tmpdir || mkdtemp(H.tmpdir) == NULL) {
        say("cannot create a temp dir under %s: %s", base, strerror(errno));
        H.tmpdir[0] = 0;
        return -1;
    }
    H.owner = getpid();
    H.seq = 0;
    /* Orphans of our servers (a server's own forks) are reparented to us, not to an init
     * that may never reap them, and reap_group() collects them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaddset(&sa.sa_mask, fatal_signals[i]);
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, NULL);
    if (!atexit_done) {
        atexit(harness_cleanup);
        if (__sanitizer_set_death_callback)
            __sanitizer_set_death_callback(harness_cleanup);
        atexit_done = 1;
    }
    return 0;
}

const char *harness_tmpdir(void)
{
    return H.tmpdir;
}

/* ---- spawning ---- */

/* Resolve name to an executable path: as is when it has a '/', else through $PATH. */
static int find_exe(const char *name, char *out, size_t outsz)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0)
            return -1;
        snprintf(out, outsz, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        int n = snprintf(out, outsz, "%.*s/%s", (int)len, len ? path : ".", name);
        if (n > 0 && (size_t)n < outsz && access(out, X_OK) == 0)
            return 0;
        path += len + (end ? 1 : 0);
    }
    return -1;
}

static pid_t spawn_exe(const char *exe, const char *const *argv, const char *stdout_path,
                       const char *stderr_path)
{
    int errpipe[2];
    if (pipe(errpipe) != 0) {
        say("pipe: %s", strerror(errno));
        return -1;
    }
    /* Single-threaded (harness.h), so pipe + FD_CLOEXEC cannot race another fork. */
    fcntl(errpipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(errpipe[1], F_SETFD, FD_CLOEXEC);
    pid_t parent = getpid();
    fflush(NULL); /* so the child's copy of stdio buffers cannot be written twice */
    pid_t pid = fork();
    if (pid < 0) {
        say("fork: %s", strerror(errno));
        close(errpipe[0]);
        close(errpipe[1]);
        return -1;
    }
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
            sigaction(fatal_signals[i], &sa, NULL);
        sigaction(SIGPIPE, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int err = 0;
        if (getppid() != parent) /* the parent died before prctl took effect */
            _exit(127);
        if (stdout_path) {
            int fd = open(stdout_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd < 0 || dup2(fd, 1) < 0)
                err = errno;
            if (fd > 1)
                close(fd);
        }
        if (!err && stderr_path) {
            int fd = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd < 0 || dup2(fd, 2) < 0)
                err = errno;
            if (fd > 2)
                close(fd);
        }
        if (!err) {
            execv(exe, (char *const *)argv);
            err = errno;
        }
        ssize_t w = write(errpipe[1], &err, sizeof err);
        (void)w;
        _exit(127);
    }
    /* Also set the group from the parent, so kill(-pid) works even before the child ran. */
    setpgid(pid, pid);
    close(errpipe[1]);
    int child_err = 0;
    ssize_t r;
    do {
        r = read(errpipe[0], &child_err, sizeof child_err);
    } while (r < 0 && errno == EINTR);
    close(errpipe[0]);
    if (r > 0) {
        waitpid(pid, NULL, 0);
        say("cannot start %s: %s", exe, strerror(child_err));
        return -1;
    }
    if (track(pid) != 0) {
        say("more than %d children: raise MAX_CHILDREN in harness.c", MAX_CHILDREN);
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

pid_t harness_spawn(const char *const *argv, const char *stdout_path, const char *stderr_path)
{
    char exe[PATH_MAX];
    if (H.owner != getpid() && harness_init() != 0)
        return -1;
    if (argv == NULL || argv[0] == NULL)
        return -1;
    if (find_exe(argv[0], exe, sizeof exe) != 0) {
        say("%s not found%s", argv[0], strchr(argv[0], '/') ? "" : " on PATH");
        return -1;
    }
    return spawn_exe(exe, argv, stdout_path, stderr_path);
}

/* ---- stopping ---- */

/* Reap pid within timeout seconds. 1 reaped (status in *st), 0 still running. */
static int reap(pid_t pid, double timeout, int *st)
{
    double deadline = now_s() + timeout;
    for (;;) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        if (now_s() >= deadline)
            return 0;
        sleep_ms(10);
    }
}

int harness_stop(harness_server_t *s, int sig)
{
    if (s == NULL || s->pid <= 0)
        return -1;
    pid_t pid = s->pid;
    int st = 0, rc = 0;
    if (kill(pid, sig) != 0 && errno != ESRCH)
        rc = -1;
    if (!reap(pid, 5.0, &st)) {
        say("pid %d did not exit 5 s after signal %d: SIGKILL", (int)pid, sig);
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        reap(pid, 30.0, &st);
    }
    kill(-pid, SIGKILL); /* anything the server left in its group */
    reap_group(pid);
    untrack(pid);
    s->pid = 0;
    return rc;
}

/* ---- sockets ---- */

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int harness_connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* Send req, read until the reply holds `until` (or the peer closes, or the buffer is full).
 * Returns bytes read (NUL-terminated in buf) or -1. */
static int exchange(int port, const char *req, const char *until, char *buf, size_t bufsz)
{
    int fd = harness_connect(port, 2000);
    if (fd < 0)
        return -1;
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    size_t got = 0;
    buf[0] = 0;
    while (got + 1 < bufsz) {
        ssize_t r = recv(fd, buf + got, bufsz - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = 0;
        if (until && strstr(buf, until))
            break;
    }
    close(fd);
    return got ? (int)got : -1;
}

/* ---- server bookkeeping ---- */

static int make_server_dirs(const char *name, harness_server_t *out, char *base, size_t basesz)
{
    if (H.owner != getpid() && harness_init() != 0)
        return -1;
    int n = snprintf(base, basesz, "%s/%s-%u", H.tmpdir, name, ++H.seq);
    if (n < 0 || (size_t)n >= basesz || mkdir(base, 0700) != 0) {
        say("cannot create %s: %s", base, strerror(errno));
        return -1;
    }
    n = snprintf(out->dir, sizeof out->dir, "%s/data", base);
    if (n < 0 || (size_t)n >= sizeof out->dir || mkdir(out->dir, 0700) != 0) {
        say("cannot create %s/data: %s", base, strerror(errno));
        return -1;
    }
    return 0;
}

static struct server_rec *new_rec(enum kind k, const char *base, const char *dir,
                                  const char *const *argv, int port_arg)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        struct server_rec *r = &H.servers[i];
        if (r->used)
            continue;
        r->used = 1;
        r->kind = k;
        snprintf(r->base, sizeof r->base, "%s", base);
        snprintf(r->dir, sizeof r->dir, "%s", dir);
        for (int j = 0; j < MAX_ARGS - 1 && argv[j]; j++) {
            r->argv[j] = strdup(argv[j]);
            if (r->argv[j] == NULL) {
                free_rec(r);
                return NULL;
            }
        }
        r->port_arg = port_arg;
        return r;
    }
    say("more than %d servers in one test: raise MAX_SERVERS in harness.c", MAX_SERVERS);
    return NULL;
}

/* Print the last lines of a server's log, to say why it did not start. */
static void show_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char buf[2048];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    if (n)
        fprintf(stderr, "---- %s (last %zu bytes) ----\n%s%s----\n", path, n, buf,
                buf[n - 1] == '\n' ? "" : "\n");
}

/* Did the child exit? Reaps and untracks it if so, printing its status. */
static int child_exited(pid_t pid, const char *what)
{
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r != pid)
        return 0;
    untrack(pid);
    if (WIFEXITED(st))
        say("%s exited with status %d during start-up", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        say("%s was killed by signal %d during start-up", what, WTERMSIG(st));
    return 1;
}

static void kill_child(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    reap_group(pid);
    untrack(pid);
}

/* Poll a log file for a line containing marker followed by a port number. */
static int wait_port_in_file(const char *path, const char *marker, pid_t pid, const char *what,
                             double timeout, int *port)
{
    double deadline = now_s() + timeout;
    for (;;) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[1024];
            while (fgets(line, sizeof line, f)) {
                const char *m = strstr(line, marker);
                if (m) {
                    long p = strtol(m + strlen(marker), NULL, 10);
                    if (p > 0 && p < 65536) {
                        fclose(f);
                        *port = (int)p;
                        return 0;
                    }
                }
            }
            fclose(f);
        }
        if (child_exited(pid, what))
            return -1;
        if (now_s() >= deadline) {
            say("%s did not print \"%sPORT\" within %.0f s", what, marker, timeout);
            kill_child(pid);
            return -1;
        }
        sleep_ms(20);
    }
}

/* ---- redis ---- */

/* Start redis on rec's port. 0 ready, 1 port clash (retry elsewhere), -1 failure. */
static int redis_launch(struct server_rec *r, harness_server_t *out)
{
    char out_log[600], err_log[600], reply[8192];
    snprintf(out_log, sizeof out_log, "%s/stdout.log", r->base);
    snprintf(err_log, sizeof err_log, "%s/stderr.log", r->base);
    pid_t pid = spawn_exe(r->argv[0], (const char *const *)r->argv, out_log, err_log);
    if (pid < 0)
        return -1;
    double deadline = now_s() + 15.0;
    for (;;) {
        int n = exchange(out->port, "PING\r\n", "\r\n", reply, sizeof reply);
        if (n > 0 && strncmp(reply, "+PONG", 5) == 0) {
            /* Is it ours? Another test may own a redis on this port. */
            n = exchange(out->port, "INFO server\r\n", "executable:", reply, sizeof reply);
            const char *p = n > 0 ? strstr(reply, "process_id:") : NULL;
            if (p && atoi(p + strlen("process_id:")) == (int)pid) {
                out->pid = pid;
                return 0;
            }
            if (p) {
                kill_child(pid);
                return 1;
            }
        }
        if (child_exited(pid, "redis-server")) {
            FILE *f = fopen(out_log, "r");
            char line[512];
            int clash = 0;
            while (f && fgets(line, sizeof line, f)) {
                if (strstr(line, "Address already in use"))
                    clash = 1;
            }
            if (f)
                fclose(f);
            if (!clash)
                show_tail(out_log);
            return clash ? 1 : -1;
        }
        if (now_s() >= deadline) {
            say("redis-server on port %d did not answer PING within 15 s", out->port);
            show_tail(out_log);
            kill_child(pid);
            return -1;
        }
        sleep_ms(10);
    }
}

int harness_redis_start(harness_server_t *out)
{
    char exe[PATH_MAX], base[512], portstr[16];
    memset(out, 0, sizeof *out);
    if (find_exe("redis-server", exe, sizeof exe) != 0) {
        say("redis-server not found on PATH: run scripts/test, which installs it, or "
            "apt-get install redis-server");
        return -1;
    }
    if (make_server_dirs("redis", out, base, sizeof base) != 0)
        return -1;
    const char *argv[] = {
        exe,      "--port",       "0",   "--bind",           "127.0.0.1", "--dir",
        out->dir, "--appendonly", "yes", "--appendfsync",    "everysec",  "--save",
        "",       "--daemonize",  "no",  "--protected-mode", "no",        NULL};
    struct server_rec *r = new_rec(KIND_REDIS, base, out->dir, argv, 2);
    if (r == NULL)
        return -1;
    for (int attempt = 0; attempt < 8; attempt++) {
        out->port = harness_free_port();
        if (out->port < 0) {
            say("no free loopback port: %s", strerror(errno));
            break;
        }
        snprintf(portstr, sizeof portstr, "%d", out->port);
        free(r->argv[2]);
        r->argv[2] = strdup(portstr);
        if (r->argv[2] == NULL)
            break;
        int rc = redis_launch(r, out);
        if (rc == 0) {
            snprintf(out->url, sizeof out->url, "redis://127.0.0.1:%d", out->port);
            return 0;
        }
        if (rc < 0)
            break;
        say("port %d was taken before redis-server bound it: retrying", out->port);
    }
    say("could not start redis-server (logs in %s)", base);
    free_rec(r);
    return -1;
}

/* ---- fakes3 ---- */

static void random_token(char *out, size_t len, const char *alphabet)
{
    unsigned char raw[64];
    size_t alen = strlen(alphabet);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, raw, len < sizeof raw ? len : sizeof raw) : -1;
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < len && i < sizeof raw; i++) {
        unsigned v = got > (ssize_t)i ? raw[i] : (unsigned)rand();
        out[i] = alphabet[v % alen];
    }
    out[len < sizeof raw ? len : sizeof raw] = 0;
}

static int find_fakes3(char *exe, size_t sz)
{
    const char *bin = getenv("FERRY_BIN_DIR");
    int len;
    if (bin && bin[0]) {
        len = snprintf(exe, sz, "%s/fakes3", bin);
        if (len > 0 && (size_t)len < sz && access(exe, X_OK) == 0)
            return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            len = snprintf(exe, sz, "%s/fakes3", self);
            if (len > 0 && (size_t)len < sz && access(exe, X_OK) == 0)
                return 0;
        }
    }
    say("fakes3 not found in $FERRY_BIN_DIR (%s) nor beside this test: build it "
        "(cmake --build build --target fakes3), or run scripts/test",
        bin ? bin : "unset");
    return -1;
}

static int fakes3_launch(struct server_rec *r, harness_server_t *out)
{
    char out_log[600], err_log[600];
    snprintf(out_log, sizeof out_log, "%s/stdout.log", r->base);
    snprintf(err_log, sizeof err_log, "%s/stderr.log", r->base);
    unlink(out_log); /* a restart must not read the old "ready" line */
    pid_t pid = spawn_exe(r->argv[0], (const char *const *)r->argv, out_log, err_log);
    if (pid < 0)
        return -1;
    int port = 0;
    if (wait_port_in_file(out_log, "ready ", pid, "fakes3", 20.0, &port) != 0) {
        show_tail(err_log);
        return -1;
    }
    out->pid = pid;
    out->port = port;
    snprintf(out->url, sizeof out->url, "http://127.0.0.1:%d", port);
    return 0;
}

int harness_fakes3_start(const char *personality, const char *const *extra, harness_server_t *out)
{
    char exe[PATH_MAX], base[512];
    memset(out, 0, sizeof *out);
    if (find_fakes3(exe, sizeof exe) != 0)
        return -1;
    if (make_server_dirs("fakes3", out, base, sizeof base) != 0)
        return -1;
    random_token(out->access_key, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    random_token(out->secret_key, 40,
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    const char *argv[MAX_ARGS] = {exe,
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--personality",
                                  personality ? personality : "s3",
                                  "--access-key",
                                  out->access_key,
                                  "--secret-key",
                                  out->secret_key};
    int n = 9;
    for (int i = 0; extra && extra[i]; i++) {
        if (n >= MAX_ARGS - 1) {
            say("too many extra arguments for fakes3");
            return -1;
        }
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    struct server_rec *r = new_rec(KIND_FAKES3, base, out->dir, argv, 2);
    if (r == NULL)
        return -1;
    if (fakes3_launch(r, out) != 0) {
        say("could not start fakes3 --personality %s (logs in %s)", argv[4], base);
        free_rec(r);
        return -1;
    }
    return 0;
}

/* ---- s3rver ---- */

static int s3rver_launch(struct server_rec *r, harness_server_t *out)
{
    char out_log[600], err_log[600], reply[4096];
    snprintf(out_log, sizeof out_log, "%s/stdout.log", r->base);
    snprintf(err_log, sizeof err_log, "%s/stderr.log", r->base);
    unlink(out_log);
    pid_t pid = spawn_exe(r->argv[0], (const char *const *)r->argv, out_log, err_log);
    if (pid < 0)
        return -1;
    int port = 0;
    /* Node starts slowly on a loaded 2-core machine: a generous deadline. */
    if (wait_port_in_file(out_log, "S3rver listening on 127.0.0.1:", pid, "s3rver", 60.0, &port) !=
        0) {
        show_tail(err_log);
        show_tail(out_log);
        return -1;
    }
    char req[256];
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
             port);
    double deadline = now_s() + 10.0;
    while (exchange(port, req, "\r\n\r\n", reply, sizeof reply) <= 0 ||
           strncmp(reply, "HTTP/1.1 200", 12) != 0) {
        if (child_exited(pid, "s3rver") || now_s() >= deadline) {
            say("s3rver on port %d does not answer GET / with 200", port);
            show_tail(out_log);
            kill_child(pid);
            return -1;
        }
        sleep_ms(50);
    }
    out->pid = pid;
    out->port = port;
    snprintf(out->url, sizeof out->url, "http://127.0.0.1:%d", port);
    return 0;
}

int harness_s3rver_start(const char *const *buckets, harness_server_t *out)
{
    char exe[PATH_MAX], base[512];
    memset(out, 0, sizeof *out);
    const char *root = getenv("FERRY_ROOT");
    if (root == NULL || root[0] == 0)
        root = FERRY_SOURCE_ROOT;
    snprintf(exe, sizeof exe, "%s/.deps/node_modules/.bin/s3rver", root);
    if (access(exe, X_OK) != 0) {
        say("s3rver not found at %s: run scripts/test, which installs it (npm, pinned in "
            "test/npm/package-lock.json)",
            exe);
        return -1;
    }
    char node[PATH_MAX];
    if (find_exe("node", node, sizeof node) != 0) {
        say("node not found on PATH (s3rver needs it): apt-get install nodejs");
        return -1;
    }
    if (make_server_dirs("s3rver", out, base, sizeof base) != 0)
        return -1;
    const char *argv[MAX_ARGS] = {exe,         "--directory", out->dir, "--address",
                                  "127.0.0.1", "--port",      "0"};
    int n = 7;
    for (int i = 0; buckets && buckets[i]; i++) {
        if (n >= MAX_ARGS - 2) {
            say("too many buckets for s3rver");
            return -1;
        }
        argv[n++] = "--configure-bucket";
        argv[n++] = buckets[i];
    }
    argv[n] = NULL;
    struct server_rec *r = new_rec(KIND_S3RVER, base, out->dir, argv, 6);
    if (r == NULL)
        return -1;
    snprintf(out->access_key, sizeof out->access_key, "S3RVER");
    snprintf(out->secret_key, sizeof out->secret_key, "S3RVER");
    if (s3rver_launch(r, out) != 0) {
        say("could not start s3rver (logs in %s)", base);
        free_rec(r);
        return -1;
    }
    return 0;
}

/* ---- restart ---- */

int harness_restart(harness_server_t *s)
{
    if (s == NULL)
        return -1;
    struct server_rec *r = find_rec(s->dir);
    if (r == NULL) {
        say("harness_restart: %s is not a server this harness started", s->dir);
        return -1;
    }
    /* SIGTERM: redis flushes its AOF on a clean shutdown. */
    if (s->pid > 0)
        harness_stop(s, SIGTERM);
    char portstr[32];
    if (r->kind == KIND_FAKES3)
        snprintf(portstr, sizeof portstr, "127.0.0.1:%d", s->port);
    else
        snprintf(portstr, sizeof portstr, "%d", s->port);
    free(r->argv[r->port_arg]);
    r->argv[r->port_arg] = strdup(portstr);
    if (r->argv[r->port_arg] == NULL)
        return -1;
    /* The port is fixed now; a clash can only be waited out. */
    for (int attempt = 0; attempt < 10; attempt++) {
        int rc;
        if (r->kind == KIND_REDIS)
            rc = redis_launch(r, s);
        else if (r->kind == KIND_FAKES3)
            rc = fakes3_launch(r, s) == 0 ? 0 : -1;
        else
            rc = s3rver_launch(r, s) == 0 ? 0 : -1;
        if (rc == 0)
            return 0;
        if (rc < 0)
            break;
        sleep_ms(200);
    }
    say("could not restart the server in %s on port %d", s->dir, s->port);
    return -1;
}

int harness_run(const char *cmdline, char *out, size_t outn, char *err, size_t errn)
{
    char ef[PATH_MAX + 32], cmd[16384];
    snprintf(ef, sizeof(ef), "%s/run-stderr.txt", harness_tmpdir());
    int n = snprintf(cmd, sizeof(cmd), "%s 2>'%s'", cmdline, ef);
    if (n < 0 || (size_t)n >= sizeof(cmd)) {
        fprintf(stderr, "harness_run: command longer than %zu bytes\n", sizeof(cmd));
        return 128;
    }
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        fprintf(stderr, "harness_run: popen: %s\n", strerror(errno));
        return 128;
    }
    size_t got = outn ? fread(out, 1, outn - 1, p) : 0;
    if (outn)
        out[got] = '\0';
    /* drain what did not fit, so the command never blocks on a full pipe */
    char sink[4096];
    while (fread(sink, 1, sizeof(sink), p) > 0)
        ;
    int st = pclose(p);
    FILE *f = fopen(ef, "r");
    got = f && errn ? fread(err, 1, errn - 1, f) : 0;
    if (errn)
        err[got] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- redis cluster ---- */

/* One cluster node (cluster-enabled, its own bus port) on a free port. 0 or -1. */
static int cluster_node_start(const char *exe, harness_server_t *out)
{
    char base[512], portstr[16], busstr[16];
    memset(out, 0, sizeof *out);
    if (make_server_dirs("redis-cluster", out, base, sizeof base) != 0)
        return -1;
    const char *argv[] = {exe,          "--port",
                          "0",          "--cluster-port",
                          "0",          "--bind",
                          "127.0.0.1",  "--dir",
                          out->dir,     "--cluster-enabled",
                          "yes",        "--cluster-config-file",
                          "nodes.conf", "--cluster-node-timeout",
                          "5000",       "--appendonly",
                          "yes",        "--appendfsync",
                          "everysec",   "--save",
                          "",           "--daemonize",
                          "no",         "--protected-mode",
                          "no",         NULL};
    struct server_rec *r = new_rec(KIND_REDIS, base, out->dir, argv, 2);
    if (r == NULL)
        return -1;
    for (int attempt = 0; attempt < 8; attempt++) {
        out->port = harness_free_port();
        int bus = harness_free_port();
        if (out->port < 0 || bus < 0 || bus == out->port) {
            say("no free loopback port: %s", strerror(errno));
            continue;
        }
        snprintf(portstr, sizeof portstr, "%d", out->port);
        snprintf(busstr, sizeof busstr, "%d", bus);
        free(r->argv[2]);
        free(r->argv[4]);
        r->argv[2] = strdup(portstr);
        r->argv[4] = strdup(busstr);
        if (r->argv[2] == NULL || r->argv[4] == NULL)
            break;
        int rc = redis_launch(r, out);
        if (rc == 0) {
            snprintf(out->url, sizeof out->url, "redis://127.0.0.1:%d", out->port);
            return 0;
        }
        if (rc < 0)
            break;
        say("port %d or %d was taken before redis-server bound it: retrying", out->port, bus);
    }
    say("could not start a redis-server cluster node (logs in %s)", base);
    free_rec(r);
    return -1;
}

int harness_redis_cluster_ok(const harness_server_t *node)
{
    char reply[4096];
    int n = exchange(node->port, "CLUSTER INFO\r\n", "cluster_known_nodes", reply, sizeof reply);
    return n > 0 && strstr(reply, "cluster_state:ok") != NULL;
}

int harness_redis_cluster_start(int n, harness_server_t *nodes)
{
    char exe[PATH_MAX], cli[PATH_MAX];
    if (n < 1 || n > 16) {
        say("harness_redis_cluster_start: 1..16 nodes, not %d", n);
        return -1;
    }
    if (find_exe("redis-server", exe, sizeof exe) != 0 ||
        find_exe("redis-cli", cli, sizeof cli) != 0) {
        say("redis-server or redis-cli not found on PATH: run scripts/test, which installs "
            "them, or apt-get install redis-server redis-tools");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (cluster_node_start(exe, &nodes[i]) != 0)
            return -1;
    char cmd[4096], out[8192], err[4096];
    int off = snprintf(cmd, sizeof cmd, "'%s' --cluster create", cli);
    for (int i = 0; i < n && off > 0 && (size_t)off < sizeof cmd; i++)
        off += snprintf(cmd + off, sizeof cmd - (size_t)off, " 127.0.0.1:%d", nodes[i].port);
    if (off < 0 || (size_t)off >= sizeof cmd - 64)
        return -1;
    snprintf(cmd + off, sizeof cmd - (size_t)off, " --cluster-replicas 0 --cluster-yes");
    int rc = harness_run(cmd, out, sizeof out, err, sizeof err);
    if (rc != 0) {
        say("redis-cli --cluster create failed (%d): %s%s", rc, out, err);
        return -1;
    }
    /* Every node must agree the cluster is up (gossip takes a moment). */
    double deadline = now_s() + 30.0;
    for (int i = 0; i < n; i++) {
        while (!harness_redis_cluster_ok(&nodes[i])) {
            if (now_s() >= deadline) {
                say("Redis Cluster node on port %d not ok within 30 s", nodes[i].port);
                return -1;
            }
            sleep_ms(50);
        }
    }
    return 0;
}
