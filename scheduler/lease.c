#include "lease.h"

#include "ferry/error.h"
#include "ferry/log.h"
#include "ferry/task.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const ferry_redis_script_t LUA_RENEW = {"lease_renew",
                                               "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                               "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                               "end\n"
                                               "return 0\n"};

static const ferry_redis_script_t LUA_RELEASE = {"lease_release",
                                                 "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                                 "  return redis.call('DEL', KEYS[1])\n"
                                                 "end\n"
                                                 "return 0\n"};

int ferry_lease_init(ferry_lease_t *l, ferry_redis_t *r, const char *task, int64_t ttl_ms,
                     const char *holder)
{
    memset(l, 0, sizeof(*l));
    if (task == NULL || !ferry_task_name_valid(task))
        return FERRY_EINVAL;
    l->r = r;
    l->ttl_ms = ttl_ms > 0 ? ttl_ms : 30000;
    snprintf(l->key, sizeof(l->key), "ferry:{%s}:lease", task);
    char host[64] = "host";
    if (holder == NULL || !*holder) {
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long rnd = ((unsigned long long)ts.tv_nsec << 20) ^ (unsigned long long)getpid() ^
                             ((unsigned long long)(uintptr_t)l << 7);
    snprintf(l->token, sizeof(l->token), "%.60s:%ld:%llx", holder && *holder ? holder : host,
             (long)getpid(), rnd & 0xffffffffffULL);
    return FERRY_OK;
}

/* KEYS: lease; ARGV: the dead holder's token, ours, ttl ms: take it only if still theirs. */
static const ferry_redis_script_t LUA_TAKEOVER = {
    "lease_takeover", "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                      "  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
                      "  return 1\n"
                      "end\n"
                      "return 0\n"};

/* 1 when token ("host:pid:random") names a process of this machine that no longer exists:
 * a scan killed with SIGKILL (ferry sync, task run) left its lease behind. */
static int holder_dead_here(const ferry_lease_t *l, const char *token)
{
    const char *c1 = strchr(token, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *m1 = strchr(l->token, ':');
    if (c2 == NULL || m1 == NULL || c1 - token != m1 - l->token ||
        memcmp(token, l->token, (size_t)(c1 - token)) != 0)
        return 0; /* another machine (or holder name): only its expiry frees it */
    char *end = NULL;
    long pid = strtol(c1 + 1, &end, 10);
    if (end != c2 || pid <= 0 || pid == (long)getpid())
        return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int ferry_lease_acquire(ferry_lease_t *l, char *who, size_t who_n)
{
    redisReply *rep = NULL;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)l->ttl_ms);
    const char *argv[6] = {"SET", l->key, l->token, "NX", "PX", ttl};
    int rc = ferry_redis_argv(l->r, 6, argv, NULL, &rep);
    if (rc)
        return rc;
    int ok = rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    if (ok) {
        l->held = 1;
        return FERRY_OK;
    }
    char cur[128] = "";
    const char *g[2] = {"GET", l->key};
    if (ferry_redis_argv(l->r, 2, g, NULL, &rep) == FERRY_OK) {
        if (rep->type == REDIS_REPLY_STRING)
            snprintf(cur, sizeof(cur), "%.*s", (int)rep->len, rep->str);
        freeReplyObject(rep);
    }
    if (cur[0] && holder_dead_here(l, cur)) {
        const char *targv[4] = {l->key, cur, l->token, ttl};
        if (ferry_redis_eval(l->r, &LUA_TAKEOVER, 1, 4, targv, NULL, &rep) == FERRY_OK) {
            long long v = ferry_redis_reply_int(rep, 0);
            freeReplyObject(rep);
            if (v == 1) {
                ferry_log(FERRY_LOG_WARN, "lease.taken_over", "lease", l->key, "previous", cur,
                          "reason", "its process on this machine is gone", NULL);
                l->held = 1;
                return FERRY_OK;
            }
        }
    }
    if (who && who_n)
        snprintf(who, who_n, "%s", cur);
    return FERRY_EBUSY;
}

int ferry_lease_renew(ferry_lease_t *l)
{
    redisReply *rep = NULL;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)l->ttl_ms);
    const char *argv[3] = {l->key, l->token, ttl};
    int rc = ferry_redis_eval(l->r, &LUA_RENEW, 1, 3, argv, NULL, &rep);
    if (rc)
        return rc;
    long long v = ferry_redis_reply_int(rep, 0);
    freeReplyObject(rep);
    if (v != 1) {
        l->held = 0;
        return FERRY_EBUSY;
    }
    return FERRY_OK;
}

int ferry_lease_release(ferry_lease_t *l)
{
    if (!l->held)
        return FERRY_OK;
    redisReply *rep = NULL;
    const char *argv[2] = {l->key, l->token};
    int rc = ferry_redis_eval(l->r, &LUA_RELEASE, 1, 2, argv, NULL, &rep);
    if (rc == FERRY_OK) {
        freeReplyObject(rep);
        l->held = 0;
    }
    return rc;
}
