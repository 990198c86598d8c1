/* The local `ferry worker` processes of ferry sync and ferry up (supervise.h has the contract:
 * entries, ownership, the order things stop). */
#include "supervise.h"

#include "ferry/clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    sup_t *s;
    uv_process_t proc;
    int alive;   /* the process runs */
    int closing; /* its handle is being closed */
    int asked;   /* reached by sup_stop or sup_signal_all */
    int pid;
    int64_t started_ms;
} kid_t;

struct sup_s {
    uv_loop_t *loop;
    int max;
    kid_t *kids; /* max entries */
    int alive;   /* processes running, asked or not */
    int running; /* alive and not asked */
    int closing; /* handles being closed */
    int log_fd;
    sup_exit_cb on_exit;
    void *ud;
    char *state_dir; /* owned copy, or NULL */
    char exe[4096];
};

static void on_closed(uv_handle_t *h)
{
    kid_t *k = h->data;
    k->closing = 0;
    k->s->closing--;
}

static void close_kid(kid_t *k)
{
    k->closing = 1;
    k->s->closing++;
    uv_close((uv_handle_t *)&k->proc, on_closed);
}

static void on_kid_exit(uv_process_t *p, int64_t status, int sig)
{
    kid_t *k = p->data;
    sup_t *s = k->s;
    sup_exit_t e = {
        .idx = (int)(k - s->kids),
        .pid = k->pid,
        .code = sig ? 128 + sig : (int)status,
        .sig = sig,
        .asked = k->asked,
        .ran_ms = ferry_mono_ms() - k->started_ms,
    };
    k->alive = 0;
    s->alive--;
    if (!k->asked)
        s->running--;
    close_kid(k);
    if (s->on_exit)
        s->on_exit(s->ud, &e);
}

int sup_new(const sup_cfg_t *cfg, sup_t **out, ferry_error_t *err)
{
    *out = NULL;
    if (cfg->loop == NULL || cfg->max < 1 || cfg->max > SUP_MAX)
        return ferry_error_set(err, FERRY_EINVAL, "workers: between 1 and %d at once, not %d",
                               SUP_MAX, cfg->max);
    sup_t *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->kids = calloc((size_t)cfg->max, sizeof(*s->kids))) == NULL ||
        (cfg->state_dir && (s->state_dir = strdup(cfg->state_dir)) == NULL)) {
        sup_free(s);
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    }
    s->loop = cfg->loop;
    s->max = cfg->max;
    s->log_fd = cfg->log_fd;
    s->on_exit = cfg->on_exit;
    s->ud = cfg->ud;
    int rc = FERRY_OK;
    ssize_t n = readlink("/proc/self/exe", s->exe, sizeof(s->exe) - 1);
    if (n <= 0) {
        rc = ferry_error_set(err, FERRY_EIO,
                             "cannot find its own executable (/proc/self/exe): %s; "
                             "the workers run this same binary",
                             strerror(errno));
        goto out;
    }
    s->exe[n] = '\0';
    char self[24];
    snprintf(self, sizeof(self), "%ld", (long)getpid());
    if ((cfg->redis_url && *cfg->redis_url && setenv("FERRY_REDIS_URL", cfg->redis_url, 1) != 0) ||
        setenv("FERRY_SYNC_PID", self, 1) != 0) {
        rc = ferry_error_set(err, FERRY_EIO,
                             "cannot set FERRY_REDIS_URL / FERRY_SYNC_PID for the workers: %s",
                             strerror(errno));
        goto out;
    }
out:
    if (rc) {
        sup_free(s);
        return rc;
    }
    *out = s;
    return FERRY_OK;
}

int sup_spawn(sup_t *s, char *const args[], int *idx, ferry_error_t *err)
{
    kid_t *k = NULL;
    for (int i = 0; i < s->max && k == NULL; i++)
        if (!s->kids[i].alive && !s->kids[i].closing)
            k = &s->kids[i];
    if (k == NULL)
        return ferry_error_set(err, FERRY_EBUSY, "every worker entry is in use");
    char *argv[4 + SUP_ARGS_MAX + 1];
    int n = 0;
    argv[n++] = s->exe;
    if (s->state_dir) {
        argv[n++] = "--state-dir";
        argv[n++] = s->state_dir;
    }
    argv[n++] = "worker";
    for (int i = 0; args && args[i]; i++) {
        if (i >= SUP_ARGS_MAX)
            return ferry_error_set(err, FERRY_EINVAL, "at most %d worker options", SUP_ARGS_MAX);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    uv_stdio_container_t io[3];
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = s->log_fd;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = s->log_fd;
    uv_process_options_t po;
    memset(&po, 0, sizeof(po));
    po.file = s->exe;
    po.args = argv;
    po.exit_cb = on_kid_exit;
    po.stdio = io;
    po.stdio_count = 3;
    memset(k, 0, sizeof(*k));
    k->s = s;
    k->proc.data = k;
    int rc = uv_spawn(s->loop, &k->proc, &po);
    if (rc) {
        close_kid(k); /* libuv wants the handle closed even when the spawn failed */
        return ferry_error_set(err, FERRY_ESPAWN,
                               "cannot start %s worker: %s (check that this binary is still in "
                               "place and the process limit, ulimit -u)",
                               s->exe, uv_strerror(rc));
    }
    k->alive = 1;
    k->pid = k->proc.pid;
    k->started_ms = ferry_mono_ms();
    s->alive++;
    s->running++;
    if (idx)
        *idx = (int)(k - s->kids);
    return FERRY_OK;
}

static void ask(sup_t *s, kid_t *k, int sig)
{
    if (!k->asked) {
        k->asked = 1;
        s->running--;
    }
    uv_process_kill(&k->proc, sig); /* ESRCH: it exited; its exit callback comes next */
}

int sup_stop(sup_t *s, int idx)
{
    if (idx < 0 || idx >= s->max || !s->kids[idx].alive || s->kids[idx].asked)
        return FERRY_ENOTFOUND;
    ask(s, &s->kids[idx], SIGTERM);
    return FERRY_OK;
}

void sup_signal_all(sup_t *s, int sig)
{
    for (int i = 0; i < s->max; i++)
        if (s->kids[i].alive)
            ask(s, &s->kids[i], sig);
}

int sup_child(const sup_t *s, int idx, sup_child_t *c)
{
    if (idx < 0 || idx >= s->max || !s->kids[idx].alive)
        return FERRY_ENOTFOUND;
    const kid_t *k = &s->kids[idx];
    c->pid = k->pid;
    c->asked = k->asked;
    c->started_ms = k->started_ms;
    return FERRY_OK;
}

int sup_max(const sup_t *s)
{
    return s->max;
}

int sup_alive(const sup_t *s)
{
    return s->alive;
}

int sup_running(const sup_t *s)
{
    return s->running;
}

int sup_idle(const sup_t *s)
{
    return s->alive == 0 && s->closing == 0;
}

int sup_free(sup_t *s)
{
    if (s == NULL)
        return FERRY_OK;
    if (!sup_idle(s))
        return FERRY_EBUSY;
    free(s->kids);
    free(s->state_dir);
    free(s);
    return FERRY_OK;
}
