/* ferry scheduler — the scaling policy (see scale.h). */
#include "scale.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/clock.h"
#include "ferry/ledger.h"
#include "ferry/status.h"
#include "ferry/stats.h"
#include "ferry/task.h"

#define STATE_TTL_S  86400
#define RATE_MIN_DT  1000 /* ms between rate samples */
#define RATE_WEIGHT  0.5  /* weight of a new sample in the moving average */
#define STATE_FIELDS 8

void ferry_scale_state_init(ferry_scale_state_t *st)
{
    memset(st, 0, sizeof(*st));
    st->desired = -1;
}

static int clampi(long long v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)v;
}

/* Measure the per-worker rates from the cumulative counters, only while jobs wait undelivered
 * (the workers are then busy to their concurrency: the rate is their capacity, not the
 * backlog's trickle). */
static void sample(const ferry_scale_in_t *in, ferry_scale_state_t *st, int64_t now)
{
    if (st->sample_ms == 0 || now < st->sample_ms) {
        st->sample_ms = now;
        st->sample_objects = in->done_objects;
        st->sample_bytes = in->done_bytes;
        return;
    }
    int64_t dt = now - st->sample_ms;
    if (dt < RATE_MIN_DT)
        return;
    long long dobj = in->done_objects - st->sample_objects;
    long long dbytes = in->done_bytes - st->sample_bytes;
    st->sample_ms = now;
    st->sample_objects = in->done_objects;
    st->sample_bytes = in->done_bytes;
    /* counters that went back (records re-queued) or workers that were not saturated */
    if (dobj <= 0 || dbytes < 0 || in->lag <= 0 || in->actual <= 0)
        return;
    double secs = (double)dt / 1000.0;
    double ops = (double)dobj / secs / (double)in->actual;
    double bps = (double)dbytes / secs / (double)in->actual;
    /* One sample says how long a mix took, not which of the object count or the bytes bound
     * it: small objects measure the per-object rate, large ones the bandwidth. */
    if (dbytes / dobj < FERRY_SCALE_LARGE)
        st->ops = st->ops > 0 ? st->ops + (ops - st->ops) * RATE_WEIGHT : ops;
    else
        st->bps = st->bps > 0 ? st->bps + (bps - st->bps) * RATE_WEIGHT : bps;
}

#define INPUT_MAX 1000000000000000LL /* 1e15: inputs past it are read as it */

static long long bounded(long long v)
{
    return v < 0 ? 0 : v > INPUT_MAX ? INPUT_MAX : v;
}

void ferry_scale_decide(const ferry_scale_cfg_t *cfg, const ferry_scale_in_t *in_raw,
                        ferry_scale_state_t *st, int64_t now_ms, ferry_scale_out_t *out)
{
    memset(out, 0, sizeof(*out));
    /* Inputs and a state read back from Redis are bounded first: no overflow on any of them. */
    ferry_scale_in_t inb = {.lag = bounded(in_raw->lag),
                            .pending = bounded(in_raw->pending),
                            .bytes = bounded(in_raw->bytes),
                            .actual = bounded(in_raw->actual),
                            .concurrency = bounded(in_raw->concurrency),
                            .done_objects = bounded(in_raw->done_objects),
                            .done_bytes = bounded(in_raw->done_bytes)};
    const ferry_scale_in_t *in = &inb;
    st->sample_objects = bounded(st->sample_objects);
    st->sample_bytes = bounded(st->sample_bytes);
    if (st->low_since_ms < 0 || st->sample_ms < 0 || now_ms < 0 || now_ms > INPUT_MAX) {
        st->low_since_ms = st->sample_ms = 0;
        now_ms = now_ms < 0 ? 0 : now_ms > INPUT_MAX ? INPUT_MAX : now_ms;
    }
    if (!(st->ops >= 0 && st->ops < 1e12) || !(st->bps >= 0 && st->bps < 1e15))
        st->ops = st->bps = 0;
    int lo = clampi(cfg->min, 0, FERRY_SCALE_MAX);
    int hi = clampi(cfg->max, lo, FERRY_SCALE_MAX);
    out->min = lo;
    out->max = hi;
    int64_t cooldown = cfg->cooldown_ms > 0 ? cfg->cooldown_ms : FERRY_SCALE_COOLDOWN_MS;
    double drain =
        (double)(cfg->drain_target_ms > 0 ? cfg->drain_target_ms : FERRY_SCALE_DRAIN_TARGET_MS) /
        1000.0;
    double conc = cfg->concurrency > 0 ? cfg->concurrency : FERRY_SCALE_CONCURRENCY;
    if (in->actual > 0 && in->concurrency > 0)
        conc = (double)in->concurrency / (double)in->actual;
    if (conc < 1)
        conc = 1;

    sample(in, st, now_ms);
    out->measured = (st->ops > 0) + 2 * (st->bps > 0);
    out->ops =
        st->ops > 0 ? st->ops : (cfg->worker_ops > 0 ? cfg->worker_ops : FERRY_SCALE_WORKER_OPS);
    out->bps =
        st->bps > 0 ? st->bps : (cfg->worker_bps > 0 ? cfg->worker_bps : FERRY_SCALE_WORKER_BPS);

    long long jobs = (in->lag > 0 ? in->lag : 0) + (in->pending > 0 ? in->pending : 0);
    long long bytes = in->bytes > 0 ? in->bytes : 0;
    const char *why;
    long long raw;
    if (jobs == 0) {
        raw = 0;
        why = "idle";
    } else {
        double by_jobs = (double)jobs / out->ops, by_bytes = (double)bytes / out->bps;
        out->work_s = by_jobs > by_bytes ? by_jobs : by_bytes;
        why = by_jobs >= by_bytes ? "backlog" : "bytes";
        double w = ceil(out->work_s / drain);
        double cap = ceil((double)jobs / conc);
        if (w > cap) {
            w = cap;
            why = "capped"; /* every worker would already hold c jobs */
        }
        if (w < 1)
            w = 1;
        raw = w > FERRY_SCALE_MAX ? FERRY_SCALE_MAX : (long long)w;
    }
    out->raw = (int)raw;
    int target = clampi(raw, lo, hi);
    if (target != raw)
        why = raw < lo ? "min" : "max";
    out->target = target;

    if (st->desired > hi) { /* a smaller max applies at once; the rest waits the cooldown */
        st->desired = hi;
        st->changed_ms = now_ms;
    }
    int cur = st->desired;
    if (cur < 0 || target >= cur) { /* first answer, or up: at once */
        if (cur != target)
            st->changed_ms = now_ms;
        st->desired = target;
        st->low_since_ms = 0;
    } else { /* target < cur: down only after the cooldown */
        if (st->low_since_ms == 0 || now_ms < st->low_since_ms)
            st->low_since_ms = now_ms;
        int64_t held = now_ms - st->low_since_ms;
        if (held >= cooldown) {
            st->desired = target;
            st->changed_ms = now_ms;
            st->low_since_ms = 0;
        } else {
            out->cooldown_left_ms = cooldown - held;
            why = "cooldown";
        }
    }
    out->desired = st->desired;
    out->reason = why;
}

int ferry_scale_parse_range(const char *s, int *min, int *max)
{
    if (s == NULL || *s == '\0')
        return FERRY_EINVAL;
    long v[2];
    int nv = 0;
    const char *p = s;
    for (;;) {
        if (*p < '0' || *p > '9' || nv >= 2)
            return FERRY_EINVAL;
        char *end;
        v[nv] = strtol(p, &end, 10);
        if (end - p > 6 || v[nv] > FERRY_SCALE_MAX)
            return FERRY_EINVAL;
        nv++;
        p = end;
        if (*p == '\0')
            break;
        if (strncmp(p, "..", 2) != 0 || nv != 1)
            return FERRY_EINVAL;
        p += 2;
    }
    if (nv == 1)
        v[1] = v[0];
    if (v[0] > v[1] || v[1] < 1)
        return FERRY_EINVAL;
    *min = (int)v[0];
    *max = (int)v[1];
    return FERRY_OK;
}

/* ---- Redis ------------------------------------------------------------------------------- */

static void state_key(char *buf, size_t n, const char *task)
{
    if (task)
        snprintf(buf, n, "ferry:{%s}:scale", task);
    else
        snprintf(buf, n, "ferry:scale");
}

/* Add one task's queue and ledger figures to in. */
static int add_task(ferry_redis_t *r, const char *task, ferry_scale_in_t *in)
{
    ferry_stream_stats_t st[2];
    long long dead = 0;
    int rc = ferry_stats_streams(r, task, st, &dead);
    if (rc)
        return rc;
    for (int i = 0; i < 2; i++) {
        /* lag -1: the server does not say (Redis < 7): what is not pending */
        long long lag = st[i].lag >= 0 ? st[i].lag : st[i].length - st[i].pending;
        in->lag += lag > 0 ? lag : 0;
        in->pending += st[i].pending;
    }
    ferry_ledger_t *led = NULL;
    ferry_counters_t c;
    if ((rc = ferry_status_ledger_any(r, task, &led)) != FERRY_OK)
        return rc;
    rc = ferry_ledger_counters(led, &c);
    ferry_ledger_free(led);
    if (rc)
        return rc;
    in->bytes += c.bytes[FERRY_STATE_QUEUED] + c.bytes[FERRY_STATE_COPYING];
    in->done_objects += c.objects[FERRY_STATE_DONE] + c.objects[FERRY_STATE_FAILED] +
                        c.objects[FERRY_STATE_DELETED];
    in->done_bytes += c.bytes[FERRY_STATE_DONE];
    return FERRY_OK;
}

static int read_inputs(ferry_redis_t *r, const char *task, ferry_scale_in_t *in)
{
    memset(in, 0, sizeof(*in));
    int rc;
    if (task) {
        ferry_task_t t;
        ferry_task_init(&t);
        rc = ferry_task_get(r, task, &t);
        ferry_task_clear(&t);
        if (rc == FERRY_OK)
            rc = add_task(r, task, in);
    } else {
        char **names = NULL;
        size_t n = 0;
        rc = ferry_task_list(r, &names, &n);
        for (size_t i = 0; i < n; i++) {
            if (rc == FERRY_OK) {
                int k = add_task(r, names[i], in);
                if (k != FERRY_ENOTFOUND) /* removed meanwhile */
                    rc = k;
            }
            free(names[i]);
        }
        free(names);
    }
    if (rc)
        return rc;
    ferry_heartbeat_t *hb = NULL;
    size_t nhb = 0;
    if ((rc = ferry_stats_workers(r, task, &hb, &nhb)) != FERRY_OK)
        return rc;
    in->actual = (long long)nhb;
    for (size_t i = 0; i < nhb; i++)
        in->concurrency += hb[i].concurrency;
    free(hb);
    return FERRY_OK;
}

static long long field_ll(const redisReply *rep, const char *name, long long dflt)
{
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *k = rep->element[i], *v = rep->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            strcmp(k->str, name) == 0)
            return strtoll(v->str, NULL, 10);
    }
    return dflt;
}

static double field_d(const redisReply *rep, const char *name)
{
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *k = rep->element[i], *v = rep->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            strcmp(k->str, name) == 0) {
            double d = strtod(v->str, NULL);
            return isfinite(d) && d > 0 ? d : 0;
        }
    }
    return 0;
}

static int load_state(ferry_redis_t *r, const char *key, ferry_scale_state_t *st, int64_t *at)
{
    ferry_scale_state_init(st);
    if (at)
        *at = 0;
    redisReply *rep = NULL;
    int rc = ferry_redis_cmd(r, &rep, "HGETALL %s", key);
    if (rc)
        return rc;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
        st->desired = clampi(field_ll(rep, "desired", -1), -1, FERRY_SCALE_MAX);
        st->low_since_ms = field_ll(rep, "low_since", 0);
        st->changed_ms = field_ll(rep, "changed", 0);
        st->sample_ms = field_ll(rep, "sample_at", 0);
        st->sample_objects = field_ll(rep, "sample_objects", 0);
        st->sample_bytes = field_ll(rep, "sample_bytes", 0);
        st->ops = field_d(rep, "ops");
        st->bps = field_d(rep, "bps");
        if (at)
            *at = field_ll(rep, "at", 0);
    }
    freeReplyObject(rep);
    return FERRY_OK;
}

int ferry_scale_hosts(ferry_redis_t *r, const char *member, int *rank, int *n)
{
    int64_t now = ferry_wall_ms();
    redisReply *rep = NULL;
    char score[24], since[24];
    snprintf(score, sizeof(score), "%lld", (long long)now);
    snprintf(since, sizeof(since), "(%lld", (long long)(now - FERRY_SCALE_HOST_TTL_MS));
    int rc = FERRY_OK;
    if (member) {
        const char *add[] = {"ZADD", FERRY_SCALE_HOSTS_KEY, score, member};
        rc = ferry_redis_argv(r, 4, add, NULL, &rep);
        freeReplyObject(rep);
        rep = NULL;
    }
    const char *rm[] = {"ZREMRANGEBYSCORE", FERRY_SCALE_HOSTS_KEY, "-inf", since};
    if (rc == FERRY_OK)
        rc = ferry_redis_argv(r, 4, rm, NULL, &rep);
    freeReplyObject(rep);
    rep = NULL;
    const char *all[] = {"ZRANGE", FERRY_SCALE_HOSTS_KEY, "0", "1023"};
    if (rc == FERRY_OK)
        rc = ferry_redis_argv(r, 4, all, NULL, &rep);
    if (rc)
        return rc;
    int cnt = 0, before = 0, seen = 0;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        cnt++;
        if (member) {
            int c = strcmp(e->str, member);
            before += c < 0;
            seen |= c == 0;
        }
    }
    freeReplyObject(rep);
    *n = member && !seen ? cnt + 1 : cnt;
    if (rank)
        *rank = before;
    return FERRY_OK;
}

int ferry_scale_last(ferry_redis_t *r, const char *task, int *desired, int64_t *at_ms)
{
    char key[128];
    ferry_scale_state_t st;
    state_key(key, sizeof(key), task);
    int rc = load_state(r, key, &st, at_ms);
    *desired = rc == FERRY_OK ? st.desired : -1;
    return rc;
}

int ferry_scale_eval(ferry_redis_t *r, const char *task, const ferry_scale_cfg_t *cfg,
                     ferry_scale_in_t *in, ferry_scale_out_t *out)
{
    ferry_scale_in_t in_l;
    ferry_scale_out_t out_l;
    ferry_scale_state_t st;
    char key[128];
    if (task && !ferry_task_name_valid(task))
        return FERRY_ENOTFOUND;
    in = in ? in : &in_l;
    out = out ? out : &out_l;
    int rc = read_inputs(r, task, in);
    state_key(key, sizeof(key), task);
    if (rc == FERRY_OK)
        rc = load_state(r, key, &st, NULL);
    if (rc)
        return rc;
    ferry_scale_cfg_t c = *cfg;
    int hosts = 1;
    if (cfg->per_host) {
        if ((rc = ferry_scale_hosts(r, NULL, NULL, &hosts)) != FERRY_OK)
            return rc;
        hosts = hosts < 1 ? 1 : hosts > 1024 ? 1024 : hosts;
        c.min = clampi((long long)cfg->min * hosts, 0, FERRY_SCALE_MAX);
        c.max = clampi((long long)cfg->max * hosts, 0, FERRY_SCALE_MAX);
    }
    int64_t now = ferry_wall_ms();
    ferry_scale_decide(&c, in, &st, now, out);
    out->hosts = hosts;
    char v[STATE_FIELDS + 1][32];
    snprintf(v[0], 32, "%d", st.desired);
    snprintf(v[1], 32, "%lld", (long long)st.low_since_ms);
    snprintf(v[2], 32, "%lld", (long long)st.changed_ms);
    snprintf(v[3], 32, "%lld", (long long)st.sample_ms);
    snprintf(v[4], 32, "%lld", st.sample_objects);
    snprintf(v[5], 32, "%lld", st.sample_bytes);
    snprintf(v[6], 32, "%.6g", st.ops);
    snprintf(v[7], 32, "%.6g", st.bps);
    snprintf(v[8], 32, "%lld", (long long)now);
    static const char *const F[] = {
        "desired",      "low_since", "changed", "sample_at", "sample_objects",
        "sample_bytes", "ops",       "bps",     "at"};
    const char *argv[2 + 2 * (STATE_FIELDS + 1)];
    int n = 0;
    argv[n++] = "HSET";
    argv[n++] = key;
    for (int i = 0; i <= STATE_FIELDS; i++) {
        argv[n++] = F[i];
        argv[n++] = v[i];
    }
    redisReply *rep = NULL;
    if ((rc = ferry_redis_argv(r, n, argv, NULL, &rep)) != FERRY_OK)
        return rc;
    freeReplyObject(rep);
    rep = NULL;
    if ((rc = ferry_redis_cmd(r, &rep, "EXPIRE %s %d", key, STATE_TTL_S)) != FERRY_OK)
        return rc;
    freeReplyObject(rep);
    return FERRY_OK;
}

static const char *const MEASURED[] = {"none", "objects", "bytes", "both"};

json_t *ferry_scale_json(const char *task, const ferry_scale_cfg_t *cfg, const ferry_scale_in_t *in,
                         const ferry_scale_out_t *out)
{
    json_t *j = json_pack(
        "{s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:{s:f,s:f,s:s},s:i,s:i,s:I}", "desired",
        out->desired, "target", out->target, "actual", (json_int_t)in->actual, "lag",
        (json_int_t)in->lag, "pending", (json_int_t)in->pending, "jobs",
        (json_int_t)(in->lag + in->pending), "bytes", (json_int_t)in->bytes, "concurrency",
        (json_int_t)in->concurrency, "reason", out->reason ? out->reason : "", "rate",
        "objects_per_s", out->ops, "bytes_per_s", out->bps, "measured", MEASURED[out->measured & 3],
        "min", out->min, "max", out->max, "cooldown_left_ms", (json_int_t)out->cooldown_left_ms);
    if (j)
        json_object_set_new(j, "hosts", json_integer(out->hosts > 0 ? out->hosts : 1));
    if (j && task)
        json_object_set_new(j, "task", json_string(task));
    return j;
}
