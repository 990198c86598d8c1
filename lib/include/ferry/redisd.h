/* ferry — the private redis-server of a state directory, for one machine without set-up.
 *
 * Files under the state dir (--state-dir, FERRY_STATE_DIR, default ~/.local/state/ferry):
 *   redis.sock   the unix socket (no TCP port is opened)
 *   redis.conf   written by ferry on every start (AOF everysec, listpack tuning)
 *   redis.pid    redis-server's pidfile;  redis.log its log;  appendonlydir/ its AOF
 *   redis.lock   flock()ed while starting or stopping, so two ferry commands racing to start
 *                the server start it once
 * The server is found as $FERRY_REDIS_SERVER, else "redis-server" on PATH.
 */
#ifndef FERRY_REDISD_H
#define FERRY_REDISD_H

#include <stddef.h>

#include "ferry/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The state dir to use: explicit (may be NULL), else $FERRY_STATE_DIR, else
 * $HOME/.local/state/ferry. FERRY_OK or FERRY_EINVAL (no HOME) / FERRY_ERANGE. */
int ferry_redisd_state_dir(const char *explicit_dir, char *buf, size_t n);

/* Make sure the private server answers, starting it if needed (creating the dir). Writes the
 * URL ("unix:///…/redis.sock") to url. *started (may be NULL) says whether it was started now. */
int ferry_redisd_ensure(const char *state_dir, char *url, size_t n, int *started,
                        ferry_error_t *err);

/* Refuse a state dir others could tamper with: it must be a directory owned by the user, not
 * writable by group or others, and its path free of control bytes. FERRY_OK; FERRY_EDENIED
 * with the chmod to run; FERRY_EINVAL; FERRY_EIO. Called by ferry_redisd_ensure. */
int ferry_redisd_dir_check(const char *dir, ferry_error_t *err);

/* s as one Redis config argument: double-quoted, with '"', '\\' and control bytes escaped
 * (\xHH), so no path can add a directive. FERRY_OK or FERRY_ERANGE (out of n bytes). Pure. */
int ferry_redisd_conf_quote(const char *s, char *out, size_t n);

/* Stop it (SHUTDOWN, then wait for the process to exit). *was_running may be NULL. */
int ferry_redisd_stop(const char *state_dir, int *was_running, ferry_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
