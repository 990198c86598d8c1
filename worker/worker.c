/* ferry worker — the job loop (see worker.h and docs/internals/worker.md). */
#include "worker.h"

#include "copy.h"
#include "ring.h"

#include "ferry/clock.h"
#include "ferry/errcode.h"
#include "ferry/http.h"
#include "ferry/k8s.h"
#include "ferry/ledger.h"
#include "ferry/list.h"
#include "ferry/log.h"
#include "ferry/queue.h"
#include "ferry/redis.h"
#include "ferry/s3.h"
#include "ferry/side.h"
#include "ferry/stats.h"
#include "ferry/task.h"
#include "ferry/text.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define TASKS_MAX        256
#define JANITOR_MAX_SCAN 1000
#define STATS_EVERY_MS   1000  /* flush the in-memory statistics to Redis */
#define HEARTBEAT_MS     5000  /* write the heartbeat */
#define FEEDER_BLOCK_MS  100   /* the feeder's XREADGROUP BLOCK when it waits for work */
#define HEARTBEAT_TTL_MS 15000 /* a heartbeat not renewed within this is gone */

typedef struct worker_s worker_t;
typedef struct wtask_s wtask_t;

/* What an S3 client's observer callbacks get: the task and which side. */
typedef struct wobs_s {
    wtask_t *t;
    const char *side; /* "src" / "dst" */
} wobs_t;

/* A task as the loop thread serves it: ledger and queue on the loop's connection, the two
 * S3 clients and the copy environment. */
typedef struct wtask_s {
    struct wtask_s *next;
    worker_t *w;
    ferry_task_t task;
    ferry_ledger_t *led;
    ferry_queue_t *q;
    ferry_side_t *src, *dst;
    ferry_s3_t *s3s, *s3d;
    ferry_copy_env_t env;
    int broken; /* sides could not be resolved: every job fails with broken_err */
    ferry_error_t broken_err;
    int janitor_busy;
    ferry_s3_op_t *janitor_op;
    ferry_stats_t *stats; /* loop thread: counters and histograms, flushed every second */
    wobs_t obs[2];        /* observers of s3s and s3d */
} wtask_t;

typedef struct wjob_s {
    ferry_list_t link; /* in w->jobs */
    worker_t *w;
    wtask_t *t;
    ferry_job_t job;
    char token[96];
    ferry_copy_t *copy;
    ferry_s3_op_t *del_op;
    uint64_t t0, renewed;
    int lost;
    uint32_t attempts; /* the record's, this one included (the ledger's start counts) */
    int had_copy;      /* the record named a destination copy when the job started */
    /* the multipart upload this copy holds open, "" none */
    char upload_id[FERRY_UPLOAD_ID_MAX + 1];
} wjob_t;

/* A job the feeder has started (ledger start: lease taken, record copying), handed to the
 * loop. */
typedef struct handoff_s {
    char task[FERRY_TASK_NAME_MAX + 1];
    ferry_job_t job;
    char token[96];
    /* the record's open multipart upload, for a resume */
    char upload_id[FERRY_UPLOAD_ID_MAX + 1];
    uint32_t attempts; /* the record's attempts, this start included */
    int had_copy;      /* the record named a destination copy (dst etag) */
} handoff_t;

/* An outcome for the committer thread to record (finish, then ack or nack), and the newer
 * source version to queue when the copy saw one. Owns copies of every string. */
typedef struct commit_s {
    struct commit_s *next;
    char task[FERRY_TASK_NAME_MAX + 1];
    ferry_job_t job;
    char token[96];
    ferry_outcome_t o;
    int64_t delay;
    char etag[FERRY_ETAG_MAX + 1], dst_etag[FERRY_ETAG_MAX + 1], seq[FERRY_SEQ_MAX + 1];
    char error[FERRY_ERRMSG_MAX + 1];
    char checks[FERRY_CHECKS_MAX + 1];
    int requeue;
    uint64_t new_size;
    int64_t new_mtime;
    char new_etag[FERRY_ETAG_MAX + 1];
} commit_t;

/* The worker's one shutdown state. Only the loop moves it, forward only, under mu (set_state),
 * and reads it bare; the feeder and the committer read it under mu. The order things stop:
 * worker.h, "Stopping". */
typedef enum wstate_e {
    WS_RUN,   /* the feeder pulls, the loop copies, the committer gathers batches */
    WS_DRAIN, /* no new work (a signal, the consumer name lost, or the feeder ended: idle or
                 failed): the feeder stops pulling, hand-offs still arriving are handed back,
                 copies in flight get the grace period, the committer records at once and
                 wakes the loop after every batch */
    WS_LAST,  /* feeder joined, no job in flight, every outcome recorded: the committer exits */
    WS_CLOSED /* committer joined, timers and clients closed: uv_run returns */
} wstate_t;

/* How the feeder thread ended (under mu; the loop acts on it after joining the feeder). */
typedef enum fend_e {
    FEEDER_RUNNING,
    FEEDER_STOPPED, /* it saw WS_DRAIN */
    FEEDER_IDLE,    /* exit_when_idle: nothing in flight and every stream served is empty */
    FEEDER_FAILED   /* no Redis connection, out of memory or a --task that does not exist:
                       feeder_err says which */
} fend_t;

/* The process. Three threads share it: the loop (ferry_worker_run's thread), the feeder
 * (feeder_main) and the committer (committer_main). worker.h has the table of who writes each
 * shared field and what guards it; a field it does not list belongs to the loop. */
struct worker_s {
    ferry_worker_opts_t o;
    uv_loop_t loop;
    ferry_http_t *http;
    ferry_redis_t *r; /* the loop's Redis connection */
    wtask_t *tasks;
    ferry_list_t jobs; /* the loop's jobs (wjob_t.link), newest first */
    unsigned njobs;
    ferry_copy_pool_t pool;
    uv_async_t async;
    uv_signal_t sigterm, sigint;
    uv_timer_t renew, grace, janitor, stats;
    uint64_t heartbeat_at; /* uv_now of the last heartbeat */
    pthread_mutex_t mu;
    wstate_t state; /* see wstate_t (mu) */
    /* The feeder thread: pulls jobs on its own connection, takes their leases, hands them over. */
    pthread_t feeder;
    int feeder_joined; /* loop: joined, or never started */
    pthread_cond_t cv;
    /* jobs handed over (mu): concurrency + 1 entries, never more than busy allows */
    handoff_t *hand;
    size_t nhand;              /* (mu) */
    unsigned busy;             /* jobs handed over and not yet recorded: the slots taken (mu) */
    fend_t feeder_end;         /* (mu) */
    ferry_error_t feeder_err;  /* (mu) */
    long long feeder_block_id; /* the feeder's CLIENT ID while it may block on Redis, else 0 (mu) */
    /* The committer thread: its own Redis connection records outcomes off the loop. */
    pthread_t committer;
    int committer_started; /* loop: running and not yet joined */
    ferry_redis_t *rc_conn;
    pthread_cond_t c_cv;
    commit_t *c_head, *c_tail; /* outcomes posted, in order (mu) */
    unsigned c_queued;         /* in the list above (mu) */
    int c_gathering;           /* the committer waits for a fuller batch (mu) */
    unsigned commits;          /* posted and not yet recorded (mu) */
    unsigned long long n_done, n_failed, n_skipped, n_retry, n_canceled;
    /* Pipeline figures for worker.stopped: how well the threads batch their round trips. Each
     * is written by one thread and read after it has been joined. */
    unsigned long long feeds, fed;      /* feeder: lease batches, jobs in them */
    unsigned long long cbatches, cjobs; /* committer: finish batches, jobs in them */
    int pid;
    int claimed;                              /* the consumer name is ours (ferry_queue_claim) */
    char auto_consumer[FERRY_WORKER_MAX + 1]; /* o.consumer points here with slot_auto */
    uint64_t renewed_claim;
    uint64_t started_ns;
    int64_t started_ms; /* wall clock, for the heartbeat */
    int rc;             /* the run's result, with err saying why */
    ferry_error_t err;
};

/* Append v in decimal (the copy-lease token's parts). */
static void cat_u64(char *out, size_t cap, size_t *len, unsigned long long v)
{
    char d[FERRY_DEC_MAX];
    (void)ferry_str_cat(out, cap, len, d, ferry_utoa(d, v));
}

static void maybe_exit(worker_t *w);

/* Move the state forward (never back) and wake the feeder and the committer to look at it. */
static void set_state(worker_t *w, wstate_t s)
{
    pthread_mutex_lock(&w->mu);
    if (s > w->state)
        w->state = s;
    pthread_cond_broadcast(&w->cv);
    pthread_cond_signal(&w->c_cv);
    pthread_mutex_unlock(&w->mu);
}

/* ---- the feeder thread --------------------------------------------------------------------- */

typedef struct ftask_s {
    char name[FERRY_TASK_NAME_MAX + 1];
    ferry_ledger_t *led;
    ferry_queue_t *q;
} ftask_t;

static int feeder_open(worker_t *w, ferry_redis_t *r, const char *name, ftask_t *ft)
{
    ferry_task_t t;
    ferry_task_init(&t);
    int rc = ferry_task_get(r, name, &t);
    uint32_t buckets = t.ledger_buckets, shards = t.ledger_shards;
    ferry_task_clear(&t);
    if (rc != FERRY_OK)
        return rc;
    snprintf(ft->name, sizeof(ft->name), "%s", name);
    rc = ferry_ledger_open_sharded(r, name, buckets, shards, &ft->led);
    if (rc != FERRY_OK)
        return rc;
    ferry_queue_opts_t qo = {.consumer = w->o.consumer,
                             .visibility_ms = w->o.visibility_ms,
                             .max_deliveries = w->o.delivery_cap};
    rc = ferry_queue_open(ft->led, &qo, &ft->q);
    if (rc != FERRY_OK) {
        ferry_ledger_free(ft->led);
        ft->led = NULL;
    }
    return rc;
}

static void feeder_push(worker_t *w, const char *task, const ferry_job_t *job, const char *token,
                        const ferry_record_t *rec)
{
    pthread_mutex_lock(&w->mu);
    handoff_t *h = &w->hand[w->nhand++];
    ferry_str_copy(h->task, sizeof(h->task), task);
    h->job = *job;
    ferry_str_copy(h->token, sizeof(h->token), token);
    ferry_str_copy(h->upload_id, sizeof(h->upload_id), rec->upload_id);
    h->attempts = rec->attempts;
    h->had_copy = rec->dst_etag[0] != '\0';
    w->busy++;
    pthread_mutex_unlock(&w->mu);
}

/* After the job's copy lease was asked for (ledger start): hand it over when it is ours to
 * copy, else ack or put it back. */
static void feeder_settle(worker_t *w, ftask_t *ft, const ferry_job_t *job, const char *token,
                          int rc, int res, const ferry_record_t *rec)
{
    if (rc != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN, "job.start_failed", "task", ft->name, "key", job->key, "error",
                  ferry_redis_error(ferry_ledger_redis(ft->led))->msg, NULL);
        ferry_queue_nack(ft->q, job, 1000);
        return;
    }
    if (res == FERRY_START_DONE || res == FERRY_START_GONE) {
        if (ferry_queue_ack(ft->q, job) != FERRY_OK)
            ferry_log(FERRY_LOG_WARN, "job.ack_failed", "task", ft->name, "key", job->key, "error",
                      ferry_redis_error(ferry_ledger_redis(ft->led))->msg, NULL);
        return;
    }
    if (res == FERRY_START_BUSY) {
        /* Another live holder copies this key (a dead one of our own slot would have been
         * taken over): look again once its lease could have lapsed. Not an attempt: the
         * delivery this costs only counts towards the high safety cap. */
        ferry_queue_nack(ft->q, job, w->o.lease_ms / 2 > 1000 ? w->o.lease_ms / 2 : 1000);
        return;
    }
    feeder_push(w, ft->name, job, token, rec);
}

/* Take the jobs' copy leases on the feeder's connection, all in one pipeline, so that the loop
 * never waits for them and a batch costs one round trip. */
static void feeder_start_all(worker_t *w, ftask_t *ft, const ferry_job_t *jobs, int n,
                             ferry_record_t *recs, unsigned long long *seq)
{
    ferry_start_item_t *it = calloc((size_t)n, sizeof(*it));
    char(*tokens)[96] = calloc((size_t)n, sizeof(*tokens));
    if (it == NULL || tokens == NULL) {
        for (int i = 0; i < n; i++) /* back to the queue; re-delivered later */
            ferry_queue_nack(ft->q, &jobs[i], 1000);
        free(it);
        free(tokens);
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t tl = 0; /* "consumer/pid/fSEQ", as snprintf "%s/%d/f%llu" would write it */
        tokens[i][0] = '\0';
        (void)ferry_str_cat(tokens[i], sizeof(tokens[i]), &tl, w->o.consumer,
                            strlen(w->o.consumer));
        (void)ferry_str_cat(tokens[i], sizeof(tokens[i]), &tl, "/", 1);
        if (w->pid < 0)
            (void)ferry_str_cat(tokens[i], sizeof(tokens[i]), &tl, "-", 1);
        cat_u64(tokens[i], sizeof(tokens[i]), &tl,
                w->pid < 0 ? 0ull - (unsigned long long)w->pid : (unsigned long long)w->pid);
        (void)ferry_str_cat(tokens[i], sizeof(tokens[i]), &tl, "/f", 2);
        cat_u64(tokens[i], sizeof(tokens[i]), &tl, ++*seq);
        recs[i].upload_id[0] = '\0';
        recs[i].dst_etag[0] = '\0';
        recs[i].attempts = 0;
        it[i] = (ferry_start_item_t){.key = jobs[i].key, .token = tokens[i], .rec = &recs[i]};
    }
    int rc = ferry_ledger_start_many(ft->led, it, (size_t)n, w->o.consumer, w->o.lease_ms);
    w->feeds++;
    w->fed += (unsigned long long)n;
    for (int i = 0; i < n; i++) {
        if (rc != FERRY_OK && it[i].rc == FERRY_ERETRY) /* unknown: again, alone, same token */
            it[i].rc = ferry_ledger_start(ft->led, jobs[i].key, w->o.consumer, tokens[i],
                                          w->o.lease_ms, &it[i].result, &recs[i]);
        feeder_settle(w, ft, &jobs[i], tokens[i], it[i].rc, it[i].result, &recs[i]);
    }
    free(it);
    free(tokens);
    uv_async_send(&w->async);
}

/* The feeder thread's own state: feeder_main's, shared with its steps. */
typedef struct feeder_s {
    worker_t *w;
    ferry_redis_t *r;        /* its Redis connection */
    ftask_t *ft;             /* the tasks it serves (TASKS_MAX) */
    size_t nft, rr;          /* how many; where the next round-robin pass starts */
    int64_t listed_at;       /* wall clock of the last read of the registry */
    ferry_job_t *jobs;       /* concurrency entries: one read */
    ferry_record_t *rec;     /* concurrency entries: their records */
    unsigned long long seq;  /* for lease tokens */
    int no_unblock;          /* its connection has no CLIENT ID (cluster, ACL): never unblocked */
    int share_off;           /* the load cannot be read (feeder_share): take what fits */
    long long share_waiting; /* jobs waiting at the last look, and when (mono ms) */
    long long share_at;
} feeder_t;

static int feeder_init(feeder_t *f, worker_t *w, ferry_error_t *err)
{
    memset(f, 0, sizeof(*f));
    f->w = w;
    f->ft = calloc(TASKS_MAX, sizeof(*f->ft));
    f->jobs = calloc(w->o.concurrency, sizeof(*f->jobs));
    f->rec = calloc(w->o.concurrency, sizeof(*f->rec));
    if (f->ft == NULL || f->jobs == NULL || f->rec == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    ferry_redis_opts_t ro = {.retry_ms = 30000};
    return ferry_redis_connect(w->o.redis_url, &ro, &f->r, err);
}

/* Wait for a free job slot. Returns how many are free, or 0 once the worker drains. */
static int feeder_wait_room(worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->state == WS_RUN && w->busy >= w->o.concurrency)
        pthread_cond_wait(&w->cv, &w->mu);
    int room = w->state == WS_RUN ? (int)(w->o.concurrency - w->busy) : 0;
    pthread_mutex_unlock(&w->mu);
    return room; /* never fetch more than free slots */
}

/* (Re)load the task list: the --task names once, else the registry every 5 s. A --task that
 * cannot be opened is an error (err); a registry that cannot be read is tried again. */
static int feeder_load_tasks(feeder_t *f, ferry_error_t *err)
{
    worker_t *w = f->w;
    int64_t now = ferry_wall_ms();
    if (!(f->nft == 0 || (w->o.ntasks == 0 && now - f->listed_at > 5000)))
        return FERRY_OK;
    f->listed_at = now;
    char **names = NULL;
    size_t n = 0;
    if (w->o.ntasks) {
        names = (char **)w->o.tasks;
        n = w->o.ntasks;
    } else if (ferry_task_list(f->r, &names, &n) != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN, "worker.task_list_failed", "error", ferry_redis_error(f->r)->msg,
                  NULL);
        n = 0;
    }
    for (size_t i = 0; i < n && f->nft < TASKS_MAX; i++) {
        size_t k;
        for (k = 0; k < f->nft; k++)
            if (strcmp(f->ft[k].name, names[i]) == 0)
                break;
        if (k < f->nft)
            continue;
        int rc = feeder_open(w, f->r, names[i], &f->ft[f->nft]);
        if (rc == FERRY_OK)
            f->nft++;
        else if (w->o.ntasks)
            return ferry_error_set(
                err, rc,
                "task \"%s\": %s (define it with ferry task add, or check "
                "--task)",
                names[i], rc == FERRY_ENOTFOUND ? "no such task" : ferry_redis_error(f->r)->msg);
    }
    if (!w->o.ntasks) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    return FERRY_OK;
}

/* Read up to room jobs without blocking and start them. Pass 0, with several tasks: events of
 * any task before bulk work of any (one round trip per task; with one task
 * ferry_queue_next_batch reads events first itself). Pass 1: any work, tasks in turn. Returns
 * 1 when it got jobs; *errs counts the tasks whose queue failed. */
static int feeder_fetch(feeder_t *f, int room, int *errs)
{
    int got = 0;
    *errs = 0;
    for (int pass = f->nft > 1 ? 0 : 1; pass < 2 && !got; pass++)
        for (size_t k = 0; k < f->nft && !got; k++) {
            size_t i = (f->rr + k) % f->nft;
            int n = 0;
            int rc = pass == 0 ? ferry_queue_next_events(f->ft[i].q, f->jobs, room, &n)
                               : ferry_queue_next_batch(f->ft[i].q, f->jobs, room, 0, &n);
            if (rc == FERRY_OK) {
                feeder_start_all(f->w, &f->ft[i], f->jobs, n, f->rec, &f->seq);
                got = 1;
                if (pass == 1)
                    f->rr = i + 1;
            } else if (rc != FERRY_ETIMEOUT) {
                (*errs)++;
                ferry_log(FERRY_LOG_WARN, "worker.queue_error", "task", f->ft[i].name, "error",
                          ferry_redis_error(f->r)->msg, NULL);
            }
        }
    return got;
}

/* exit_when_idle: nothing handed over and not recorded, and every stream served is empty. */
static int feeder_is_idle(feeder_t *f)
{
    worker_t *w = f->w;
    pthread_mutex_lock(&w->mu);
    int idle = w->busy == 0;
    pthread_mutex_unlock(&w->mu);
    long long total = 0;
    for (size_t i = 0; idle && i < f->nft; i++) {
        long long ev = 0, bu = 0;
        if (ferry_queue_backlog(f->ft[i].led, &ev, &bu, NULL) != FERRY_OK)
            total++;
        total += ev + bu;
    }
    return idle && total == 0;
}

/* Nothing to read: wait for work. With one task in Redis (XREADGROUP BLOCK), else asleep. */
static void feeder_wait_work(feeder_t *f, int room)
{
    worker_t *w = f->w;
    if (f->nft == 1) {
        /* --exit-when-idle: wait briefly, so that the process ends soon after its last
         * copies are recorded (a 500 ms wait was ~10% of a short batch run). Otherwise
         * FEEDER_BLOCK_MS: a SIGTERM waits that long at most for this read to return (ferry
         * sync stops its idle workers at the end), for 10 reads a second of an idle worker. */
        int n = 0, block = w->o.exit_when_idle ? 20 : FEEDER_BLOCK_MS;
        /* While the read may block, the loop can end it at once when the worker drains
         * (begin_drain: CLIENT UNBLOCK), so a SIGTERM to an idle worker takes milliseconds. */
        long long id = 0;
        if (!f->no_unblock && ferry_redis_client_id(f->r, &id) != FERRY_OK) {
            f->no_unblock = 1; /* cluster mode, or CLIENT refused: the read times out instead */
            id = 0;
        }
        pthread_mutex_lock(&w->mu);
        int run = w->state == WS_RUN;
        w->feeder_block_id = run ? id : 0;
        pthread_mutex_unlock(&w->mu);
        if (!run)
            return;
        int rc = ferry_queue_next_batch(f->ft[0].q, f->jobs, room, block, &n);
        pthread_mutex_lock(&w->mu);
        w->feeder_block_id = 0;
        pthread_mutex_unlock(&w->mu);
        if (rc == FERRY_OK)
            feeder_start_all(w, &f->ft[0], f->jobs, n, f->rec, &f->seq);
    } else {
        usleep((f->nft ? (w->o.exit_when_idle ? 20 : 50) : 500) * 1000);
    }
}

/* How long a worker holding its share waits before looking again, and how often the load is
 * looked at while far more jobs wait than the workers hold. */
#define SHARE_WAIT_MS 20
#define SHARE_LOOK_MS 250

/* Of room free slots, how many to fill now: at most this worker's share of the task's work.
 * Without it the first worker to read takes up to its free slots whatever the jobs' sizes —
 * 8 large objects all went to one of two workers (docs/internals/worker.md, "Sharing the
 * jobs"). The share is the delivered and waiting jobs over the workers (the consumers that
 * have read, or --peers if more), rounded up; a worker holding nothing may always take one.
 * With one task only (several: every slot, as before), and not when the load cannot be read.
 * 0: hold on (SHARE_WAIT_MS) and look again. */
static int feeder_share(feeder_t *f, int room)
{
    worker_t *w = f->w;
    if (f->nft != 1 || f->share_off)
        return room;
    long long now = ferry_mono_ms();
    /* far more waiting than every worker could hold: no need to look often */
    long long far = 4LL * (long long)w->o.concurrency * (w->o.peers > 1 ? w->o.peers : 2);
    if (f->share_waiting > far && now - f->share_at < SHARE_LOOK_MS)
        return room;
    long long waiting, delivered, consumers;
    int rc = ferry_queue_load(f->ft[0].q, &waiting, &delivered, &consumers);
    if (rc == FERRY_EUNSUPPORTED)
        f->share_off = 1;
    if (rc != FERRY_OK)
        return room;
    f->share_waiting = waiting;
    f->share_at = now;
    long long peers = consumers > (long long)w->o.peers ? consumers : (long long)w->o.peers;
    if (peers <= 1)
        return room;
    pthread_mutex_lock(&w->mu);
    long long held = w->busy;
    pthread_mutex_unlock(&w->mu);
    long long share = (delivered + waiting + peers - 1) / peers;
    long long take = share - held;
    if (take < 1)
        take = held == 0 ? 1 : 0;
    return take < room ? (int)take : room;
}

/* Fill free slots until the worker drains, the feeder fails (err) or, with exit_when_idle,
 * there is nothing left to do. */
static fend_t feeder_run(feeder_t *f, ferry_error_t *err)
{
    for (;;) {
        int room = feeder_wait_room(f->w);
        if (room == 0)
            return FEEDER_STOPPED;
        if (feeder_load_tasks(f, err) != FERRY_OK)
            return FEEDER_FAILED;
        room = feeder_share(f, room);
        if (room == 0) {
            usleep(SHARE_WAIT_MS * 1000);
            continue;
        }
        int errs = 0;
        if (feeder_fetch(f, room, &errs))
            continue;
        if (errs) {
            usleep(500 * 1000);
            continue;
        }
        if (f->w->o.exit_when_idle && feeder_is_idle(f))
            return FEEDER_IDLE;
        feeder_wait_work(f, room);
    }
}

/* Free the feeder's connection and tasks, say how it ended, and wake the loop to join it. */
static void feeder_finish(feeder_t *f, fend_t how, const ferry_error_t *err)
{
    worker_t *w = f->w;
    for (size_t i = 0; f->ft && i < f->nft; i++) {
        ferry_queue_free(f->ft[i].q);
        ferry_ledger_free(f->ft[i].led);
    }
    free(f->ft);
    free(f->jobs);
    free(f->rec);
    ferry_redis_free(f->r);
    pthread_mutex_lock(&w->mu);
    w->feeder_end = how;
    if (how == FEEDER_FAILED)
        w->feeder_err = *err;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

static void *feeder_main(void *arg)
{
    feeder_t f;
    ferry_error_t err;
    ferry_error_clear(&err);
    fend_t how = feeder_init(&f, arg, &err) == FERRY_OK ? feeder_run(&f, &err) : FEEDER_FAILED;
    feeder_finish(&f, how, &err);
    return NULL;
}

/* ---- the committer thread ------------------------------------------------------------------ */

/* Record one outcome after its finish script answered rc: ack (final), nack (retry), or leave
 * it (lease lost) — the same order and rules as job_record on the loop. The acks are gathered
 * in acks[] to be sent together. */
static void commit_after_finish(worker_t *w, ftask_t *ft, commit_t *c, int rc,
                                const ferry_job_t **acks, size_t *nacks)
{
    ferry_redis_t *r = w->rc_conn;
    if (rc == FERRY_EBUSY) {
        /* Someone else holds the key now (our lease lapsed): their job decides. */
        ferry_log(FERRY_LOG_WARN, "job.lease_lost", "task", ft->name, "key", c->job.key, NULL);
    } else if (rc != FERRY_OK && rc != FERRY_ECONFLICT && rc != FERRY_ENOTFOUND) {
        ferry_log(FERRY_LOG_ERROR, "job.finish_failed", "task", ft->name, "key", c->job.key,
                  "error", ferry_redis_error(r)->msg, NULL);
        ferry_ledger_lease_release(ft->led, c->job.key, c->token);
        if (ferry_queue_nack(ft->q, &c->job, 1000) != FERRY_OK)
            ferry_log(FERRY_LOG_WARN, "job.nack_failed", "task", ft->name, "key", c->job.key,
                      "error", ferry_redis_error(r)->msg, NULL);
    } else if (c->o.state == FERRY_STATE_QUEUED && rc == FERRY_OK) {
        if (ferry_queue_nack(ft->q, &c->job, c->delay) != FERRY_OK)
            ferry_log(FERRY_LOG_WARN, "job.nack_failed", "task", ft->name, "key", c->job.key,
                      "error", ferry_redis_error(r)->msg, NULL);
    } else {
        acks[(*nacks)++] = &c->job;
    }
    if (c->requeue) {
        /* The source changed after we read it: queue the new version. */
        ferry_item_t it = {.key = c->job.key,
                           .size = c->new_size,
                           .mtime = c->new_mtime,
                           .etag = c->new_etag,
                           .origin = FERRY_ORIGIN_RETRY};
        int q = FERRY_ENQ_UNCHANGED;
        ferry_ledger_enqueue(ft->led, FERRY_QUEUE_EVENT, &it, 1, &q);
        ferry_log(FERRY_LOG_INFO, "copy.source_changed", "task", ft->name, "key", c->job.key,
                  "requeued", q == FERRY_ENQ_QUEUED ? "yes" : "no", NULL);
    }
}

/* Record n outcomes of one task on the committer's connection: their finish scripts in one
 * pipeline, then their acks in another, so a batch costs two round trips, not two per job. */
static void commit_batch(worker_t *w, ftask_t *ft, commit_t **cs, size_t n)
{
    ferry_finish_item_t *fi = calloc(n, sizeof(*fi));
    int *res = malloc(n * sizeof(*res));
    const ferry_job_t **acks = malloc(n * sizeof(*acks));
    size_t nacks = 0;
    if (fi == NULL || res == NULL || acks == NULL) {
        /* the jobs stay pending and are re-claimed */
        ferry_log(FERRY_LOG_ERROR, "job.commit_failed", "task", ft->name, "error", "out of memory",
                  NULL);
        free(fi);
        free(res);
        free(acks);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fi[i].key = cs[i]->job.key;
        fi[i].token = cs[i]->token;
        fi[i].o = &cs[i]->o;
    }
    int rc = ferry_ledger_finish_many(ft->led, fi, n, res);
    for (size_t i = 0; i < n; i++) {
        if (rc != FERRY_OK && res[i] == FERRY_ERETRY) /* unknown outcome: once more, alone */
            res[i] = ferry_ledger_finish(ft->led, cs[i]->job.key, cs[i]->token, &cs[i]->o);
        commit_after_finish(w, ft, cs[i], res[i], acks, &nacks);
    }
    if (nacks > 0 && ferry_queue_ack_many(ft->q, acks, nacks) != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN, "job.ack_failed", "task", ft->name, "error",
                  ferry_redis_error(w->rc_conn)->msg, NULL);
        for (size_t i = 0; i < nacks; i++) /* again one by one, with reconnects */
            if (ferry_queue_ack(ft->q, acks[i]) != FERRY_OK)
                ferry_log(FERRY_LOG_WARN, "job.ack_failed", "task", ft->name, "key", acks[i]->key,
                          "error", ferry_redis_error(w->rc_conn)->msg, NULL);
    }
    free(fi);
    free(res);
    free(acks);
}

/* The committer waits up to COMMIT_GATHER_US for a batch of gather_min outcomes. Slots stay
 * taken until recorded, so the wait is short and the batch a fraction of the slots. */
#define COMMIT_GATHER_US 500
static unsigned gather_min(const worker_t *w)
{
    unsigned m = w->o.concurrency / 4;
    return m > 16 ? 16 : m;
}

/* The committer thread's own state: its tasks (ledger and queue on rc_conn) and a buffer for
 * one task's outcomes. */
typedef struct committer_s {
    worker_t *w;
    ftask_t *ft; /* TASKS_MAX; NULL when out of memory (every outcome then stays pending) */
    size_t nft;
    commit_t **group;
    size_t cap;
} committer_t;

/* Wait for outcomes and take them all (a list, in posting order). While the worker runs, a few
 * outcomes wait up to COMMIT_GATHER_US for more, so that one round trip records many (and frees
 * many slots for the feeder's next read); once it drains nobody should wait for that. *last: the
 * state is WS_LAST (exit once the list is empty). */
static commit_t *committer_take(worker_t *w, int *last)
{
    pthread_mutex_lock(&w->mu);
    while (w->state < WS_LAST && w->c_head == NULL)
        pthread_cond_wait(&w->c_cv, &w->mu);
    unsigned want = gather_min(w);
    if (w->state == WS_RUN && w->c_queued < want) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_nsec += COMMIT_GATHER_US * 1000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        w->c_gathering = 1;
        while (w->state == WS_RUN && w->c_queued < want &&
               pthread_cond_timedwait(&w->c_cv, &w->mu, &dl) == 0) {
        }
        w->c_gathering = 0;
    }
    commit_t *batch = w->c_head;
    w->c_head = w->c_tail = NULL;
    w->c_queued = 0;
    *last = w->state >= WS_LAST;
    pthread_mutex_unlock(&w->mu);
    return batch;
}

/* The committer's ledger and queue of a task, opened on first use; NULL when it cannot be
 * (task gone, Redis down, out of memory). */
static ftask_t *committer_task(committer_t *cm, const char *task)
{
    size_t k;
    for (k = 0; k < cm->nft; k++)
        if (strcmp(cm->ft[k].name, task) == 0)
            return &cm->ft[k];
    if (cm->ft && cm->nft < TASKS_MAX &&
        feeder_open(cm->w, cm->w->rc_conn, task, &cm->ft[cm->nft]) == FERRY_OK)
        return &cm->ft[cm->nft++];
    return NULL;
}

/* Unlink the commits of batch's first task from *batch into cm->group, in order. Returns how
 * many (0 when there is no memory for the group). */
static size_t committer_group(committer_t *cm, commit_t **batch, char *name, size_t namesz)
{
    size_t ng = 0, m = 0;
    snprintf(name, namesz, "%s", (*batch)->task);
    for (commit_t *c = *batch; c; c = c->next)
        ng += strcmp(c->task, name) == 0;
    if (ng > cm->cap) {
        commit_t **g = realloc(cm->group, ng * sizeof(*g));
        if (g) {
            cm->group = g;
            cm->cap = ng;
        }
    }
    for (commit_t **pp = batch; *pp;) {
        commit_t *c = *pp;
        if (strcmp(c->task, name) != 0 || m >= cm->cap) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        cm->group[m++] = c;
    }
    return m;
}

/* Record a list of outcomes, one task's at a time. Returns how many it took off the list. */
static unsigned committer_record(committer_t *cm, commit_t *batch)
{
    worker_t *w = cm->w;
    unsigned n = 0;
    while (batch) {
        char name[FERRY_TASK_NAME_MAX + 1];
        ftask_t *ft = committer_task(cm, batch->task);
        size_t m = committer_group(cm, &batch, name, sizeof(name));
        if (m == 0) { /* no memory for the group: one at a time */
            commit_t *c = batch;
            batch = c->next;
            if (ft) {
                commit_t *one[1] = {c};
                commit_batch(w, ft, one, 1);
            }
            free(c);
            n++;
            continue;
        }
        w->cbatches++;
        w->cjobs += m;
        if (ft)
            commit_batch(w, ft, cm->group, m);
        else /* task gone or Redis down: the jobs stay pending and are re-claimed */
            for (size_t i = 0; i < m; i++)
                ferry_log(FERRY_LOG_WARN, "job.commit_failed", "task", name, "key",
                          cm->group[i]->job.key, "error", ferry_redis_error(w->rc_conn)->msg, NULL);
        for (size_t i = 0; i < m; i++)
            free(cm->group[i]);
        n += (unsigned)m;
    }
    return n;
}

static void *committer_main(void *arg)
{
    committer_t cm = {.w = arg, .ft = calloc(TASKS_MAX, sizeof(*cm.ft))};
    worker_t *w = cm.w;
    for (;;) {
        int last;
        commit_t *batch = committer_take(w, &last);
        if (batch == NULL && last)
            break;
        unsigned n = committer_record(&cm, batch);
        /* Their slots are free now: tell the feeder, and a loop that is ending (only one that
         * drains waits for commits). */
        pthread_mutex_lock(&w->mu);
        w->commits -= n;
        w->busy -= n;
        int wake = w->state >= WS_DRAIN;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if (wake)
            uv_async_send(&w->async);
    }
    for (size_t i = 0; i < cm.nft; i++) {
        ferry_queue_free(cm.ft[i].q);
        ferry_ledger_free(cm.ft[i].led);
    }
    free(cm.group);
    free(cm.ft);
    return NULL;
}

/* ---- tasks on the loop thread -------------------------------------------------------------- */

static void dst_key_of(const wtask_t *t, const char *key, char *out, size_t n)
{
    const char *sp = t->task.src.parsed.prefix, *dp = t->task.dst.parsed.prefix;
    size_t sl = strlen(sp);
    const char *rest = strncmp(key, sp, sl) == 0 ? key + sl : key;
    size_t len = 0; /* snprintf(out, n, "%s%s", dp, rest) without its formatting */
    out[0] = '\0';
    (void)ferry_str_cat(out, n, &len, dp, strlen(dp));
    (void)ferry_str_cat(out, n, &len, rest, strlen(rest));
}

/* ---- statistics (loop thread) -------------------------------------------------------------- */

static void on_s3_attempt(void *ud, const char *op, long status)
{
    wobs_t *o = ud;
    if (o->t->stats)
        ferry_stats_count(o->t->stats, "requests", o->side, op, ferry_stats_status_class(status),
                          1);
}

static void on_s3_retry(void *ud, const char *op, ferry_retry_class_t cls)
{
    wobs_t *o = ud;
    if (o->t->stats)
        ferry_stats_count(o->t->stats, "request_retries", o->side, op, ferry_retry_class_name(cls),
                          1);
}

/* An outcome of a job: results by kind ("done", "failed", "skipped", "deleted", "retried"). */
static void stat_result(wtask_t *t, const char *result)
{
    if (t->stats)
        ferry_stats_count(t->stats, "results", result, NULL, NULL, 1);
}

/* A copy recorded done: its duration, its size, the bytes, and for an event job how long
 * after the event (the provider's time) and after its receipt (queued) it was done. */
static void stat_done(wtask_t *t, const wjob_t *j, const ferry_copy_result_t *res, uint64_t dur)
{
    if (t->stats == NULL)
        return;
    ferry_stats_observe(t->stats, FERRY_HIST_COPY_SECONDS, (double)dur / 1000.0);
    ferry_stats_observe(t->stats, FERRY_HIST_OBJECT_BYTES, (double)res->size);
    ferry_stats_count(t->stats, "bytes", "done", NULL, NULL, (long long)res->size);
    ferry_stats_count(t->stats, "bytes", "moved", NULL, NULL, (long long)res->bytes_moved);
    if (j->job.origin != FERRY_ORIGIN_EVENT)
        return;
    int64_t now = ferry_wall_ms();
    if (j->job.enqueued_ms > 0 && now >= j->job.enqueued_ms)
        ferry_stats_observe(t->stats, FERRY_HIST_EVENT_RECEIPT,
                            (double)(now - j->job.enqueued_ms) / 1000.0);
    if (j->job.mtime > 0 && now >= j->job.mtime * 1000)
        ferry_stats_observe(t->stats, FERRY_HIST_EVENT_ORIGIN,
                            (double)(now - j->job.mtime * 1000) / 1000.0);
}

/* The copy's error as a short reason label: "changed", "checksum", "net"… */
static const char *retry_reason(int code, char *out, size_t n)
{
    const char *name = ferry_err_name(code); /* "FERRY_ENET" */
    size_t i = 0;
    if (strncmp(name, "FERRY_E", 7) != 0)
        return "other";
    for (name += 7; *name && i + 1 < n; name++)
        out[i++] = (char)(*name >= 'A' && *name <= 'Z' ? *name - 'A' + 'a' : *name);
    out[i] = '\0';
    return out;
}

static void stats_flush_all(worker_t *w)
{
    for (wtask_t *t = w->tasks; t; t = t->next)
        if (t->stats && ferry_stats_flush(t->stats, w->r) != FERRY_OK)
            ferry_log(FERRY_LOG_WARN, "worker.stats_flush_failed", "task", t->task.name, "error",
                      ferry_redis_error(w->r)->msg, NULL);
}

static void heartbeat(worker_t *w)
{
    ferry_heartbeat_t hb;
    memset(&hb, 0, sizeof(hb));
    snprintf(hb.consumer, sizeof(hb.consumer), "%s", w->o.consumer);
    hb.pid = w->pid;
    size_t off = 0;
    for (size_t i = 0; i < w->o.ntasks && off < sizeof(hb.tasks); i++) {
        int m =
            snprintf(hb.tasks + off, sizeof(hb.tasks) - off, "%s%s", i ? "," : "", w->o.tasks[i]);
        if (m < 0 || (size_t)m >= sizeof(hb.tasks) - off) {
            hb.tasks[off] = '\0'; /* too many names to list: cut at the last whole one */
            break;
        }
        off += (size_t)m;
    }
    hb.in_flight = w->njobs;
    hb.concurrency = w->o.concurrency;
    hb.done = (long long)w->n_done;
    hb.failed = (long long)w->n_failed;
    hb.started_ms = w->started_ms;
    if (ferry_stats_heartbeat(w->r, &hb, HEARTBEAT_TTL_MS) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "worker.heartbeat_failed", "error", ferry_redis_error(w->r)->msg,
                  NULL);
}

static void on_stats(uv_timer_t *tm)
{
    worker_t *w = tm->data;
    stats_flush_all(w);
    ferry_k8s_worker_load(w->njobs); /* pod-deletion-cost in Kubernetes (lib/core/k8s.c) */
    uint64_t now = uv_now(&w->loop);
    if (now - w->heartbeat_at >= HEARTBEAT_MS) {
        w->heartbeat_at = now;
        heartbeat(w);
    }
}

static int side_client(worker_t *w, wtask_t *t, const ferry_task_side_t *ts, ferry_side_kind_t k,
                       ferry_side_t **side, ferry_s3_t **client, ferry_error_t *err)
{
    ferry_side_spec_t sp = {.kind = k,
                            .scheme = ferry_scheme_name(ts->parsed.scheme),
                            .bucket = ts->parsed.bucket,
                            .prefix = ts->parsed.prefix,
                            .endpoint = ts->endpoint,
                            .region = ts->region,
                            .path_style = ts->path_style,
                            .profile = ts->profile,
                            .checksum = ts->checksum};
    *side = calloc(1, sizeof(**side));
    if (*side == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    int rc = ferry_side_resolve(&sp, *side, err);
    if (rc != FERRY_OK)
        return rc;
    ferry_s3_config_t cfg = {.profile = &(*side)->profile,
                             .creds = ferry_creds_view(&(*side)->creds),
                             .http = w->http,
                             .role = k == FERRY_SIDE_SRC ? "source" : "destination",
                             .on_attempt = on_s3_attempt,
                             .on_retry = on_s3_retry,
                             .observe_ud = &t->obs[k == FERRY_SIDE_SRC ? 0 : 1]};
    return ferry_s3_new(&w->loop, &cfg, client, err);
}

static wtask_t *task_get(worker_t *w, const char *name)
{
    for (wtask_t *t = w->tasks; t; t = t->next)
        if (strcmp(t->task.name, name) == 0)
            return t;
    wtask_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->w = w;
    t->obs[0] = (wobs_t){t, "src"};
    t->obs[1] = (wobs_t){t, "dst"};
    ferry_task_init(&t->task);
    if (ferry_stats_new(name, &t->stats) != FERRY_OK) /* out of memory: no statistics */
        t->stats = NULL;
    if (ferry_task_get(w->r, name, &t->task) != FERRY_OK ||
        ferry_ledger_open_sharded(w->r, name, t->task.ledger_buckets, t->task.ledger_shards,
                                  &t->led) != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN, "worker.task_unavailable", "task", name, "error",
                  ferry_redis_error(w->r)->msg, NULL);
        ferry_task_clear(&t->task);
        ferry_stats_free(t->stats);
        free(t);
        return NULL;
    }
    ferry_queue_opts_t qo = {.consumer = w->o.consumer,
                             .visibility_ms = w->o.visibility_ms,
                             .max_deliveries = w->o.delivery_cap};
    if (ferry_queue_open(t->led, &qo, &t->q) != FERRY_OK) {
        ferry_ledger_free(t->led);
        ferry_task_clear(&t->task);
        ferry_stats_free(t->stats);
        free(t);
        return NULL;
    }
    ferry_error_t err;
    ferry_error_clear(&err);
    int rc = side_client(w, t, &t->task.src, FERRY_SIDE_SRC, &t->src, &t->s3s, &err);
    if (rc == FERRY_OK)
        rc = side_client(w, t, &t->task.dst, FERRY_SIDE_DST, &t->dst, &t->s3d, &err);
    if (rc != FERRY_OK) {
        t->broken = 1;
        t->broken_err = err;
        ferry_log(FERRY_LOG_ERROR, "worker.task_config", "task", name, "error", err.msg, NULL);
    } else {
        const ferry_profile_t *a = ferry_s3_profile(t->s3s), *b = ferry_s3_profile(t->s3d);
        t->env.loop = &w->loop;
        t->env.src = t->s3s;
        t->env.dst = t->s3d;
        t->env.src_bucket = t->src->bucket;
        t->env.dst_bucket = t->dst->bucket;
        t->env.server_side = strcmp(a->endpoint, b->endpoint) == 0 &&
                             strcmp(a->scheme, b->scheme) == 0 &&
                             strcmp(t->src->creds.access_key, t->dst->creds.access_key) == 0 &&
                             strcmp(t->src->creds.secret_key, t->dst->creds.secret_key) == 0;
        t->env.threshold = t->task.multipart_threshold;
        t->env.part_size = t->task.part_size;
        t->env.storage_class = t->task.storage_class;
        t->env.require_source_check = t->task.require_source_check;
        t->env.recheck = t->task.src.recheck;
        t->env.ring_size = w->o.ring_size;
        t->env.parts_per_job = w->o.parts_per_job;
        t->env.part_tries = 4;
        t->env.pool = &w->pool;
        ferry_log(FERRY_LOG_INFO, "worker.task", "task", name, "from", t->src->where, "to",
                  t->dst->where, "server_side", t->env.server_side ? "yes" : "no", NULL);
    }
    t->next = w->tasks;
    w->tasks = t;
    return t;
}

/* ---- jobs --------------------------------------------------------------------------------- */

static void job_unlink(wjob_t *j)
{
    worker_t *w = j->w;
    ferry_list_remove(&j->link);
    w->njobs--;
    free(j);
}

/* A job slot is free again: tell the feeder. */
static void slot_free(worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->busy--;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void job_end(wjob_t *j)
{
    worker_t *w = j->w;
    job_unlink(j);
    slot_free(w);
    maybe_exit(w);
}

static void job_ack(wjob_t *j)
{
    if (ferry_queue_ack(j->t->q, &j->job) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "job.ack_failed", "task", j->t->task.name, "key", j->job.key,
                  "error", ferry_redis_error(j->w->r)->msg, NULL);
}

static void job_nack(wjob_t *j, int64_t delay)
{
    if (ferry_queue_nack(j->t->q, &j->job, delay) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "job.nack_failed", "task", j->t->task.name, "key", j->job.key,
                  "error", ferry_redis_error(j->w->r)->msg, NULL);
}

static int64_t backoff_ms(long long attempts)
{
    int64_t d = 1000;
    for (long long i = 1; i < attempts && d < 30000; i++)
        d *= 2;
    return d > 30000 ? 30000 : d;
}

/* Record a final or retryable outcome, then ack (final) or hand back (retry). */
static void job_record(wjob_t *j, ferry_outcome_t *o, int64_t retry_delay)
{
    worker_t *w = j->w;
    int rc = ferry_ledger_finish(j->t->led, j->job.key, j->token, o);
    if (rc == FERRY_EBUSY) {
        /* Someone else holds the key now (our lease lapsed): their job decides. */
        ferry_log(FERRY_LOG_WARN, "job.lease_lost", "task", j->t->task.name, "key", j->job.key,
                  NULL);
        return;
    }
    if (rc != FERRY_OK && rc != FERRY_ECONFLICT && rc != FERRY_ENOTFOUND) {
        ferry_log(FERRY_LOG_ERROR, "job.finish_failed", "task", j->t->task.name, "key", j->job.key,
                  "error", ferry_redis_error(w->r)->msg, NULL);
        ferry_ledger_lease_release(j->t->led, j->job.key, j->token);
        job_nack(j, 1000);
        return;
    }
    if (o->state == FERRY_STATE_QUEUED && rc == FERRY_OK)
        job_nack(j, retry_delay);
    else
        job_ack(j);
}

/* A copy canceled (the worker drains) or whose lease or claim was lost: leave it for a
 * re-claim. Lease released, job pending again at once; an open upload id stays in the ledger
 * for the resume. */
static void job_hand_back(wjob_t *j)
{
    j->w->n_canceled++;
    ferry_log(FERRY_LOG_INFO, "copy.handed_back", "task", j->t->task.name, "key", j->job.key,
              "reason", j->lost ? "lease or claim lost" : "shutting down", NULL);
    if (!j->lost) {
        ferry_ledger_lease_release(j->t->led, j->job.key, j->token);
        job_nack(j, 0);
    }
    job_end(j);
}

/* What the copy read: the record's version, digests and checks. */
static void outcome_of_copy(const wjob_t *j, const ferry_copy_result_t *res, uint64_t dur,
                            ferry_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    o->size = res->size;
    o->mtime = res->mtime;
    o->etag = res->etag[0] ? res->etag : NULL;
    o->has_crc64 = res->has_crc64 || res->src_has_crc64;
    o->crc64 = res->has_crc64 ? res->crc64 : res->src_crc64;
    o->dst_etag = res->dst_etag[0] ? res->dst_etag : NULL;
    o->duration_ms = (int64_t)dur;
    o->seq = j->job.seq[0] ? j->job.seq : NULL;
    o->checks = res->checks[0] ? res->checks : NULL; /* the record's checks (issue 12) */
}

/* A copy that may be tried again: queued with a delay while attempts are left, else failed
 * ("gave up after N attempts", in msg). Returns the delay. Only copies that ran count towards
 * giving up: the record's attempts (one per start of a copy), not the job's deliveries
 * (restarts and busy leases re-deliver it). */
static int64_t outcome_retry(wjob_t *j, const ferry_copy_result_t *res, ferry_outcome_t *o,
                             char *msg, size_t msgsz)
{
    worker_t *w = j->w;
    char att[16], reason[32];
    snprintf(att, sizeof(att), "%u", j->attempts);
    if ((int)j->attempts < w->o.max_attempts) {
        o->state = FERRY_STATE_QUEUED;
        o->error = res->err.msg;
        w->n_retry++;
        stat_result(j->t, "retried");
        if (j->t->stats)
            ferry_stats_count(j->t->stats, "copy_retries",
                              retry_reason(res->err.code, reason, sizeof(reason)), NULL, NULL, 1);
        ferry_log(FERRY_LOG_WARN, "copy.retry", "task", j->t->task.name, "key", j->job.key,
                  "attempt", att, "error", res->err.msg, NULL);
        /* A changed source is worth an immediate retry; anything else backs off. */
        return res->err.code == FERRY_ECHANGED ? 100 : backoff_ms(j->attempts);
    }
    snprintf(msg, msgsz, "gave up after %u attempts: %s", j->attempts, res->err.msg);
    o->state = FERRY_STATE_FAILED;
    o->error = msg;
    w->n_failed++;
    stat_result(j->t, "failed");
    ferry_log(FERRY_LOG_ERROR, "copy.failed", "task", j->t->task.name, "key", j->job.key, "error",
              msg, NULL);
    return 0;
}

/* Judge a copy that ran to its end: the outcome's state and error, counted and logged. Returns
 * the retry delay (QUEUED). msg: room for an error the outcome points to. */
static int64_t outcome_judge(wjob_t *j, const ferry_copy_result_t *res, uint64_t dur,
                             ferry_outcome_t *o, char *msg, size_t msgsz)
{
    worker_t *w = j->w;
    char ms[32], bytes[32];
    size_t nl;
    switch (res->status) {
    case FERRY_COPY_DONE:
        nl = 0; /* "%llu" without snprintf: one line per object */
        ms[0] = bytes[0] = '\0';
        cat_u64(ms, sizeof(ms), &nl, (unsigned long long)dur);
        nl = 0;
        cat_u64(bytes, sizeof(bytes), &nl, (unsigned long long)res->size);
        o->state = FERRY_STATE_DONE;
        w->n_done++;
        stat_result(j->t, "done");
        stat_done(j->t, j, res, dur);
        ferry_log(FERRY_LOG_INFO, "copy.done", "task", j->t->task.name, "key", j->job.key, "bytes",
                  bytes, "ms", ms, "checks", res->checks, NULL);
        return 0;
    case FERRY_COPY_SKIPPED:
        o->state = FERRY_STATE_SKIPPED;
        o->error = res->err.msg;
        o->has_crc64 = 0;
        o->etag = j->job.etag[0] ? j->job.etag : NULL;
        o->size = j->job.size;
        o->mtime = j->job.mtime;
        w->n_skipped++;
        stat_result(j->t, "skipped");
        ferry_log(FERRY_LOG_INFO, "copy.skipped", "task", j->t->task.name, "key", j->job.key,
                  "reason", res->err.msg, NULL);
        return 0;
    case FERRY_COPY_RETRY:
        return outcome_retry(j, res, o, msg, msgsz);
    default:
        o->state = FERRY_STATE_FAILED;
        o->error = res->err.msg[0] ? res->err.msg : ferry_strerror(res->err.code);
        w->n_failed++;
        stat_result(j->t, "failed");
        ferry_log(FERRY_LOG_ERROR, "copy.failed", "task", j->t->task.name, "key", j->job.key,
                  "error", o->error, NULL);
        return 0;
    }
}

/* A commit for the committer: the outcome with copies of every string it points to, and the
 * newer source version to queue when the copy saw one. NULL when out of memory. */
static commit_t *commit_new(const wjob_t *j, const ferry_outcome_t *o, int64_t delay,
                            const ferry_copy_result_t *res)
{
    commit_t *c = malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    c->next = NULL;
    ferry_str_copy(c->task, sizeof(c->task), j->t->task.name);
    c->job = j->job;
    ferry_str_copy(c->token, sizeof(c->token), j->token);
    c->delay = delay;
    c->o = *o;
    ferry_str_copy(c->etag, sizeof(c->etag), o->etag ? o->etag : "");
    ferry_str_copy(c->dst_etag, sizeof(c->dst_etag), o->dst_etag ? o->dst_etag : "");
    ferry_str_copy(c->seq, sizeof(c->seq), o->seq ? o->seq : "");
    ferry_str_copy(c->error, sizeof(c->error), o->error ? o->error : "");
    c->o.etag = o->etag ? c->etag : NULL;
    c->o.dst_etag = o->dst_etag ? c->dst_etag : NULL;
    c->o.seq = o->seq ? c->seq : NULL;
    c->o.error = o->error ? c->error : NULL;
    ferry_str_copy(c->checks, sizeof(c->checks), o->checks ? o->checks : "");
    c->o.checks = o->checks ? c->checks : NULL;
    c->requeue = res->status == FERRY_COPY_DONE && res->changed_after;
    c->new_size = res->new_size;
    c->new_mtime = res->new_mtime;
    ferry_str_copy(c->new_etag, sizeof(c->new_etag), res->new_etag);
    return c;
}

/* Post a commit to the committer. The job's slot stays taken (busy) until it is recorded. */
static void commit_post(worker_t *w, commit_t *c)
{
    pthread_mutex_lock(&w->mu);
    if (w->c_tail)
        w->c_tail->next = c;
    else
        w->c_head = c;
    w->c_tail = c;
    w->commits++;
    w->c_queued++;
    if (!w->c_gathering || w->c_queued >= gather_min(w))
        pthread_cond_signal(&w->c_cv);
    pthread_mutex_unlock(&w->mu);
}

static void copy_done(void *arg, const ferry_copy_result_t *res)
{
    wjob_t *j = arg;
    worker_t *w = j->w;
    j->copy = NULL;
    if (res->status == FERRY_COPY_CANCELED || j->lost) {
        job_hand_back(j);
        return;
    }
    uint64_t dur = uv_now(&w->loop) - j->t0;
    ferry_outcome_t o;
    char msg[FERRY_ERRMSG_MAX + 1];
    outcome_of_copy(j, res, dur, &o);
    int64_t delay = outcome_judge(j, res, dur, &o, msg, sizeof(msg));
    char coded[FERRY_ERRMSG_MAX + 1], ecode[FERRY_ERRCODE_MAX + 1];
    if (o.error != NULL) { /* the record's error code in front of its text (ferry/errcode.h) */
        ferry_error_code_for(&res->err, ecode, sizeof(ecode));
        o.error = ferry_error_text_coded(coded, sizeof(coded), ecode, o.error);
    }
    if (o.state != FERRY_STATE_DONE && o.state != FERRY_STATE_SKIPPED && res->size == 0 &&
        res->etag[0] == '\0') {
        /* The HEAD never answered: record the version the job named. */
        o.size = j->job.size;
        o.mtime = j->job.mtime;
        o.etag = j->job.etag[0] ? j->job.etag : NULL;
        o.has_crc64 = j->job.has_crc64;
        o.crc64 = j->job.crc64;
    }
    /* Hand the outcome to the committer (finish + ack/nack on its own connection): the loop
     * does not wait for Redis. */
    commit_t *c = commit_new(j, &o, delay, res);
    if (c == NULL) {
        job_record(j, &o, delay); /* out of memory: record it here, synchronously */
        job_end(j);
        return;
    }
    job_unlink(j);
    commit_post(w, c);
}

static int job_on_upload(void *arg, const char *upload_id)
{
    wjob_t *j = arg;
    int rc = FERRY_OK;
    if (upload_id[0]) {
        /* Ours: into the task's set of upload ids first, so that the janitor may abort it if it
         * is ever left behind (and never aborts an upload of another application). */
        rc = ferry_ledger_upload_track(j->t->led, upload_id);
        if (rc == FERRY_OK)
            snprintf(j->upload_id, sizeof(j->upload_id), "%s", upload_id);
    }
    if (rc == FERRY_OK)
        rc = ferry_ledger_set_upload(j->t->led, j->job.key, j->token, upload_id);
    if (rc == FERRY_OK && upload_id[0] == '\0' && j->upload_id[0]) {
        /* Completed or aborted: nothing left for the janitor. (A failure here leaves an id
         * the janitor never finds among the open uploads: harmless.) */
        ferry_ledger_upload_untrack(j->t->led, j->upload_id);
        j->upload_id[0] = '\0';
    }
    if (rc != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "job.set_upload_failed", "task", j->t->task.name, "key",
                  j->job.key, "error", ferry_redis_error(j->w->r)->msg, NULL);
    return rc;
}

static void delete_done(void *arg, const ferry_s3_result_t *r)
{
    wjob_t *j = arg;
    j->del_op = NULL;
    ferry_outcome_t o;
    memset(&o, 0, sizeof(o));
    o.size = j->job.size;
    o.mtime = j->job.mtime;
    o.etag = j->job.etag[0] ? j->job.etag : NULL;
    o.seq = j->job.seq[0] ? j->job.seq : NULL;
    if (r->rc == FERRY_OK || r->rc == FERRY_ENOTFOUND) {
        o.state = FERRY_STATE_DELETED;
        o.checks = "src:404"; /* delete_head_done: the source's HEAD said 404 just before */
        stat_result(j->t, "deleted");
        ferry_log(FERRY_LOG_INFO, "copy.deleted", "task", j->t->task.name, "key", j->job.key, NULL);
        job_record(j, &o, 0);
    } else if (r->rc == FERRY_ECANCELED) {
        ferry_ledger_lease_release(j->t->led, j->job.key, j->token);
        job_nack(j, 0);
    } else {
        o.state = (int)j->attempts < j->w->o.max_attempts ? FERRY_STATE_QUEUED : FERRY_STATE_FAILED;
        char coded[FERRY_ERRMSG_MAX + 1], ecode[FERRY_ERRCODE_MAX + 1];
        ferry_error_code_for(&r->err, ecode, sizeof(ecode));
        o.error = ferry_error_text_coded(coded, sizeof(coded), ecode, r->err.msg);
        stat_result(j->t, o.state == FERRY_STATE_QUEUED ? "retried" : "failed");
        job_record(j, &o, backoff_ms(j->attempts));
    }
    job_end(j);
}

/* Start the DELETE of the destination copy (the source said 404 just before). */
static void delete_dst(wjob_t *j)
{
    wtask_t *t = j->t;
    char dkey[FERRY_KEY_MAX * 2 + 2];
    dst_key_of(t, j->job.key, dkey, sizeof(dkey));
    ferry_s3_args_t a;
    ferry_error_t e;
    ferry_s3_args_init(&a);
    a.bucket = t->dst->bucket;
    a.key = dkey;
    if (ferry_s3_delete(t->s3d, &a, delete_done, j, &j->del_op, &e) != FERRY_OK) {
        ferry_s3_result_t fake;
        memset(&fake, 0, sizeof(fake));
        fake.rc = e.code ? e.code : FERRY_EINVAL;
        fake.err = e;
        delete_done(j, &fake);
    }
}

/* The HEAD of the source before a delete: a delete happens only when the source says 404 at
 * that moment. 200: the delete event is stale (the object was written again, or the event is
 * old or forged): refused, the copy stays. An error: retried like a failed copy. */
static void delete_head_done(void *arg, const ferry_s3_result_t *r)
{
    wjob_t *j = arg;
    worker_t *w = j->w;
    j->del_op = NULL;
    if (r->rc == FERRY_ENOTFOUND) {
        if (j->t->task.delete_) {
            delete_dst(j);
            return;
        }
        ferry_s3_result_t fake;
        memset(&fake, 0, sizeof(fake));
        delete_done(j, &fake); /* record deleted; the copy stays (task without --delete) */
        return;
    }
    if (r->rc == FERRY_OK) {
        ferry_outcome_t o;
        memset(&o, 0, sizeof(o));
        /* The version fields stay as they are (mtime 0): only the state changes back. */
        o.state = j->had_copy ? FERRY_STATE_DONE : FERRY_STATE_SKIPPED;
        o.size = j->job.size;
        o.error = "delete refused: the source still exists (a stale delete event); the "
                  "destination copy stays";
        w->n_skipped++;
        stat_result(j->t, "delete_refused");
        ferry_log(FERRY_LOG_WARN, "delete.refused_source_exists", "task", j->t->task.name, "key",
                  j->job.key, "state", ferry_state_name(o.state), NULL);
        job_record(j, &o, 0);
        job_end(j);
        return;
    }
    delete_done(j, r); /* canceled (handed back) or an error (retried) */
}

/* A delete job: HEAD the source first (see delete_head_done). */
static void delete_begin(wjob_t *j)
{
    wtask_t *t = j->t;
    ferry_s3_args_t a;
    ferry_error_t e;
    ferry_s3_args_init(&a);
    a.bucket = t->src->bucket;
    a.key = j->job.key;
    if (ferry_s3_head(t->s3s, &a, delete_head_done, j, &j->del_op, &e) != FERRY_OK) {
        ferry_s3_result_t fake;
        memset(&fake, 0, sizeof(fake));
        fake.rc = e.code && e.code != FERRY_ENOTFOUND ? e.code : FERRY_EINVAL;
        fake.err = e;
        delete_done(j, &fake);
    }
}

/* The loop's job for a hand-off, in w->jobs; NULL when out of memory (its slot is freed; the
 * job stays pending, re-claimed once the lease lapses). */
static wjob_t *job_new(worker_t *w, const handoff_t *h)
{
    wjob_t *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        slot_free(w);
        return NULL;
    }
    ferry_list_init(&j->link);
    j->w = w;
    j->job = h->job;
    j->t0 = j->renewed = uv_now(&w->loop);
    ferry_list_insert_head(&w->jobs, &j->link);
    w->njobs++;
    ferry_str_copy(j->token, sizeof(j->token), h->token);
    j->attempts = h->attempts ? h->attempts : 1;
    j->had_copy = h->had_copy;
    return j;
}

/* Start the copy of a job to dkey, resuming the hand-off's upload if it names one. */
static void job_copy(wjob_t *j, const handoff_t *h, const char *dkey)
{
    wtask_t *t = j->t;
    const ferry_job_t *job = &j->job;
    if (h->upload_id[0]) /* a resume: the id is ours (recorded), make sure the janitor knows */
        if (ferry_ledger_upload_track(t->led, h->upload_id) == FERRY_OK)
            ferry_str_copy(j->upload_id, sizeof(j->upload_id), h->upload_id);
    ferry_copy_req_t req = {.src_key = job->key,
                            .dst_key = dkey,
                            .resume_upload_id = h->upload_id,
                            .on_upload = job_on_upload,
                            .size_hint = job->size,
                            .use_hint = 1};
    int rc = ferry_copy_start(&t->env, &req, copy_done, j, &j->copy);
    if (rc != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR, "job.copy_start_failed", "task", h->task, "key", job->key,
                  "error", ferry_strerror(rc), NULL);
        ferry_ledger_lease_release(t->led, job->key, j->token);
        job_nack(j, 1000);
        job_end(j);
    }
}

/* A job the feeder started (lease ours, record copying): hand it back while draining, fail it
 * when its task or destination key cannot be, else delete or copy it. */
static void job_begin(worker_t *w, const handoff_t *h)
{
    wjob_t *j = job_new(w, h);
    if (j == NULL)
        return;
    const ferry_job_t *job = &j->job;
    j->t = task_get(w, h->task);
    if (j->t == NULL) {
        /* Task gone or Redis trouble: stays pending, re-claimed once the lease lapses. */
        job_end(j);
        return;
    }
    wtask_t *t = j->t;
    if (w->state >= WS_DRAIN) {
        ferry_ledger_lease_release(t->led, job->key, j->token);
        job_nack(j, 0);
        job_end(j);
        return;
    }
    if (t->broken) {
        ferry_outcome_t o;
        memset(&o, 0, sizeof(o));
        o.state = FERRY_STATE_FAILED;
        o.size = job->size;
        o.mtime = job->mtime;
        o.etag = job->etag[0] ? job->etag : NULL;
        char coded[FERRY_ERRMSG_MAX + 1]; /* the task cannot run as configured */
        o.error = ferry_error_text_coded(coded, sizeof(coded), "config", t->broken_err.msg);
        w->n_failed++;
        stat_result(t, "failed");
        job_record(j, &o, 0);
        job_end(j);
        return;
    }
    char dkey[FERRY_KEY_MAX * 2 + 2];
    dst_key_of(t, job->key, dkey, sizeof(dkey));
    if (job->op_delete) {
        delete_begin(j);
        return;
    }
    if (strlen(dkey) > FERRY_KEY_MAX) {
        ferry_outcome_t o;
        memset(&o, 0, sizeof(o));
        o.state = FERRY_STATE_FAILED;
        o.size = job->size;
        o.error = "the destination key (destination prefix + key) is longer than S3's 1024 "
                  "bytes: shorten the destination prefix";
        stat_result(t, "failed");
        job_record(j, &o, 0);
        job_end(j);
        return;
    }
    job_copy(j, h, dkey);
}

/* ---- loop plumbing ------------------------------------------------------------------------- */

/* The feeder has ended: join it, and drain (it brings no more work). */
static void feeder_join(worker_t *w)
{
    pthread_join(w->feeder, NULL);
    w->feeder_joined = 1;
    if (w->feeder_end == FEEDER_FAILED) {
        ferry_log(FERRY_LOG_ERROR, "worker.feeder_failed", "error", w->feeder_err.msg, NULL);
        w->rc = w->feeder_err.code ? w->feeder_err.code : FERRY_EREDIS;
        w->err = w->feeder_err;
    }
    if (w->feeder_end == FEEDER_IDLE)
        ferry_log(FERRY_LOG_INFO, "worker.idle", NULL);
    set_state(w, WS_DRAIN);
}

/* The feeder or the committer woke the loop: start the jobs handed over, join a feeder that
 * ended, and see whether the worker can exit. */
static void on_async(uv_async_t *a)
{
    worker_t *w = a->data;
    handoff_t local[64];
    for (;;) {
        pthread_mutex_lock(&w->mu);
        size_t n = w->nhand < 64 ? w->nhand : 64;
        memcpy(local, w->hand, n * sizeof(*local));
        memmove(w->hand, w->hand + n, (w->nhand - n) * sizeof(*local));
        w->nhand -= n;
        int exited = w->feeder_end != FEEDER_RUNNING;
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; i < n; i++)
            job_begin(w, &local[i]);
        if (n == 0) {
            if (exited && !w->feeder_joined)
                feeder_join(w);
            maybe_exit(w); /* also after the committer recorded the last outcomes */
            break;
        }
    }
}

static void begin_drain(worker_t *w, const char *why);
static void cancel_all(worker_t *w);

static void on_renew(uv_timer_t *t)
{
    worker_t *w = t->data;
    uint64_t now = uv_now(&w->loop);
    if (w->claimed && now - w->renewed_claim >= (uint64_t)w->o.lease_ms / 3) {
        w->renewed_claim = now;
        int rc = ferry_queue_claim_renew(w->r, w->o.consumer, w->pid, w->o.lease_ms);
        if (rc == FERRY_EBUSY) {
            /* Another process took our name (we looked dead: stopped for longer than the
             * claim lasts): it may take over our leases, so hand everything back now. */
            ferry_log(FERRY_LOG_ERROR, "worker.consumer_lost", "consumer", w->o.consumer, "reason",
                      "another process holds this consumer name now", NULL);
            w->claimed = 0;
            w->rc = FERRY_EBUSY;
            ferry_error_set(&w->err, FERRY_EBUSY,
                            "consumer %s was taken over by another process: this one stopped",
                            w->o.consumer);
            begin_drain(w, "consumer name lost");
            cancel_all(w);
        }
    }
    ferry_list_t *it, *tmp;
    FERRY_LIST_FOREACH_SAFE (it, tmp, &w->jobs) {
        wjob_t *j = FERRY_LIST_ENTRY(it, wjob_t, link);
        if (j->copy == NULL || j->lost || now - j->renewed < (uint64_t)w->o.lease_ms / 3)
            continue;
        j->renewed = now;
        int a = ferry_ledger_lease_renew(j->t->led, j->job.key, j->token, w->o.lease_ms);
        int b = ferry_queue_refresh(j->t->q, &j->job);
        if (a == FERRY_EBUSY || b == FERRY_EBUSY) {
            ferry_log(FERRY_LOG_WARN, "job.lost", "task", j->t->task.name, "key", j->job.key,
                      "what", a == FERRY_EBUSY ? "lease" : "queue claim", NULL);
            j->lost = 1;
            ferry_copy_cancel(j->copy);
        }
    }
}

static void cancel_all(worker_t *w)
{
    ferry_list_t *it, *tmp;
    FERRY_LIST_FOREACH_SAFE (it, tmp, &w->jobs) {
        wjob_t *j = FERRY_LIST_ENTRY(it, wjob_t, link);
        if (j->copy)
            ferry_copy_cancel(j->copy);
        if (j->del_op)
            ferry_s3_cancel(j->del_op);
    }
}

static void on_grace(uv_timer_t *t)
{
    worker_t *w = t->data;
    if (w->njobs)
        ferry_log(FERRY_LOG_WARN, "worker.grace_over", "reason",
                  "copies still running after the grace period are handed back for re-claim", NULL);
    cancel_all(w);
}

static void begin_drain(worker_t *w, const char *why)
{
    if (w->state >= WS_DRAIN)
        return;
    ferry_log(FERRY_LOG_INFO, "worker.draining", "reason", why, NULL);
    set_state(w, WS_DRAIN);
    /* The feeder may be waiting for work in XREADGROUP BLOCK: end that wait now. A read that
     * is not blocked yet sees DRAIN before it blocks, or times out (FEEDER_BLOCK_MS). */
    pthread_mutex_lock(&w->mu);
    long long id = w->feeder_block_id;
    pthread_mutex_unlock(&w->mu);
    if (id > 0 && ferry_redis_unblock(w->r, id, NULL) != FERRY_OK)
        ferry_log(FERRY_LOG_DEBUG, "worker.unblock_failed", "error", ferry_redis_error(w->r)->msg,
                  NULL);
    uv_timer_start(&w->grace, on_grace, (uint64_t)w->o.grace_ms, 0);
    maybe_exit(w);
}

static void on_signal(uv_signal_t *s, int signum)
{
    worker_t *w = s->data;
    if (w->state >= WS_DRAIN) {
        ferry_log(FERRY_LOG_WARN, "worker.second_signal", "reason",
                  "handing in-flight copies back now", NULL);
        cancel_all(w);
        return;
    }
    begin_drain(w, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- janitor ------------------------------------------------------------------------------- */

typedef struct jan_s {
    wtask_t *t;
    size_t n, scanned;
    struct {
        char *key;
        char *id;
    } v[64];
} jan_t;

static int jan_upload(void *arg, const ferry_s3xml_upload_t *u)
{
    jan_t *jn = arg;
    wtask_t *t = jn->t;
    worker_t *w = t->w;
    if (++jn->scanned > JANITOR_MAX_SCAN || jn->n >= 64)
        return FERRY_OK;
    if (u->initiated_ms < 0 || ferry_wall_ms() - u->initiated_ms < w->o.janitor_age_ms)
        return FERRY_OK;
    if (memchr(u->key, '\0', u->key_len) != NULL)
        return FERRY_OK;
    /* Map the destination key back to the source key and ask the ledger who owns it. */
    const char *dp = t->task.dst.parsed.prefix, *sp = t->task.src.parsed.prefix;
    size_t dl = strlen(dp);
    if (u->key_len < dl || strncmp(u->key, dp, dl) != 0)
        return FERRY_OK;
    /* Only uploads ferry started for this task: another application's upload under the
     * prefix (a multi-day upload, say) is none of our business. */
    int ours = 0;
    if (ferry_ledger_upload_tracked(t->led, u->upload_id, &ours) != FERRY_OK || !ours)
        return FERRY_OK;
    char skey[FERRY_KEY_MAX * 2 + 2];
    snprintf(skey, sizeof(skey), "%s%.*s", sp, (int)(u->key_len - dl), u->key + dl);
    ferry_record_t *rec = malloc(sizeof(*rec));
    if (rec == NULL)
        return FERRY_ENOMEM;
    int rc = ferry_ledger_get(t->led, skey, rec);
    int owned = rc == FERRY_OK && strcmp(rec->upload_id, u->upload_id) == 0 &&
                (rec->state == FERRY_STATE_COPYING || rec->state == FERRY_STATE_QUEUED ||
                 rec->state == FERRY_STATE_FAILED);
    free(rec);
    if (rc != FERRY_OK && rc != FERRY_ENOTFOUND)
        return FERRY_OK; /* Redis trouble: leave it */
    if (owned)
        return FERRY_OK;
    jn->v[jn->n].key = strndup(u->key, u->key_len);
    jn->v[jn->n].id = strdup(u->upload_id);
    if (jn->v[jn->n].key == NULL || jn->v[jn->n].id == NULL) {
        free(jn->v[jn->n].key);
        free(jn->v[jn->n].id);
        return FERRY_ENOMEM;
    }
    jn->n++;
    return FERRY_OK;
}

typedef struct jan_abort_s {
    wtask_t *t;
    char id[FERRY_UPLOAD_ID_MAX + 1];
} jan_abort_t;

static void jan_abort_done(void *arg, const ferry_s3_result_t *r)
{
    jan_abort_t *a = arg;
    if ((r->rc == FERRY_OK || r->rc == FERRY_ENOTFOUND) && a->t->w->state != WS_CLOSED)
        ferry_ledger_upload_untrack(a->t->led, a->id);
    else if (r->rc != FERRY_ECANCELED)
        ferry_log(FERRY_LOG_WARN, "janitor.abort_failed", "task", a->t->task.name, "upload_id",
                  a->id, "error", r->err.msg, NULL);
    free(a);
}

static void jan_list_done(void *arg, const ferry_s3_result_t *r)
{
    jan_t *jn = arg;
    wtask_t *t = jn->t;
    t->janitor_op = NULL;
    t->janitor_busy = 0;
    if (r->rc != FERRY_OK && r->rc != FERRY_ECANCELED)
        ferry_log(FERRY_LOG_WARN, "janitor.list_failed", "task", t->task.name, "error", r->err.msg,
                  NULL);
    for (size_t i = 0; i < jn->n; i++) {
        if (r->rc != FERRY_ECANCELED && t->w->state != WS_CLOSED) {
            ferry_s3_args_t a;
            ferry_error_t e;
            ferry_s3_args_init(&a);
            a.bucket = t->dst->bucket;
            a.key = jn->v[i].key;
            a.upload_id = jn->v[i].id;
            jan_abort_t *ja = calloc(1, sizeof(*ja));
            if (ja != NULL) { /* out of memory: the next round tries again */
                ja->t = t;
                snprintf(ja->id, sizeof(ja->id), "%s", jn->v[i].id);
                ferry_log(FERRY_LOG_INFO, "janitor.abort", "task", t->task.name, "key",
                          jn->v[i].key, "upload_id", jn->v[i].id, NULL);
                if (ferry_s3_abort_multipart(t->s3d, &a, jan_abort_done, ja, NULL, &e) != FERRY_OK)
                    free(ja);
            }
        }
        free(jn->v[i].key);
        free(jn->v[i].id);
    }
    free(jn);
}

static void on_janitor(uv_timer_t *tm)
{
    worker_t *w = tm->data;
    if (w->state >= WS_DRAIN)
        return;
    /* Tasks are loaded on the loop when a job reaches it; the feeder settles some jobs on its
     * own (done, busy), so load the named tasks here too: the janitor covers them anyway. */
    for (size_t i = 0; i < w->o.ntasks; i++)
        task_get(w, w->o.tasks[i]);
    for (wtask_t *t = w->tasks; t; t = t->next) {
        if (t->broken || t->janitor_busy)
            continue;
        jan_t *jn = calloc(1, sizeof(*jn));
        if (jn == NULL)
            return;
        jn->t = t;
        ferry_s3_list_args_t la;
        memset(&la, 0, sizeof(la));
        la.bucket = t->dst->bucket;
        la.prefix = t->task.dst.parsed.prefix[0] ? t->task.dst.parsed.prefix : NULL;
        la.on_upload = jan_upload;
        la.arg = jn;
        la.max_pages = 2;
        ferry_error_t e;
        if (ferry_s3_list_uploads(t->s3d, &la, jan_list_done, jn, &t->janitor_op, &e) == FERRY_OK)
            t->janitor_busy = 1;
        else
            free(jn);
    }
}

/* ---- shutdown ------------------------------------------------------------------------------ */

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

/* Tell the committer to record what is left and exit, and join it. */
static void committer_stop(worker_t *w)
{
    set_state(w, WS_LAST);
    if (w->committer_started) {
        pthread_join(w->committer, NULL);
        w->committer_started = 0;
    }
}

/* Stop the timers, flush the statistics, clear the heartbeat and close every handle, so that
 * uv_run returns. */
static void loop_close(worker_t *w)
{
    set_state(w, WS_CLOSED);
    ferry_log(FERRY_LOG_INFO, "worker.exit", "done", NULL, NULL);
    for (wtask_t *t = w->tasks; t; t = t->next)
        if (t->janitor_op)
            ferry_s3_cancel(t->janitor_op);
    uv_timer_stop(&w->renew);
    uv_timer_stop(&w->grace);
    uv_timer_stop(&w->janitor);
    uv_timer_stop(&w->stats);
    ferry_copy_pool_close(&w->pool); /* the MD5 thread, if a copy started it: joined */
    stats_flush_all(w);              /* the last outcomes, before the process goes */
    if (w->claimed && ferry_stats_heartbeat_clear(w->r, w->o.consumer) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "worker.heartbeat_failed", "error", ferry_redis_error(w->r)->msg,
                  NULL);
    uv_close((uv_handle_t *)&w->stats, on_closed);
    uv_close((uv_handle_t *)&w->renew, on_closed);
    uv_close((uv_handle_t *)&w->grace, on_closed);
    uv_close((uv_handle_t *)&w->janitor, on_closed);
    uv_close((uv_handle_t *)&w->async, on_closed);
    uv_close((uv_handle_t *)&w->sigterm, on_closed);
    uv_close((uv_handle_t *)&w->sigint, on_closed);
    for (wtask_t *t = w->tasks; t; t = t->next) {
        ferry_s3_free(t->s3s, NULL, NULL);
        ferry_s3_free(t->s3d, NULL, NULL);
        t->s3s = t->s3d = NULL;
    }
    ferry_http_close(w->http, NULL, NULL);
    w->http = NULL;
}

/* The end of a drain (worker.h, "Stopping"): once the feeder is joined, no job is in flight
 * and the committer has recorded every outcome, join the committer and close the loop. Called
 * whenever one of those may have changed: a job ended, the feeder or the committer woke the
 * loop. Only the loop posts commits, so none can come between the look and WS_LAST. */
static void maybe_exit(worker_t *w)
{
    if (w->state != WS_DRAIN || !w->feeder_joined || w->njobs)
        return;
    pthread_mutex_lock(&w->mu);
    unsigned commits = w->commits;
    pthread_mutex_unlock(&w->mu);
    if (commits)
        return; /* the committer wakes the loop when it has recorded them */
    committer_stop(w);
    loop_close(w);
}

/* Claim the consumer name: the one given, or with slot_auto the lowest free "host/N". */
static int claim_consumer(worker_t *w, ferry_error_t *err)
{
    if (!w->o.slot_auto)
        return ferry_queue_claim(w->r, w->o.consumer, w->pid, w->o.lease_ms, err);
    for (int slot = 0; slot < 1024; slot++) {
        int rc = ferry_queue_consumer_name(w->auto_consumer, sizeof(w->auto_consumer), NULL, slot);
        if (rc != FERRY_OK)
            return ferry_error_set(err, rc,
                                   "cannot make a consumer name from the host name: set "
                                   "FERRY_HOSTNAME to a shorter name or pass --consumer");
        rc = ferry_queue_claim(w->r, w->auto_consumer, w->pid, w->o.lease_ms, err);
        if (rc != FERRY_EBUSY) {
            w->o.consumer = w->auto_consumer;
            return rc;
        }
    }
    return ferry_error_set(err, FERRY_EBUSY,
                           "every slot 0..1023 of this host is held by a live worker: stop some, "
                           "or give this one --consumer NAME");
}

/* Zeroed options take their defaults (worker.h). */
static void opts_defaults(ferry_worker_opts_t *o)
{
    if (o->concurrency == 0)
        o->concurrency = 64;
    if (o->parts_per_job == 0)
        o->parts_per_job = 4;
    if (o->ring_size == 0)
        o->ring_size = 2u << 20;
    if (o->ring_size < 256 * 1024)
        o->ring_size = 256 * 1024;
    if (o->streams == 0) {
        unsigned s = o->concurrency * o->parts_per_job;
        o->streams = s > 64 ? (o->concurrency > 64 ? o->concurrency : 64) : s;
    }
    if (o->grace_ms <= 0)
        o->grace_ms = 30000;
    if (o->lease_ms <= 0)
        o->lease_ms = 60000;
    if (o->visibility_ms <= 0)
        o->visibility_ms = 300000;
    if (o->max_attempts <= 0)
        o->max_attempts = 5;
    if (o->delivery_cap <= 0)
        o->delivery_cap = FERRY_QUEUE_DELIVERY_CAP;
    if (o->janitor_age_ms == 0)
        o->janitor_age_ms = 24 * 3600 * 1000LL;
    if (o->janitor_every_ms <= 0)
        o->janitor_every_ms = 3600 * 1000LL;
}

/* The worker's memory, options and locks; free it with worker_free. */
static int worker_new(const ferry_worker_opts_t *opts, worker_t **out, ferry_error_t *err)
{
    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    ferry_list_init(&w->jobs);
    w->o = *opts;
    if (w->o.redis_url == NULL || (w->o.consumer == NULL && !w->o.slot_auto)) {
        free(w);
        return ferry_error_set(err, FERRY_EINVAL, "worker: need a Redis URL and a consumer name");
    }
    opts_defaults(&w->o);
    w->pool.max = w->o.streams;
    w->pool.hold_max = w->o.md5_hold;
    w->hand = calloc(w->o.concurrency + 1, sizeof(*w->hand));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the committer's gather deadline */
    pthread_cond_init(&w->c_cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = w;
    if (w->hand == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    return FERRY_OK;
}

/* The loop's and the committer's Redis connections, and the consumer name: one live process
 * per name is what makes a lease of our name with another pid a dead process's, which the
 * ledger's start then takes over at once. */
static int worker_connect(worker_t *w, ferry_error_t *err)
{
    ferry_redis_opts_t ro = {.retry_ms = 30000};
    int rc;
    if ((rc = ferry_redis_connect(w->o.redis_url, &ro, &w->r, err)) != FERRY_OK ||
        (rc = ferry_redis_connect(w->o.redis_url, &ro, &w->rc_conn, err)) != FERRY_OK)
        return rc;
    w->pid = (int)getpid();
    if ((rc = claim_consumer(w, err)) != FERRY_OK)
        return rc;
    w->claimed = 1;
    return FERRY_OK;
}

static int committer_start(worker_t *w, ferry_error_t *err)
{
    if (pthread_create(&w->committer, NULL, committer_main, w) != 0)
        return ferry_error_set(err, FERRY_ENOMEM, "cannot start the committer thread");
    w->committer_started = 1;
    return FERRY_OK;
}

/* The loop, its HTTP transport, the wake-up, the signal handlers and the timers; the first
 * heartbeat; worker.start. */
static int loop_start(worker_t *w, ferry_error_t *err)
{
    uv_loop_init(&w->loop);
    uv_loop_configure(&w->loop, UV_METRICS_IDLE_TIME); /* loop_idle_pct in worker.stopped */
    w->started_ns = uv_hrtime();
    ferry_http_opts_t ho = {.max_cached_conns = 512};
    int rc = ferry_http_new(&w->loop, &ho, &w->http);
    if (rc != FERRY_OK) {
        ferry_error_set(err, rc, "cannot start the HTTP transport: %s", ferry_strerror(rc));
        uv_loop_close(&w->loop);
        return rc;
    }
    uv_async_init(&w->loop, &w->async, on_async);
    w->async.data = w;
    uv_signal_init(&w->loop, &w->sigterm);
    uv_signal_init(&w->loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    uv_timer_init(&w->loop, &w->renew);
    uv_timer_init(&w->loop, &w->grace);
    uv_timer_init(&w->loop, &w->janitor);
    uv_timer_init(&w->loop, &w->stats);
    w->renew.data = w->grace.data = w->janitor.data = w->stats.data = w;
    w->started_ms = ferry_wall_ms();
    uv_timer_start(&w->stats, on_stats, STATS_EVERY_MS, STATS_EVERY_MS);
    w->heartbeat_at = uv_now(&w->loop);
    heartbeat(w);
    uint64_t every = (uint64_t)w->o.lease_ms / 6;
    uv_timer_start(&w->renew, on_renew, every ? every : 1000, every ? every : 1000);
    if (w->o.janitor_age_ms > 0)
        uv_timer_start(&w->janitor, on_janitor, (uint64_t)w->o.janitor_every_ms,
                       (uint64_t)w->o.janitor_every_ms);
    char conc[16], ring[24], streams[16];
    snprintf(conc, sizeof(conc), "%u", w->o.concurrency);
    snprintf(ring, sizeof(ring), "%zu", w->o.ring_size);
    snprintf(streams, sizeof(streams), "%u", w->o.streams);
    ferry_log(FERRY_LOG_INFO, "worker.start", "consumer", w->o.consumer, "concurrency", conc,
              "streams", streams, "ring", ring, "redis", ferry_redis_where(w->r), NULL);
    return FERRY_OK;
}

/* worker.stopped: the outcomes and how well the threads batched their round trips. */
static void log_stopped(worker_t *w)
{
    char d[24], f[24], s[24], r[24];
    snprintf(d, sizeof(d), "%llu", w->n_done);
    snprintf(f, sizeof(f), "%llu", w->n_failed);
    snprintf(s, sizeof(s), "%llu", w->n_skipped);
    snprintf(r, sizeof(r), "%llu", w->n_retry);
    char fb[24], cb[24], idle[24], mb[24];
    snprintf(fb, sizeof(fb), "%.1f", w->feeds ? (double)w->fed / (double)w->feeds : 0.0);
    snprintf(mb, sizeof(mb), "%.1f",
             w->pool.md5_batches ? (double)w->pool.md5_units / (double)w->pool.md5_batches : 0.0);
    snprintf(cb, sizeof(cb), "%.1f", w->cbatches ? (double)w->cjobs / (double)w->cbatches : 0.0);
    uint64_t ran = uv_hrtime() - w->started_ns;
    snprintf(idle, sizeof(idle), "%.0f",
             ran ? 100.0 * (double)uv_metrics_idle_time(&w->loop) / (double)ran : 0.0);
    ferry_log(FERRY_LOG_INFO, "worker.stopped", "done", d, "failed", f, "skipped", s, "retried", r,
              "jobs_per_lease_batch", fb, "jobs_per_commit_batch", cb, "md5_per_batch", mb,
              "loop_idle_pct", idle, NULL);
}

static void tasks_free(worker_t *w)
{
    while (w->tasks) {
        wtask_t *t = w->tasks;
        w->tasks = t->next;
        ferry_queue_free(t->q);
        ferry_ledger_free(t->led);
        if (t->src)
            ferry_side_wipe(t->src);
        if (t->dst)
            ferry_side_wipe(t->dst);
        free(t->src);
        free(t->dst);
        ferry_task_clear(&t->task);
        ferry_stats_free(t->stats);
        free(t);
    }
}

/* Start the feeder and run the loop until it closes (maybe_exit). Returns the run's result. */
static int loop_run(worker_t *w, ferry_error_t *err)
{
    int rc = FERRY_OK;
    if (pthread_create(&w->feeder, NULL, feeder_main, w) != 0) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "cannot start the feeder thread");
        w->feeder_joined = 1;
        set_state(w, WS_DRAIN);
        maybe_exit(w);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (rc == FERRY_OK && w->rc != FERRY_OK)
        rc = ferry_error_set(err, w->rc, "%s", w->err.msg);
    log_stopped(w);
    uv_loop_close(&w->loop);
    ferry_k8s_worker_stop();
    tasks_free(w);
    return rc;
}

/* Release the consumer name, close the connections, free. The threads are joined. */
static void worker_free(worker_t *w)
{
    if (w->claimed && ferry_queue_claim_release(w->r, w->o.consumer, w->pid) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "worker.release_failed", "consumer", w->o.consumer, "error",
                  ferry_redis_error(w->r)->msg, NULL);
    ferry_redis_free(w->r);
    ferry_redis_free(w->rc_conn);
    pthread_cond_destroy(&w->c_cv);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->hand);
    free(w);
    ferry_ring_cache_drain();
}

int ferry_worker_run(const ferry_worker_opts_t *opts, ferry_error_t *err)
{
    worker_t *w = NULL;
    int rc = worker_new(opts, &w, err);
    if (w == NULL)
        return rc;
    if (rc == FERRY_OK)
        rc = worker_connect(w, err);
    if (rc == FERRY_OK)
        rc = committer_start(w, err);
    if (rc == FERRY_OK)
        rc = loop_start(w, err);
    if (rc == FERRY_OK)
        rc = loop_run(w, err); /* the loop closes after joining the committer */
    committer_stop(w);         /* a start that failed half way */
    worker_free(w);
    return rc;
}
