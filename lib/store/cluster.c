/* ferry — Redis Cluster client behind ferry/redis.h. See cluster_int.h. */
#include "cluster_int.h"
#include "ferry/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- pure helpers ----------------------------------------------------------------------- */

uint16_t ferry_cluster_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned ferry_cluster_key_slot(const char *key, size_t len)
{
    size_t s = 0;
    while (s < len && key[s] != '{')
        s++;
    if (s < len) {
        size_t e = s + 1;
        while (e < len && key[e] != '}')
            e++;
        if (e < len && e > s + 1)
            return ferry_cluster_crc16(key + s + 1, e - s - 1) & (FERRY_CLUSTER_SLOTS - 1);
    }
    return ferry_cluster_crc16(key, len) & (FERRY_CLUSTER_SLOTS - 1);
}

static size_t arg_len(const char *const *argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]);
}

static int name_is(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

static int name_in(const char *a, size_t n, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (name_is(a, n, list[i]))
            return 1;
    return 0;
}

static const char *const CMD_ANY[] = {
    "PING",      "ECHO",     "INFO",      "TIME",   "CLUSTER",      "COMMAND",  "CONFIG",
    "CLIENT",    "READONLY", "READWRITE", "ASKING", "AUTH",         "HELLO",    "ROLE",
    "LASTSAVE",  "SLOWLOG",  "LATENCY",   "WAIT",   "MULTI",        "EXEC",     "DISCARD",
    "RANDOMKEY", "QUIT",     "SAVE",      "BGSAVE", "BGREWRITEAOF", "SHUTDOWN", NULL};
static const char *const CMD_EVERY[] = {"KEYS", "FLUSHALL", "FLUSHDB", "SCRIPT", "DBSIZE", NULL};
static const char *const CMD_ALLKEYS[] = {
    "DEL",   "UNLINK",  "EXISTS",  "TOUCH",       "MGET",        "WATCH",      "SINTER", "SUNION",
    "SDIFF", "PFCOUNT", "PFMERGE", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE", NULL};
static const char *const CMD_BLOCKPOP[] = {"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", NULL};
static const char *const CMD_TWOKEYS[] = {"RENAME", "RENAMENX", "SMOVE",      "RPOPLPUSH", "LMOVE",
                                          "COPY",   "BLMOVE",   "BRPOPLPUSH", NULL};
static const char *const CMD_SUBKEY[] = {"XINFO", "XGROUP", "OBJECT", "MEMORY", NULL};
static const char *const CMD_EVAL[] = {"EVAL",  "EVALSHA",  "EVAL_RO", "EVALSHA_RO",
                                       "FCALL", "FCALL_RO", NULL};

int ferry_cluster_command_keys(int argc, const char *const *argv, const size_t *lens,
                               ferry_cluster_keys_t *out, ferry_error_t *err)
{
    memset(out, 0, sizeof(*out));
    out->kind = FERRY_CLUSTER_ANY;
    out->step = 1;
    if (argc < 1)
        return ferry_error_set(err, FERRY_EINVAL, "empty Redis command");
    const char *c = argv[0];
    size_t cn = arg_len(argv, lens, 0);
    if (name_in(c, cn, CMD_ANY))
        return FERRY_OK;
    if (name_in(c, cn, CMD_EVERY)) {
        out->kind = FERRY_CLUSTER_EVERY;
        return FERRY_OK;
    }
    if (name_is(c, cn, "SCAN")) {
        out->kind = FERRY_CLUSTER_SCAN;
        return FERRY_OK;
    }
    if (argc < 2)
        return FERRY_OK;
    out->kind = FERRY_CLUSTER_KEYED;
    out->first = 1;
    out->count = 1;
    if (name_in(c, cn, CMD_ALLKEYS)) {
        out->count = argc - 1;
    } else if (name_in(c, cn, CMD_BLOCKPOP)) {
        out->count = argc - 2;
    } else if (name_is(c, cn, "MSET") || name_is(c, cn, "MSETNX")) {
        if ((argc - 1) % 2)
            return ferry_error_set(err, FERRY_EINVAL, "MSET needs key value pairs");
        out->count = (argc - 1) / 2;
        out->step = 2;
    } else if (name_in(c, cn, CMD_TWOKEYS)) {
        out->count = argc >= 3 ? 2 : 1;
    } else if (name_in(c, cn, CMD_SUBKEY)) {
        out->first = 2;
        out->count = argc >= 3 ? 1 : 0;
    } else if (name_is(c, cn, "XREAD") || name_is(c, cn, "XREADGROUP")) {
        int s = 1;
        while (s < argc && !name_is(argv[s], arg_len(argv, lens, s), "STREAMS"))
            s++;
        int rest = argc - s - 1;
        if (s >= argc || rest <= 0 || rest % 2)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "%.*s needs STREAMS key… id… with as many ids as keys", (int)cn,
                                   c);
        out->first = s + 1;
        out->count = rest / 2;
    } else if (name_in(c, cn, CMD_EVAL)) {
        if (argc < 3)
            return ferry_error_set(err, FERRY_EINVAL, "%.*s needs a script and numkeys", (int)cn,
                                   c);
        size_t nl = arg_len(argv, lens, 2);
        long nk = 0;
        if (nl == 0 || nl > 9)
            return ferry_error_set(err, FERRY_EINVAL, "%.*s: bad numkeys", (int)cn, c);
        for (size_t i = 0; i < nl; i++) {
            if (argv[2][i] < '0' || argv[2][i] > '9')
                return ferry_error_set(err, FERRY_EINVAL, "%.*s: bad numkeys", (int)cn, c);
            nk = nk * 10 + (argv[2][i] - '0');
        }
        if (nk > argc - 3)
            return ferry_error_set(err, FERRY_EINVAL, "%.*s: numkeys %ld but %d arguments", (int)cn,
                                   c, nk, argc - 3);
        out->first = 3;
        out->count = (int)nk;
    }
    if (out->count <= 0) {
        out->kind = FERRY_CLUSTER_ANY;
        out->count = 0;
    }
    return FERRY_OK;
}

int ferry_cluster_command_slot(int argc, const char *const *argv, const size_t *lens,
                               const ferry_cluster_keys_t *k, unsigned *slot, ferry_error_t *err)
{
    *slot = 0;
    if (k->kind != FERRY_CLUSTER_KEYED || k->count < 1 || k->first < 1 || k->step < 1 ||
        k->first + (long)(k->count - 1) * k->step >= argc)
        return ferry_error_set(err, FERRY_EINVAL, "command has no key to route by");
    int i0 = k->first;
    size_t l0 = arg_len(argv, lens, i0);
    unsigned s0 = ferry_cluster_key_slot(argv[i0], l0);
    for (int j = 1; j < k->count; j++) {
        int i = k->first + j * k->step;
        size_t l = arg_len(argv, lens, i);
        unsigned s = ferry_cluster_key_slot(argv[i], l);
        if (s != s0)
            return ferry_error_set(
                err, FERRY_EINVAL,
                "CROSSSLOT: %.*s on keys \"%.*s\" (slot %u) and \"%.*s\" (slot %u): a Redis "
                "Cluster runs a multi-key command only within one slot; give the keys one hash "
                "tag ({…})",
                (int)arg_len(argv, lens, 0), argv[0], (int)(l0 > 100 ? 100 : l0), argv[i0], s0,
                (int)(l > 100 ? 100 : l), argv[i], s);
    }
    *slot = s0;
    return FERRY_OK;
}

int ferry_cluster_parse_redirect(const char *msg, size_t len, ferry_cluster_redirect_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t p;
    if (len >= 6 && memcmp(msg, "MOVED ", 6) == 0) {
        out->kind = FERRY_CLUSTER_MOVED;
        p = 6;
    } else if (len >= 4 && memcmp(msg, "ASK ", 4) == 0) {
        out->kind = FERRY_CLUSTER_ASK;
        p = 4;
    } else {
        return FERRY_ENOTFOUND;
    }
    size_t s = p;
    while (p < len && msg[p] != ' ')
        p++;
    long slot;
    if (p >= len || redis_int_parse_uint(msg + s, p - s, FERRY_CLUSTER_SLOTS - 1, &slot))
        return FERRY_EPARSE;
    const char *a = msg + p + 1;
    size_t an = len - p - 1;
    for (size_t i = 0; i < an; i++)
        if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f)
            return FERRY_EPARSE;
    const char *colon = NULL;
    for (size_t i = 0; i < an; i++)
        if (a[i] == ':')
            colon = a + i;
    long port;
    if (colon == NULL ||
        redis_int_parse_uint(colon + 1, an - (size_t)(colon + 1 - a), 65535, &port) || port == 0)
        return FERRY_EPARSE;
    const char *h = a;
    size_t hl = (size_t)(colon - a);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(out->host))
        return FERRY_EPARSE;
    memcpy(out->host, h, hl);
    out->host[hl] = '\0';
    out->slot = (unsigned)slot;
    out->port = (int)port;
    return FERRY_OK;
}

static int map_node(ferry_cluster_map_t *m, const char *host, size_t hl, int port)
{
    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i].port == port && strlen(m->nodes[i].host) == hl &&
            memcmp(m->nodes[i].host, host, hl) == 0)
            return i;
    if (m->nnodes >= FERRY_CLUSTER_MAX_NODES || hl >= sizeof(m->nodes[0].host))
        return -1;
    ferry_cluster_addr_t *a = &m->nodes[m->nnodes];
    memcpy(a->host, host, hl);
    a->host[hl] = '\0';
    a->port = port;
    return m->nnodes++;
}

int ferry_cluster_parse_slots(const redisReply *rep, const char *asked_host, ferry_cluster_map_t *m,
                              ferry_error_t *err)
{
    memset(m->owner, 0xff, sizeof(m->owner));
    m->nnodes = 0;
    m->covered = 0;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
        return ferry_error_set(err, FERRY_EPARSE, "CLUSTER SLOTS did not answer an array");
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "CLUSTER SLOTS entry %zu is not [start, end, [host, port] …]",
                                   i);
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        if (lo < 0 || hi < lo || hi >= FERRY_CLUSTER_SLOTS)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "CLUSTER SLOTS entry %zu: bad range %lld-%lld", i, lo, hi);
        const redisReply *n = e->element[2];
        if (n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
            n->element[0]->type != REDIS_REPLY_STRING || n->element[1]->type != REDIS_REPLY_INTEGER)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "CLUSTER SLOTS entry %zu: the master is not [host, port]", i);
        long long port = n->element[1]->integer;
        if (port <= 0 || port > 65535)
            return ferry_error_set(err, FERRY_EPARSE, "CLUSTER SLOTS entry %zu: bad port %lld", i,
                                   port);
        const char *h = n->element[0]->str;
        size_t hl = n->element[0]->len;
        if (hl == 0 || (hl == 1 && h[0] == '?')) {
            if (asked_host == NULL)
                return ferry_error_set(err, FERRY_EPARSE, "CLUSTER SLOTS entry %zu has no host", i);
            h = asked_host;
            hl = strlen(asked_host);
        }
        if (memchr(h, '\0', hl) != NULL)
            return ferry_error_set(err, FERRY_EPARSE, "CLUSTER SLOTS entry %zu: bad host", i);
        int idx = map_node(m, h, hl, (int)port);
        if (idx < 0)
            return ferry_error_set(err, FERRY_ERANGE,
                                   "CLUSTER SLOTS names more than %d masters (or a host longer "
                                   "than 255 bytes)",
                                   FERRY_CLUSTER_MAX_NODES);
        for (long long s = lo; s <= hi; s++) {
            if (m->owner[s] == FERRY_CLUSTER_NONE)
                m->covered++;
            m->owner[s] = (uint16_t)idx;
        }
    }
    return FERRY_OK;
}

/* ---- the client ------------------------------------------------------------------------- */

typedef struct {
    ferry_cluster_addr_t a;
    redisContext *c;
    size_t pending; /* pipelined commands sent here whose reply is not read yet */
    int master;     /* owns at least one slot in the current map */
    /* Scripts sent to this node's connection (SCRIPT LOAD queued ahead of a pipelined EVALSHA) */
    const ferry_redis_script_t *loaded[REDIS_SCRIPT_SLOTS];
    int nloaded;
} cl_node_t;

typedef struct {
    char *cmd;
    size_t len;
    int node;
    const ferry_redis_script_t *script;
    int answered;
    int internal; /* a SCRIPT LOAD the client queued itself: its reply is nobody's */
    int rc;
    redisReply *reply;
} cl_pend_t;

struct ferry_cluster_s {
    cl_node_t nodes[FERRY_CLUSTER_MAX_NODES];
    int nnodes;
    uint16_t owner[FERRY_CLUSTER_SLOTS];
    int masters;
    long long refreshed_ms;
    cl_pend_t *q;
    size_t qhead, qlen, qcap;
};

#define CL_MAX_ARGS (1 << 20)

/* Split a formatted command ("*N", "$L" …) into views. The arrays av and al are new (free both).
 * Trusted input (hiredis formatted it), checked anyway. */
static int resp_split(const char *cmd, size_t len, const char ***avp, size_t **alp, int *argc)
{
    *avp = NULL;
    *alp = NULL;
    *argc = 0;
    size_t p = 0;
    long n = 0;
    if (len < 4 || cmd[0] != '*')
        return FERRY_EINVAL;
    for (p = 1; p < len && cmd[p] >= '0' && cmd[p] <= '9' && n < CL_MAX_ARGS; p++)
        n = n * 10 + (cmd[p] - '0');
    if (n <= 0 || n >= CL_MAX_ARGS || p + 1 >= len || cmd[p] != '\r' || cmd[p + 1] != '\n')
        return FERRY_EINVAL;
    p += 2;
    const char **av = malloc((size_t)n * sizeof(*av));
    size_t *al = malloc((size_t)n * sizeof(*al));
    if (av == NULL || al == NULL) {
        free(av);
        free(al);
        return FERRY_ENOMEM;
    }
    for (long i = 0; i < n; i++) {
        size_t l = 0;
        if (p >= len || cmd[p] != '$')
            goto bad;
        for (p++; p < len && cmd[p] >= '0' && cmd[p] <= '9' && l <= len; p++)
            l = l * 10 + (size_t)(cmd[p] - '0');
        if (p + 1 >= len || cmd[p] != '\r' || cmd[p + 1] != '\n' || l > len - p - 2)
            goto bad;
        p += 2;
        av[i] = cmd + p;
        al[i] = l;
        p += l;
        if (p + 2 > len || cmd[p] != '\r' || cmd[p + 1] != '\n')
            goto bad;
        p += 2;
    }
    *avp = av;
    *alp = al;
    *argc = (int)n;
    return FERRY_OK;
bad:
    free(av);
    free(al);
    return FERRY_EINVAL;
}

static int node_index(ferry_cluster_t *cl, const char *host, int port)
{
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i].a.port == port && strcmp(cl->nodes[i].a.host, host) == 0)
            return i;
    int i = cl->nnodes;
    if (i >= FERRY_CLUSTER_MAX_NODES) {
        /* Recycle a node that serves nothing and waits for nothing. */
        for (i = 0; i < cl->nnodes; i++)
            if (!cl->nodes[i].master && cl->nodes[i].pending == 0)
                break;
        if (i == cl->nnodes)
            return -1;
        if (cl->nodes[i].c)
            redisFree(cl->nodes[i].c);
    } else {
        cl->nnodes++;
    }
    memset(&cl->nodes[i], 0, sizeof(cl->nodes[i]));
    snprintf(cl->nodes[i].a.host, sizeof(cl->nodes[i].a.host), "%s", host);
    cl->nodes[i].a.port = port;
    return i;
}

static void count_masters(ferry_cluster_t *cl)
{
    for (int i = 0; i < cl->nnodes; i++)
        cl->nodes[i].master = 0;
    for (unsigned s = 0; s < FERRY_CLUSTER_SLOTS; s++)
        if (cl->owner[s] != FERRY_CLUSTER_NONE)
            cl->nodes[cl->owner[s]].master = 1;
    cl->masters = 0;
    for (int i = 0; i < cl->nnodes; i++)
        cl->masters += cl->nodes[i].master;
}

/* Adopt a parsed map. FERRY_OK or FERRY_ERANGE (too many nodes). */
static int apply_map(ferry_redis_t *r, const ferry_cluster_map_t *m)
{
    ferry_cluster_t *cl = r->cl;
    int idx[FERRY_CLUSTER_MAX_NODES];
    for (int i = 0; i < m->nnodes; i++) {
        idx[i] = node_index(cl, m->nodes[i].host, m->nodes[i].port);
        if (idx[i] < 0)
            return ferry_error_set(&r->err, FERRY_ERANGE, "Redis Cluster has more than %d nodes",
                                   FERRY_CLUSTER_MAX_NODES);
        cl->nodes[idx[i]].master = 1; /* not to be recycled by the next node_index */
    }
    for (unsigned s = 0; s < FERRY_CLUSTER_SLOTS; s++)
        cl->owner[s] =
            m->owner[s] == FERRY_CLUSTER_NONE ? FERRY_CLUSTER_NONE : (uint16_t)idx[m->owner[s]];
    count_masters(cl);
    cl->refreshed_ms = ferry_mono_ms();
    return FERRY_OK;
}

static void node_close(ferry_cluster_t *cl, int i)
{
    if (cl->nodes[i].c)
        redisFree(cl->nodes[i].c);
    cl->nodes[i].c = NULL;
    cl->nodes[i].nloaded = 0;
}

static int node_lost(const redisContext *c)
{
    return c == NULL || c->err != 0;
}

static int node_conn(ferry_redis_t *r, int i, redisContext **out)
{
    cl_node_t *n = &r->cl->nodes[i];
    if (n->c && !node_lost(n->c)) {
        *out = n->c;
        return FERRY_OK;
    }
    if (n->c) {
        node_close(r->cl, i);
        r->reconnects++;
    }
    int rc = redis_int_open(r, n->a.host, n->a.port, &n->c);
    if (rc)
        return rc;
    *out = n->c;
    return FERRY_OK;
}

/* Close node i after a failed read; the error names it. */
static int node_io_error(ferry_redis_t *r, int i)
{
    cl_node_t *n = &r->cl->nodes[i];
    char why[160];
    int timeout = n->c && n->c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    redis_int_lower_first(why, sizeof(why), n->c ? n->c->errstr : "not connected");
    int rc = timeout ? ferry_error_set(&r->err, FERRY_ETIMEOUT,
                                       "Redis Cluster node %s:%d did not answer in %d ms",
                                       n->a.host, n->a.port, r->opts.command_timeout_ms)
                     : ferry_error_set(&r->err, FERRY_ENET, "lost Redis Cluster node %s:%d: %s",
                                       n->a.host, n->a.port, why);
    node_close(r->cl, i);
    return rc;
}

/* Rebuild the slot map from the first node that answers CLUSTER SLOTS: current masters,
 * then the other known nodes, then the URL's address. Nodes with pipelined commands in
 * flight are skipped (a synchronous command there would read their replies). */
static int refresh(ferry_redis_t *r)
{
    ferry_cluster_t *cl = r->cl;
    ferry_cluster_map_t *m = malloc(sizeof(*m));
    if (m == NULL)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "out of memory");
    ferry_error_t last;
    ferry_error_set(&last, FERRY_ENET, "no node known");
    int tried = 0;
    (void)node_index(cl, r->url.host, r->url.port);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < cl->nnodes; i++) {
            cl_node_t *n = &cl->nodes[i];
            if ((pass == 0) != (n->master != 0) || n->pending)
                continue;
            tried++;
            redisContext *c = NULL;
            if (node_conn(r, i, &c) != FERRY_OK) {
                last = r->err;
                continue;
            }
            redisReply *rep = redisCommand(c, "CLUSTER SLOTS");
            if (rep == NULL) {
                node_io_error(r, i);
                last = r->err;
                continue;
            }
            ferry_error_t pe;
            int rc = rep->type == REDIS_REPLY_ERROR
                         ? ferry_error_set(&pe, FERRY_EREDIS, "%s", rep->str)
                         : ferry_cluster_parse_slots(rep, n->a.host, m, &pe);
            freeReplyObject(rep);
            if (rc == FERRY_OK && m->covered == 0)
                rc = ferry_error_set(&pe, FERRY_EREDIS, "no slot is assigned");
            if (rc) {
                ferry_error_set(&last, rc, "%s:%d: %s", n->a.host, n->a.port, pe.msg);
                continue;
            }
            rc = apply_map(r, m);
            free(m);
            if (rc == FERRY_OK)
                ferry_error_clear(&r->err);
            return rc;
        }
    }
    free(m);
    return ferry_error_set(&r->err, last.code == FERRY_EREDIS ? FERRY_EREDIS : FERRY_ENET,
                           "cannot read the Redis Cluster slot map from any of %d node(s): %s — "
                           "check the nodes (redis-cli --cluster check %s:%d)",
                           tried, last.msg, r->url.host, r->url.port);
}

static int any_node(ferry_cluster_t *cl)
{
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i].master && cl->nodes[i].c && !node_lost(cl->nodes[i].c))
            return i;
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i].master)
            return i;
    return cl->nnodes ? 0 : -1;
}

/* The node for a slot, refreshing the map once if nobody serves it. */
static int slot_node(ferry_redis_t *r, unsigned slot, int *node)
{
    ferry_cluster_t *cl = r->cl;
    if (cl->owner[slot] == FERRY_CLUSTER_NONE) {
        int rc = refresh(r);
        if (rc)
            return rc;
    }
    if (cl->owner[slot] == FERRY_CLUSTER_NONE)
        return ferry_error_set(&r->err, FERRY_EREDIS,
                               "no Redis Cluster master serves slot %u: the cluster is incomplete "
                               "— run redis-cli --cluster fix %s:%d",
                               slot, r->url.host, r->url.port);
    *node = cl->owner[slot];
    return FERRY_OK;
}

/* Send cmd to node i (ASKING first when asking) and read one reply (error replies included).
 * FERRY_OK with *rep, or FERRY_ENET / FERRY_ETIMEOUT (the node's connection is closed). */
static int node_send(ferry_redis_t *r, int i, const char *cmd, size_t len, int asking,
                     redisReply **rep)
{
    *rep = NULL;
    redisContext *c = NULL;
    int rc = node_conn(r, i, &c);
    if (rc)
        return rc;
    if ((asking && redisAppendCommand(c, "ASKING") != REDIS_OK) ||
        redisAppendFormattedCommand(c, cmd, len) != REDIS_OK)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot queue a Redis command");
    void *x = NULL;
    if (asking) {
        if (redisGetReply(c, &x) != REDIS_OK || x == NULL)
            return node_io_error(r, i);
        freeReplyObject(x);
        x = NULL;
    }
    if (redisGetReply(c, &x) != REDIS_OK || x == NULL)
        return node_io_error(r, i);
    *rep = x;
    return FERRY_OK;
}

static int is_err(const redisReply *rep, const char *prefix)
{
    size_t n = strlen(prefix);
    return rep && rep->type == REDIS_REPLY_ERROR && rep->len >= n &&
           memcmp(rep->str, prefix, n) == 0;
}

/* Errors that go away when the cluster settles: a slot in migration (TRYAGAIN), a cluster
 * that lost a master (CLUSTERDOWN), a blocked read whose stream moved (UNBLOCKED). */
static int transient(const redisReply *rep)
{
    return is_err(rep, "TRYAGAIN") || is_err(rep, "CLUSTERDOWN") || is_err(rep, "UNBLOCKED") ||
           is_err(rep, "LOADING");
}

static int run_every(ferry_redis_t *r, const char *cmd, size_t len, const char *name, size_t nl,
                     redisReply **out);
static int run_scan(ferry_redis_t *r, const char **av, size_t *al, int ac, redisReply **out);

/* Run one formatted command with routing, redirects and retries. *out may be an error reply.
 * force_node >= 0 sends it there first (with ASKING when asking). */
static int exec_slot(ferry_redis_t *r, const char *cmd, size_t len, int force_node, int asking,
                     long pin_slot, redisReply **out)
{
    ferry_cluster_t *cl = r->cl;
    *out = NULL;
    const char **av = NULL;
    size_t *al = NULL;
    int ac = 0;
    int rc = resp_split(cmd, len, &av, &al, &ac);
    if (rc)
        return ferry_error_set(&r->err, rc, "cannot read back a formatted Redis command");
    ferry_cluster_keys_t k;
    unsigned slot = 0;
    int node = -1;
    rc = ferry_cluster_command_keys(ac, av, al, &k, &r->err);
    if (rc == FERRY_OK && pin_slot >= 0) {
        /* SCAN MATCH on a hash tag: routed like a key of that slot. */
        k.kind = FERRY_CLUSTER_KEYED;
        slot = (unsigned)pin_slot;
    } else if (rc == FERRY_OK && k.kind == FERRY_CLUSTER_EVERY) {
        rc = run_every(r, cmd, len, av[0], al[0], out);
        goto done;
    } else if (rc == FERRY_OK && k.kind == FERRY_CLUSTER_SCAN) {
        rc = run_scan(r, av, al, ac, out);
        goto done;
    } else if (rc == FERRY_OK && k.kind == FERRY_CLUSTER_KEYED) {
        rc = ferry_cluster_command_slot(ac, av, al, &k, &slot, &r->err);
    }
    if (rc)
        goto done;
    long long deadline = r->opts.retry_ms < 0 ? 0 : ferry_mono_ms() + r->opts.retry_ms;
    long backoff = 20;
    int hops = 0, timeouts = 0;
    for (;;) {
        if (force_node >= 0) {
            node = force_node;
            force_node = -1;
        } else if (k.kind == FERRY_CLUSTER_KEYED) {
            rc = slot_node(r, slot, &node);
        } else {
            node = any_node(cl);
            if (node < 0)
                rc = refresh(r);
            if (rc == FERRY_OK && (node = any_node(cl)) < 0)
                rc = ferry_error_set(&r->err, FERRY_ENET, "no Redis Cluster node known");
        }
        redisReply *rep = NULL;
        if (rc == FERRY_OK)
            rc = node_send(r, node, cmd, len, asking, &rep);
        asking = 0;
        if (rc == FERRY_ENET || (rc == FERRY_ETIMEOUT && timeouts++ == 0) ||
            (rc == FERRY_EREDIS && k.kind == FERRY_CLUSTER_KEYED)) {
            /* A node is gone, or the map has a hole: wait, re-read the map, try again
             * (at-least-once, as on one node). */
            if (deadline == 0 || ferry_mono_ms() >= deadline)
                goto done;
            ferry_error_t keep = r->err;
            redis_int_backoff(r, &backoff, deadline);
            if (refresh(r) != FERRY_OK)
                r->err = keep;
            rc = FERRY_OK;
            continue;
        }
        if (rc)
            goto done;
        ferry_cluster_redirect_t rd;
        if (rep->type == REDIS_REPLY_ERROR &&
            ferry_cluster_parse_redirect(rep->str, rep->len, &rd) == FERRY_OK &&
            hops < FERRY_CLUSTER_REDIRECTS) {
            hops++;
            int to = node_index(cl, rd.host[0] ? rd.host : cl->nodes[node].a.host, rd.port);
            if (to < 0) {
                *out = rep;
                goto done;
            }
            freeReplyObject(rep);
            if (rd.kind == FERRY_CLUSTER_ASK) {
                force_node = to;
                asking = 1;
            } else {
                cl->owner[rd.slot] = (uint16_t)to;
                cl->nodes[to].master = 1;
                /* One MOVED usually means a resharding: re-read the whole map, at most once
                 * a second (the slot just learnt is right either way). */
                if (ferry_mono_ms() - cl->refreshed_ms > 1000) {
                    ferry_error_t keep = r->err;
                    if (refresh(r) != FERRY_OK)
                        r->err = keep;
                    cl->owner[rd.slot] = (uint16_t)to;
                }
                if (k.kind != FERRY_CLUSTER_KEYED)
                    force_node = to;
            }
            continue;
        }
        if (transient(rep) && hops < 4 * FERRY_CLUSTER_REDIRECTS && deadline &&
            ferry_mono_ms() < deadline) {
            hops++;
            int down = is_err(rep, "CLUSTERDOWN") || is_err(rep, "UNBLOCKED");
            freeReplyObject(rep);
            redis_int_backoff(r, &backoff, deadline);
            if (down) {
                ferry_error_t keep = r->err;
                if (refresh(r) != FERRY_OK)
                    r->err = keep;
            }
            continue;
        }
        *out = rep;
        goto done;
    }
done:
    free(av);
    free(al);
    return rc;
}

static int exec_raw(ferry_redis_t *r, const char *cmd, size_t len, int force_node, int asking,
                    redisReply **out)
{
    return exec_slot(r, cmd, len, force_node, asking, -1, out);
}

/* The masters, in the order of the first slot each serves (SCAN visits them in this order). */
static int masters_in_order(ferry_cluster_t *cl, int *out)
{
    int n = 0;
    char seen[FERRY_CLUSTER_MAX_NODES] = {0};
    for (unsigned s = 0; s < FERRY_CLUSTER_SLOTS; s++) {
        uint16_t o = cl->owner[s];
        if (o != FERRY_CLUSTER_NONE && !seen[o]) {
            seen[o] = 1;
            out[n++] = o;
        }
    }
    return n;
}

static int run_every(ferry_redis_t *r, const char *cmd, size_t len, const char *name, size_t nl,
                     redisReply **out)
{
    ferry_cluster_t *cl = r->cl;
    int order[FERRY_CLUSTER_MAX_NODES];
    int n = masters_in_order(cl, order);
    if (n == 0) {
        int rc = refresh(r);
        if (rc)
            return rc;
        n = masters_in_order(cl, order);
    }
    int keys = name_is(name, nl, "KEYS"), dbsize = name_is(name, nl, "DBSIZE");
    redisReply *acc = NULL;
    for (int i = 0; i < n; i++) {
        redisReply *rep = NULL;
        int rc = node_send(r, order[i], cmd, len, 0, &rep);
        if (rc) {
            if (acc)
                freeReplyObject(acc);
            return rc;
        }
        if (rep->type == REDIS_REPLY_ERROR || acc == NULL) {
            if (acc)
                freeReplyObject(acc);
            acc = rep;
            if (rep->type == REDIS_REPLY_ERROR)
                break;
            continue;
        }
        if (dbsize && acc->type == REDIS_REPLY_INTEGER && rep->type == REDIS_REPLY_INTEGER) {
            acc->integer += rep->integer;
        } else if (keys && acc->type == REDIS_REPLY_ARRAY && rep->type == REDIS_REPLY_ARRAY &&
                   rep->elements) {
            redisReply **e =
                realloc(acc->element, (acc->elements + rep->elements) * sizeof(*acc->element));
            if (e == NULL) {
                freeReplyObject(rep);
                freeReplyObject(acc);
                return ferry_error_set(&r->err, FERRY_ENOMEM, "out of memory");
            }
            memcpy(e + acc->elements, rep->element, rep->elements * sizeof(*e));
            acc->element = e;
            acc->elements += rep->elements;
            free(rep->element);
            rep->element = NULL;
            rep->elements = 0;
        }
        freeReplyObject(rep);
    }
    *out = acc;
    return acc ? FERRY_OK : ferry_error_set(&r->err, FERRY_ENET, "no Redis Cluster master known");
}

/* A MATCH pattern whose hash tag is literal: all its keys live in one slot. */
static int pattern_slot(const char *p, size_t n, unsigned *slot)
{
    size_t s = 0;
    while (s < n && p[s] != '{') {
        if (p[s] == '*' || p[s] == '?' || p[s] == '[' || p[s] == '\\')
            return 0;
        s++;
    }
    size_t e = s + 1;
    while (e < n && p[e] != '}') {
        if (p[e] == '*' || p[e] == '?' || p[e] == '[' || p[e] == '\\')
            return 0;
        e++;
    }
    if (s >= n || e >= n || e == s + 1)
        return 0;
    *slot = ferry_cluster_crc16(p + s + 1, e - s - 1) & (FERRY_CLUSTER_SLOTS - 1);
    return 1;
}

/* SCAN over every master: the cursor is "0" to start and end, else "I:C" (master I in
 * masters_in_order, that master's cursor C). With MATCH on a literal hash tag only the
 * slot's master is scanned and cursors are that node's. */
static int run_scan(ferry_redis_t *r, const char **av, size_t *al, int ac, redisReply **out)
{
    ferry_cluster_t *cl = r->cl;
    if (ac < 2)
        return ferry_error_set(&r->err, FERRY_EINVAL, "SCAN needs a cursor");
    unsigned slot = 0; /* set when tagged */
    int tagged = 0;
    for (int i = 2; i + 1 < ac; i++)
        if (name_is(av[i], al[i], "MATCH"))
            tagged = pattern_slot(av[i + 1], al[i + 1], &slot);
    int order[FERRY_CLUSTER_MAX_NODES];
    int n = masters_in_order(cl, order);
    int idx = 0;
    char cur[32] = "0";
    const char *colon = memchr(av[1], ':', al[1]);
    if (!tagged && colon) {
        long v = 0;
        size_t il = (size_t)(colon - av[1]), cl2 = al[1] - il - 1;
        if (redis_int_parse_uint(av[1], il, FERRY_CLUSTER_MAX_NODES, &v) || cl2 == 0 ||
            cl2 >= sizeof(cur))
            return ferry_error_set(&r->err, FERRY_EINVAL, "bad cluster SCAN cursor");
        idx = (int)v;
        memcpy(cur, colon + 1, cl2);
        cur[cl2] = '\0';
    } else if (al[1] < sizeof(cur)) {
        memcpy(cur, av[1], al[1]);
        cur[al[1]] = '\0';
    } else {
        return ferry_error_set(&r->err, FERRY_EINVAL, "bad SCAN cursor");
    }
    const char **v = malloc((size_t)ac * sizeof(*v));
    size_t *vl = malloc((size_t)ac * sizeof(*vl));
    if (v == NULL || vl == NULL) {
        free(v);
        free(vl);
        return ferry_error_set(&r->err, FERRY_ENOMEM, "out of memory");
    }
    memcpy(v, av, (size_t)ac * sizeof(*v));
    memcpy(vl, al, (size_t)ac * sizeof(*vl));
    v[1] = cur;
    vl[1] = strlen(cur);
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, ac, v, vl);
    free(v);
    free(vl);
    if (len < 0)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot format a Redis command");
    int node = -1, rc = FERRY_OK;
    if (tagged)
        rc = slot_node(r, slot, &node);
    else if (idx >= n)
        rc = ferry_error_set(&r->err, FERRY_EINVAL,
                             "SCAN cursor names master %d of %d: the cluster changed; start again",
                             idx, n);
    else
        node = order[idx];
    redisReply *rep = NULL;
    if (rc == FERRY_OK)
        rc = tagged ? exec_slot(r, cmd, (size_t)len, -1, 0, (long)slot, &rep)
                    : node_send(r, node, cmd, (size_t)len, 0, &rep);
    free(cmd);
    if (rc)
        return rc;
    if (!tagged && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        char next[48];
        redisReply *c0 = rep->element[0];
        if (c0->len == 1 && c0->str[0] == '0')
            snprintf(next, sizeof(next), idx + 1 < n ? "%d:0" : "0", idx + 1);
        else
            snprintf(next, sizeof(next), "%d:%.*s", idx, (int)(c0->len > 24 ? 24 : c0->len),
                     c0->str);
        char *s = strdup(next);
        if (s == NULL) {
            freeReplyObject(rep);
            return ferry_error_set(&r->err, FERRY_ENOMEM, "out of memory");
        }
        free(c0->str);
        c0->str = s;
        c0->len = strlen(s);
    }
    *out = rep;
    return FERRY_OK;
}

int ferry_cluster_exec(ferry_redis_t *r, const char *cmd, size_t len, redisReply **reply)
{
    redisReply *rep = NULL;
    int rc = exec_raw(r, cmd, len, -1, 0, &rep);
    if (rc)
        return rc;
    if (rep->type == REDIS_REPLY_ERROR) {
        ferry_error_set(&r->err, FERRY_EREDIS, "Redis Cluster %s: %s", r->where, rep->str);
        freeReplyObject(rep);
        return FERRY_EREDIS;
    }
    if (reply)
        *reply = rep;
    else
        freeReplyObject(rep);
    return FERRY_OK;
}

/* ---- pipelines -------------------------------------------------------------------------- */

static void queue_clear(ferry_cluster_t *cl)
{
    for (size_t i = cl->qhead; i < cl->qlen; i++) {
        free(cl->q[i].cmd);
        if (cl->q[i].reply)
            freeReplyObject(cl->q[i].reply);
    }
    cl->qhead = cl->qlen = 0;
    for (int i = 0; i < cl->nnodes; i++)
        cl->nodes[i].pending = 0;
}

/* Send a formatted command to node's connection c and remember it (copied) for the reads. */
static int queue_push(ferry_redis_t *r, redisContext *c, int node, const char *cmd, size_t len,
                      const ferry_redis_script_t *script, int internal)
{
    ferry_cluster_t *cl = r->cl;
    if (cl->qlen == cl->qcap) {
        size_t nc = cl->qcap ? cl->qcap * 2 : 64;
        cl_pend_t *q = realloc(cl->q, nc * sizeof(*q));
        if (q == NULL)
            return ferry_error_set(&r->err, FERRY_ENOMEM, "out of memory");
        cl->q = q;
        cl->qcap = nc;
    }
    char *copy = malloc(len);
    if (copy == NULL)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "out of memory");
    memcpy(copy, cmd, len);
    if (redisAppendFormattedCommand(c, cmd, len) != REDIS_OK) {
        free(copy);
        return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot queue a Redis command");
    }
    cl_pend_t *e = &cl->q[cl->qlen++];
    memset(e, 0, sizeof(*e));
    e->cmd = copy;
    e->len = len;
    e->node = node;
    e->script = script;
    e->internal = internal;
    cl->nodes[node].pending++;
    return FERRY_OK;
}

int ferry_cluster_append(ferry_redis_t *r, const char *cmd, size_t len,
                         const ferry_redis_script_t *script)
{
    ferry_cluster_t *cl = r->cl;
    const char **av = NULL;
    size_t *al = NULL;
    int ac = 0, node = -1;
    int rc = resp_split(cmd, len, &av, &al, &ac);
    if (rc)
        return ferry_error_set(&r->err, rc, "cannot read back a formatted Redis command");
    ferry_cluster_keys_t k;
    unsigned slot = 0;
    rc = ferry_cluster_command_keys(ac, av, al, &k, &r->err);
    if (rc == FERRY_OK && (k.kind == FERRY_CLUSTER_EVERY || k.kind == FERRY_CLUSTER_SCAN))
        rc = ferry_error_set(&r->err, FERRY_EINVAL,
                             "%.*s cannot be pipelined on a Redis Cluster (it visits every "
                             "master): send it on its own",
                             (int)al[0], av[0]);
    if (rc == FERRY_OK && k.kind == FERRY_CLUSTER_KEYED)
        rc = ferry_cluster_command_slot(ac, av, al, &k, &slot, &r->err);
    free(av);
    free(al);
    if (rc)
        return rc;
    if (k.kind == FERRY_CLUSTER_KEYED)
        rc = slot_node(r, slot, &node);
    else if ((node = any_node(cl)) < 0)
        rc = ferry_error_set(&r->err, FERRY_ENET, "no Redis Cluster node known");
    redisContext *c = NULL;
    if (rc == FERRY_OK)
        rc = node_conn(r, node, &c);
    if (rc)
        return rc;
    cl_node_t *n = &cl->nodes[node];
    int known = script == NULL;
    for (int i = 0; i < n->nloaded && !known; i++)
        known = n->loaded[i] == script;
    if (!known) {
        /* First EVALSHA of this script on this connection: SCRIPT LOAD it just before, so the
         * batch does not come back NOSCRIPT command by command. */
        const char *lav[3] = {"SCRIPT", "LOAD", script->src};
        char *load = NULL;
        int ll = redisFormatCommandArgv(&load, 3, lav, NULL);
        if (ll < 0)
            return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot format a Redis command");
        rc = queue_push(r, c, node, load, (size_t)ll, NULL, 1);
        redisFreeCommand(load);
        if (rc)
            return rc;
        if (n->nloaded < REDIS_SCRIPT_SLOTS)
            n->loaded[n->nloaded++] = script;
    }
    return queue_push(r, c, node, cmd, len, script, 0);
}

/* EVALSHA in e->cmd, as EVAL with the script's source (the node did not have it). */
static int eval_instead(ferry_redis_t *r, cl_pend_t *e, redisReply **out)
{
    const char **av = NULL;
    size_t *al = NULL;
    int ac = 0;
    int rc = resp_split(e->cmd, e->len, &av, &al, &ac);
    if (rc)
        return ferry_error_set(&r->err, rc, "cannot read back a formatted Redis command");
    char *cmd = NULL;
    int len = -1;
    if (ac >= 3) {
        av[0] = "EVAL";
        al[0] = 4;
        av[1] = e->script->src;
        al[1] = strlen(e->script->src);
        len = redisFormatCommandArgv(&cmd, ac, av, al);
    }
    free(av);
    free(al);
    if (len < 0)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot format a Redis command");
    rc = exec_raw(r, cmd, (size_t)len, -1, 0, out);
    free(cmd);
    return rc;
}

/* Read every reply sent so far (nodes answer in their own order; each node's replies come
 * in the order its commands were queued), then resend on their own the commands that were
 * redirected (MOVED/ASK), told to wait (TRYAGAIN, CLUSTERDOWN) or lacked their script. */
static void drain(ferry_redis_t *r)
{
    ferry_cluster_t *cl = r->cl;
    ferry_error_t first;
    int lost = 0;
    for (size_t i = cl->qhead; i < cl->qlen; i++) {
        cl_pend_t *e = &cl->q[i];
        if (e->answered)
            continue;
        e->answered = 1;
        cl_node_t *n = &cl->nodes[e->node];
        if (n->pending)
            n->pending--;
        void *x = NULL;
        if (n->c == NULL) {
            e->rc = ferry_error_set(&r->err, FERRY_ENET, "lost Redis Cluster node %s:%d", n->a.host,
                                    n->a.port);
        } else if (redisGetReply(n->c, &x) != REDIS_OK || x == NULL) {
            e->rc = node_io_error(r, e->node);
            if (!lost) /* the first failure says why; keep it for the caller */
                first = r->err;
            lost = 1;
        } else {
            e->reply = x;
        }
    }
    if (lost)
        r->err = first;
    for (int i = 0; i < cl->nnodes; i++)
        cl->nodes[i].pending = 0;
    for (size_t i = cl->qhead; i < cl->qlen; i++) {
        cl_pend_t *e = &cl->q[i];
        ferry_cluster_redirect_t rd;
        if (e->rc || e->internal || e->reply->type != REDIS_REPLY_ERROR)
            continue;
        int redirect = ferry_cluster_parse_redirect(e->reply->str, e->reply->len, &rd) == FERRY_OK;
        if (redirect || transient(e->reply)) {
            int force = -1, asking = 0;
            if (redirect) {
                force = node_index(cl, rd.host[0] ? rd.host : cl->nodes[e->node].a.host, rd.port);
                asking = rd.kind == FERRY_CLUSTER_ASK;
                if (rd.kind == FERRY_CLUSTER_MOVED && force >= 0) {
                    cl->owner[rd.slot] = (uint16_t)force;
                    cl->nodes[force].master = 1;
                }
            }
            freeReplyObject(e->reply);
            e->reply = NULL;
            e->rc = exec_raw(r, e->cmd, e->len, force, asking, &e->reply);
        }
        if (e->rc == FERRY_OK && e->script && is_err(e->reply, "NOSCRIPT")) {
            freeReplyObject(e->reply);
            e->reply = NULL;
            e->rc = eval_instead(r, e, &e->reply);
        }
    }
}

int ferry_cluster_read(ferry_redis_t *r, redisReply **reply)
{
    ferry_cluster_t *cl = r->cl;
    *reply = NULL;
    /* The client's own SCRIPT LOADs first: their replies are dropped. */
    while (cl->qhead < cl->qlen && cl->q[cl->qhead].internal) {
        cl_pend_t *e = &cl->q[cl->qhead];
        if (!e->answered)
            drain(r);
        if (e->reply)
            freeReplyObject(e->reply);
        free(e->cmd);
        cl->qhead++;
    }
    if (cl->qhead >= cl->qlen) {
        cl->qhead = cl->qlen = 0;
        return ferry_error_set(&r->err, FERRY_EINVAL,
                               "ferry_redis_read without a queued command (Redis Cluster)");
    }
    cl_pend_t *e = &cl->q[cl->qhead];
    if (!e->answered)
        drain(r);
    int rc = e->rc;
    if (rc == FERRY_OK)
        *reply = e->reply;
    else if (e->reply)
        freeReplyObject(e->reply);
    free(e->cmd);
    cl->qhead++;
    if (cl->qhead == cl->qlen)
        cl->qhead = cl->qlen = 0;
    if (rc && r->err.code != rc)
        ferry_error_set(&r->err, rc, "a pipelined command to the Redis Cluster failed");
    return rc;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

int ferry_cluster_start(ferry_redis_t *r, const redisReply *slots)
{
    ferry_cluster_t *cl = calloc(1, sizeof(*cl));
    ferry_cluster_map_t *m = malloc(sizeof(*m));
    if (cl == NULL || m == NULL) {
        free(cl);
        free(m);
        return ferry_error_set(&r->err, FERRY_ENOMEM, "out of memory");
    }
    memset(cl->owner, 0xff, sizeof(cl->owner));
    ferry_error_t pe;
    int rc = ferry_cluster_parse_slots(slots, r->url.host, m, &pe);
    if (rc == FERRY_OK && m->covered == 0)
        rc = ferry_error_set(&pe, FERRY_EREDIS,
                             "it is a cluster node but no slot is assigned yet — create the "
                             "cluster first (redis-cli --cluster create HOST:PORT …)");
    if (rc) {
        free(cl);
        free(m);
        return ferry_error_set(&r->err, rc, "Redis Cluster at %s: %s", r->where, pe.msg);
    }
    r->cl = cl;
    rc = apply_map(r, m);
    free(m);
    if (rc) {
        r->cl = NULL;
        free(cl);
        return rc;
    }
    /* Keep the seed connection as its node's connection when the map names that address. */
    for (int i = 0; i < cl->nnodes; i++)
        if (r->c && cl->nodes[i].a.port == r->url.port &&
            strcmp(cl->nodes[i].a.host, r->url.host) == 0) {
            cl->nodes[i].c = r->c;
            r->c = NULL;
        }
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
    return FERRY_OK;
}

void ferry_cluster_free(ferry_cluster_t *cl)
{
    if (cl == NULL)
        return;
    queue_clear(cl);
    free(cl->q);
    for (int i = 0; i < cl->nnodes; i++)
        node_close(cl, i);
    free(cl);
}

int ferry_cluster_reset(ferry_redis_t *r)
{
    ferry_cluster_t *cl = r->cl;
    queue_clear(cl);
    for (int i = 0; i < cl->nnodes; i++)
        node_close(cl, i);
    long long deadline = r->opts.retry_ms < 0 ? 0 : ferry_mono_ms() + r->opts.retry_ms;
    long backoff = 50;
    for (;;) {
        int rc = refresh(r);
        if (rc == FERRY_OK) {
            r->reconnects++;
            return FERRY_OK;
        }
        if (rc == FERRY_EAUTH || deadline == 0 || ferry_mono_ms() >= deadline)
            return rc;
        redis_int_backoff(r, &backoff, deadline);
    }
}

int ferry_cluster_masters(const ferry_redis_t *r)
{
    return r->cl ? r->cl->masters : 0;
}
