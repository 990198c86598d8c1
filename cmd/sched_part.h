/* The scheduler and its HTTP API as a part on a libuv loop (scheduler_cmd.c): `ferry
 * scheduler` runs it on its own loop, `ferry up` on its own beside the workers it starts.
 *
 * Life: sched_new, sched_args (the options), optionally sched_scale_cfg, sched_start; then
 * sched_stop when asked to stop, run the loop until sched_done, sched_close, run the loop
 * until the handles are closed, sched_free. The sched_t is owned by the caller of sched_new
 * and freed by sched_free; the cli_t and the scale settings are borrowed.
 * (Not named sched.h: cmd/ is on the include path, and <sched.h> is the C library's.)
 */
#ifndef FERRY_CMD_SCHED_PART_H
#define FERRY_CMD_SCHED_PART_H

#include <uv.h>

#include "cli.h"

struct ferry_scale_cfg_s;
typedef struct sched_s sched_t;

/* A scheduler on g's options (borrowed for its life); NULL when out of memory. */
sched_t *sched_new(cli_t *g);
/* GET /v1/scale's policy settings (borrowed until sched_start): ferry up's. */
void sched_scale_cfg(sched_t *s, const struct ferry_scale_cfg_s *cfg);
/* The scheduler's options as cli_parse found them (API, scan, --task, --tick, --lease-ttl):
 * ferry scheduler's and ferry up's. CLI_OK or CLI_USAGE (printed). */
int sched_args(sched_t *s, const cli_args_t *a);
/* Connect, serve the API (unless --listen off) and start scheduling on loop (NULL: its own).
 * CLI_OK or an exit code (printed); on failure call sched_free only. */
int sched_start(sched_t *s, uv_loop_t *loop);
/* The port the API listens on (0: none). */
int sched_api_port(const sched_t *s);
/* Stop: cancel the scan in progress (nothing is deleted) and stop accepting API connections
 * (the requests in flight are answered). Idempotent. */
void sched_stop(sched_t *s);
/* 1 once sched_stop was called and no scan runs any more. */
int sched_done(const sched_t *s);
/* Close the loop handles (run the loop afterwards to finish closing). */
void sched_close(sched_t *s);
/* Stop the API (answering what is in flight, at most 10 s) and free. Accepts NULL. */
void sched_free(sched_t *s);

#endif
