/* ferry — the job queue of a task: two Redis streams, ferry:{T}:q:event (drained first) and
 * ferry:{T}:q:bulk, each with consumer group "workers", and a dead-letter stream ferry:{T}:q:dead.
 * A task with several ledger shards has these three streams in every shard (ferry:{T/s.x}:…,
 * ferry/ledger.h): a job lives in its record's shard; a consumer reads all shards' streams
 * (the shards in turn, blocking on one at a time) and acks a job in the shard it came from.
 *
 * Producers do not write streams directly: ferry_ledger_enqueue() adds a job in the same Lua
 * step that moves the record to queued. Consumers use this module:
 *
 *   ferry_queue_next()    the next job: own pending entries after a restart, then entries idle
 *                         past the visibility timeout (XAUTOCLAIM), then new ones, event first
 *   ferry_queue_refresh() reset the idle clock while a long copy runs (call < visibility/2)
 *   ferry_queue_ack()     XACK + XDEL: the job is gone, the stream stays small
 *   ferry_queue_nack()    leave it pending; it becomes claimable again after a delay
 *   ferry_queue_dead()    ledger failed + move to the dead-letter stream
 *
 * Delivery is at least once. A delivery is not an attempt: a job is re-delivered after a
 * restart, when its key's lease is busy, or when a worker hands it back, and none of that is a
 * copy that failed. Giving up after failed copies is the worker's decision, on the record's
 * attempts (counted by the ledger's start script). The delivery count is only a safety cap
 * (max_deliveries, FERRY_QUEUE_DELIVERY_CAP by default): a job delivered more often than that
 * is moved to the dead-letter stream by ferry_queue_next() itself, and its record says failed
 * with the last error (an open multipart upload stays recorded on it, for a retry to resume).
 * Streams are never trimmed by length: acked entries are deleted one by one, so no pending job can
 * be trimmed away.
 *
 * Consumer names must be stable across restarts ("<host>/<slot>", see ferry_queue_consumer_name)
 * so that a restarted worker finds its own pending entries first instead of leaving them for
 * the visibility timeout: all of them, read page by page before any other work. Threading: as for
 * ferry_redis_t, one thread.
 */
#ifndef FERRY_QUEUE_H
#define FERRY_QUEUE_H

#include <stdint.h>

#include "ferry/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A job as read from a stream. */
typedef struct ferry_job_s {
    char id[48];   /* stream entry id, "<ms>-<seq>" */
    int kind;      /* ferry_queue_kind_t: which stream */
    int op_delete; /* 0 copy, 1 delete */
    char key[FERRY_KEY_MAX + 1];
    uint64_t size;
    int64_t mtime; /* unix seconds, 0 unknown */
    char etag[FERRY_ETAG_MAX + 1];
    int has_crc64;
    uint64_t crc64;
    char seq[FERRY_SEQ_MAX + 1];
    int origin; /* ferry_origin_t */
    int64_t enqueued_ms;
    long long deliveries; /* 1 on first delivery */
    uint32_t shard;       /* the ledger shard whose stream holds it (0 with one shard) */
} ferry_job_t;

/* Decode one stream entry reply ([id, [field, value, …]]). Pure, bounded and validated:
 * FERRY_OK; FERRY_ENOTFOUND for an entry whose body was deleted (nil); FERRY_EPARSE with a
 * message in err otherwise. kind is copied into job->kind. */
int ferry_job_decode(const redisReply *entry, int kind, ferry_job_t *job, ferry_error_t *err);

/* The default delivery cap: far above what restarts and busy leases cause (a busy key is
 * looked at again every lease/2, so 100 deliveries are ~50 min of a 60 s lease). */
#define FERRY_QUEUE_DELIVERY_CAP 100

typedef struct ferry_queue_opts_s {
    const char *consumer;  /* required: stable consumer name */
    int64_t visibility_ms; /* claims idle longer are re-claimed; 0 means 300000 */
    int max_deliveries;    /* safety cap: past this a job goes to the dead letters; 0 means
                              FERRY_QUEUE_DELIVERY_CAP */
} ferry_queue_opts_t;

typedef struct ferry_queue_s ferry_queue_t;

/* Open the consumer side of the ledger's task (creates the groups if needed). The ledger is
 * borrowed and must outlive the queue. *out new, free with ferry_queue_free (NULL accepted). */
int ferry_queue_open(ferry_ledger_t *l, const ferry_queue_opts_t *o, ferry_queue_t **out);
/* Create task's job streams and their consumer group if missing (idempotent), in each of its
 * `shards` ledger shards (0 means 1). ferry task add calls it, so a reader of the group (KEDA,
 * /v1/scale) finds it before any worker ran. */
int ferry_queue_create_groups(ferry_redis_t *r, const char *task, uint32_t shards);
void ferry_queue_free(ferry_queue_t *q);

/* The load of q's streams, for sharing them among workers: *waiting entries not yet delivered
 * (the group's lag), *delivered entries delivered and not acked (pending, every consumer's),
 * *consumers the most consumers either stream's group knows (0 before any read). Two
 * XINFO GROUPS per ledger shard. FERRY_OK; FERRY_EUNSUPPORTED when Redis cannot say (XINFO
 * refused, as an ACL may; a nil lag, which Redis answers after some deletions; more than 4
 * shards); or an error. */
int ferry_queue_load(ferry_queue_t *q, long long *waiting, long long *delivered,
                     long long *consumers);

/* "<host>/<slot>": host is FERRY_HOSTNAME, else gethostname(); NULL host looks it up. */
int ferry_queue_consumer_name(char *buf, size_t n, const char *host, int slot);

/* The next job, waiting up to block_ms (0: do not wait). FERRY_OK with *job filled, or
 * FERRY_ETIMEOUT when there was none, or an error. */
int ferry_queue_next(ferry_queue_t *q, ferry_job_t *job, int block_ms);

/* Up to max jobs (max >= 1) in one go, for a consumer with max free slots: like
 * ferry_queue_next, but a read of new entries asks for up to max (XREADGROUP COUNT), so
 * one round trip fills the free slots. Every job returned is delivered to this consumer
 * (pending on it): start each one, or nack it. FERRY_OK with *n >= 1, FERRY_ETIMEOUT with
 * *n = 0, or an error. */
int ferry_queue_next_batch(ferry_queue_t *q, ferry_job_t *jobs, int max, int block_ms, int *n);

/* Up to max new jobs of the event stream only, without waiting: a consumer of several tasks
 * asks each for events before it takes any task's bulk work. What is delivered to this
 * consumer already comes first, of either kind: its own pending entries from before a restart
 * (read on the first call, as ferry_queue_next does) and jobs left in the local buffer.
 * FERRY_OK with *n >= 1, FERRY_ETIMEOUT with *n = 0, or an error. */
int ferry_queue_next_events(ferry_queue_t *q, ferry_job_t *jobs, int max, int *n);

/* Done with the job, whatever the outcome: XACK + XDEL, atomically. */
int ferry_queue_ack(ferry_queue_t *q, const ferry_job_t *job);
/* Ack many in one pipeline. FERRY_OK; the first error reply as FERRY_EREDIS (the others were
 * still acked); FERRY_ENET / FERRY_ETIMEOUT when the connection failed (some may be acked:
 * acking again is harmless). */
int ferry_queue_ack_many(ferry_queue_t *q, const ferry_job_t *const *jobs, size_t n);

/* Reset the job's idle time if this consumer still owns it: FERRY_OK, or FERRY_EBUSY when it
 * was re-claimed by another consumer (stop working on it). */
int ferry_queue_refresh(ferry_queue_t *q, const ferry_job_t *job);

/* Give the job back: it stays pending and becomes claimable after delay_ms. The delivery
 * count grows on the next claim. */
int ferry_queue_nack(ferry_queue_t *q, const ferry_job_t *job, int64_t delay_ms);

/* Mark the record failed with error and move the job to the dead-letter stream. */
int ferry_queue_dead(ferry_queue_t *q, const ferry_job_t *job, const char *error);

/* Producer side: how many jobs wait or run (entries in the streams; acked ones are deleted)
 * and how many dead letters there are, summed over the ledger's shards (one pipeline). Any
 * pointer may be NULL. */
int ferry_queue_backlog(ferry_ledger_t *l, long long *event, long long *bulk, long long *dead);

/* Remove consumers of this task's groups that own nothing and were idle longer than idle_ms
 * (names of machines that are gone). *removed may be NULL. */
int ferry_queue_prune(ferry_ledger_t *l, int64_t idle_ms, int *removed);

/* The claim on a consumer name: one live process per name ("<host>/<slot>"), so that a lease
 * token of the same name with another pid is known to belong to a dead process (the ledger's
 * start takes such a lease over at once). Key ferry:consumer:<name> = "<machine> <pid>" with
 * a TTL of ttl_ms (0: 60 s); the holder renews it well within that.
 *
 * ferry_queue_claim: FERRY_OK when the name is now ours (free, already ours, or held by a
 * process of this machine that no longer exists: taken over, logged); FERRY_EBUSY with a
 * message saying what to do when a live process (or another machine, until its claim lapses)
 * holds it; another error when Redis fails. */
int ferry_queue_claim(ferry_redis_t *r, const char *consumer, int pid, int64_t ttl_ms,
                      ferry_error_t *err);
/* Extend our claim: FERRY_OK, FERRY_EBUSY when it is no longer ours (stop working), or an
 * error. */
int ferry_queue_claim_renew(ferry_redis_t *r, const char *consumer, int pid, int64_t ttl_ms);
/* Drop our claim (at a clean exit). */
int ferry_queue_claim_release(ferry_redis_t *r, const char *consumer, int pid);

#ifdef __cplusplus
}
#endif
#endif
