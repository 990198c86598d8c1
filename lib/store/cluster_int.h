/* ferry store internals: Redis Cluster support behind ferry/redis.h.
 *
 * hiredis 0.14 has no cluster client, so this file is one: it keeps the slot map from
 * CLUSTER SLOTS, one lazily opened connection per master, routes each command by
 * CRC16(hash tag) mod 16384 of its keys, follows MOVED (and refreshes the map) and ASK
 * (ASKING + the command on the node named), waits out TRYAGAIN / CLUSTERDOWN, and refreshes
 * the map when a node is lost. The pure parts (CRC16, slots, key positions, MOVED/ASK and
 * CLUSTER SLOTS parsing) are exported for tests and fuzz targets. Not a public header.
 */
#ifndef FERRY_STORE_CLUSTER_INT_H
#define FERRY_STORE_CLUSTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "ferry/error.h"
#include "redis_int.h"

#define FERRY_CLUSTER_SLOTS     16384
#define FERRY_CLUSTER_MAX_NODES 128    /* nodes one client tracks (masters and former ones) */
#define FERRY_CLUSTER_NONE      0xffff /* a slot no known node serves */
#define FERRY_CLUSTER_REDIRECTS 16     /* MOVED/ASK hops for one command */

/* ---- pure helpers ----------------------------------------------------------------------- */

/* CRC16-CCITT (XMODEM), the one Redis Cluster uses: crc16("123456789") == 0x31C3. */
uint16_t ferry_cluster_crc16(const void *buf, size_t len);

/* The slot of a key: CRC16 of its hash tag (the bytes between the first '{' and the first '}'
 * after it, when not empty), else of the whole key, mod 16384. */
unsigned ferry_cluster_key_slot(const char *key, size_t len);

/* Where a command's keys are (argv[0] is the command name, case-insensitive). */
typedef enum {
    FERRY_CLUSTER_KEYED, /* keys at argv[first + i*step], i < count (count >= 1) */
    FERRY_CLUSTER_ANY,   /* no key: any node answers (PING, INFO, CLUSTER …) */
    FERRY_CLUSTER_EVERY, /* must run on every master (KEYS, FLUSHALL, FLUSHDB, SCRIPT, DBSIZE) */
    FERRY_CLUSTER_SCAN,  /* SCAN: one master after the other, or one if MATCH has a hash tag */
} ferry_cluster_kind_t;

typedef struct {
    ferry_cluster_kind_t kind;
    int first, count, step;
} ferry_cluster_keys_t;

/* Key positions for the commands ferry sends (and the common others). FERRY_OK, or FERRY_EINVAL
 * with err when argv is malformed for its command (e.g. EVAL with more keys than arguments). */
int ferry_cluster_command_keys(int argc, const char *const *argv, const size_t *lens,
                               ferry_cluster_keys_t *out, ferry_error_t *err);

/* The one slot of all keys of a KEYED command. FERRY_OK, or FERRY_EINVAL when two keys hash to
 * different slots: err names them (CROSSSLOT) and says to give them one hash tag. */
int ferry_cluster_command_slot(int argc, const char *const *argv, const size_t *lens,
                               const ferry_cluster_keys_t *k, unsigned *slot, ferry_error_t *err);

/* A MOVED or ASK error reply ("MOVED 3999 127.0.0.1:6381", "ASK 3999 :6381", IPv6 hosts
 * with the port after the last ':'). An empty host means "the node you asked". */
typedef enum { FERRY_CLUSTER_MOVED = 1, FERRY_CLUSTER_ASK = 2 } ferry_cluster_redirect_kind_t;
typedef struct {
    ferry_cluster_redirect_kind_t kind;
    unsigned slot;
    char host[256];
    int port;
} ferry_cluster_redirect_t;

/* FERRY_OK when msg is a well-formed MOVED/ASK; FERRY_ENOTFOUND when it is another error;
 * FERRY_EPARSE when it starts like one but is malformed (bad slot, port, too long). Pure. */
int ferry_cluster_parse_redirect(const char *msg, size_t len, ferry_cluster_redirect_t *out);

typedef struct {
    char host[256];
    int port;
} ferry_cluster_addr_t;

/* A slot map: owner[slot] indexes nodes[], or FERRY_CLUSTER_NONE. */
typedef struct {
    uint16_t owner[FERRY_CLUSTER_SLOTS];
    ferry_cluster_addr_t nodes[FERRY_CLUSTER_MAX_NODES];
    int nnodes;
    unsigned covered; /* slots with an owner */
} ferry_cluster_map_t;

/* Read a CLUSTER SLOTS reply (masters only: the first address of each range). asked_host
 * replaces an empty or "?" host. FERRY_OK, or FERRY_EPARSE / FERRY_ERANGE with err naming
 * what is wrong (bad range, bad port, more than FERRY_CLUSTER_MAX_NODES masters). Pure. */
int ferry_cluster_parse_slots(const redisReply *rep, const char *asked_host, ferry_cluster_map_t *m,
                              ferry_error_t *err);

/* ---- the client (used by redis.c) ------------------------------------------------------- */

/* Turn r into a cluster client from the CLUSTER SLOTS reply its seed connection gave (the
 * seed connection is kept as the connection to that node when the map names it). FERRY_OK,
 * or an error on r->err. */
int ferry_cluster_start(ferry_redis_t *r, const redisReply *slots);
void ferry_cluster_free(ferry_cluster_t *cl);

/* A formatted command (redisFormatCommand output, not owned). *reply as ferry_redis_argv. */
int ferry_cluster_exec(ferry_redis_t *r, const char *cmd, size_t len, redisReply **reply);

/* Pipelines: queue a formatted command (copied; script != NULL for EVALSHA of that script),
 * read the replies in order. */
int ferry_cluster_append(ferry_redis_t *r, const char *cmd, size_t len,
                         const ferry_redis_script_t *script);
int ferry_cluster_read(ferry_redis_t *r, redisReply **reply);

/* Drop every connection and queued command, then rebuild the slot map (with the connection's
 * backoff budget). */
int ferry_cluster_reset(ferry_redis_t *r);

/* Masters in the current map, and reconnects counted over all nodes. */
int ferry_cluster_masters(const ferry_redis_t *r);

#endif
