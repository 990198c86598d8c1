/* ferry scheduler — a Redis lease per task: who may scan it now.
 *
 * ferry:{T}:lease holds the holder's token ("host:pid:random"), set with SET NX PX: many
 * `ferry scheduler` processes (and `ferry task run`, `ferry sync`) may try; one holds it.
 * The holder renews it (PEXPIRE, only while the value is still its token, in one Lua step)
 * every ttl/3; when the holder dies, the key expires and another process takes over within
 * the ttl — at once when the holder was a process of this machine (same host name in the
 * token) that no longer exists (kill(pid, 0) says ESRCH): a `ferry sync` killed with SIGKILL
 * does not lock its task out of the next run for a ttl. A scan runs only under the lease, so
 * two scans of one task never overlap.
 *
 * Threading: uses the given synchronous connection; one thread.
 */
#ifndef FERRY_SCHED_LEASE_H
#define FERRY_SCHED_LEASE_H

#include "ferry/redis.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_lease_s {
    ferry_redis_t *r; /* borrowed */
    char key[128];
    char token[128];
    int64_t ttl_ms;
    int held;
} ferry_lease_t;

/* Prepare a lease for task (no I/O). ttl_ms 0: 30000. holder (may be NULL) names this
 * process in the token ("host:pid" by default). FERRY_OK or FERRY_EINVAL (bad task name). */
int ferry_lease_init(ferry_lease_t *l, ferry_redis_t *r, const char *task, int64_t ttl_ms,
                     const char *holder);

/* Try to take it: FERRY_OK (held, possibly taken over from a dead holder of this machine, logged
 * lease.taken_over), FERRY_EBUSY (another holder; *who, if given, gets its token), or a Redis
 * error. */
int ferry_lease_acquire(ferry_lease_t *l, char *who, size_t who_n);

/* Extend: FERRY_OK, FERRY_EBUSY when lost (expired and taken), or a Redis error. */
int ferry_lease_renew(ferry_lease_t *l);

/* Give it up if still ours (idempotent). */
int ferry_lease_release(ferry_lease_t *l);

#ifdef __cplusplus
}
#endif
#endif
