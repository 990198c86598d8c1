/* Fuzz target: Redis Cluster parsing — MOVED/ASK error replies, CLUSTER SLOTS replies (raw
 * RESP through hiredis's reader), key positions and slots of arbitrary commands. The first
 * byte picks the parser. */
#include "fuzz.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/store/cluster_int.h"

static ferry_cluster_map_t map;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    ferry_error_t e;
    switch (data[0] % 4) {
    case 0: {
        ferry_cluster_redirect_t rd;
        if (ferry_cluster_parse_redirect(p, n, &rd) == FERRY_OK && strlen(rd.host) >= 256)
            abort();
        break;
    }
    case 1: {
        /* hiredis 0.14 allocates whatever an aggregate header announces (a server's reply is
         * trusted): keep announced sizes small so the fuzzer tests our parser, not malloc. */
        for (size_t i = 0; i < n; i++)
            if (p[i] == '*' || p[i] == '$') {
                long v = 0;
                for (size_t j = i + 1; j < n && p[j] >= '0' && p[j] <= '9' && v <= 65536; j++)
                    v = v * 10 + (p[j] - '0');
                if (v > 65536)
                    return 0;
            }
        redisReader *rd = redisReaderCreate();
        void *rep = NULL;
        if (rd && redisReaderFeed(rd, p, n) == REDIS_OK &&
            redisReaderGetReply(rd, &rep) == REDIS_OK && rep) {
            if (ferry_cluster_parse_slots(rep, "127.0.0.1", &map, &e) == FERRY_OK)
                for (unsigned s = 0; s < FERRY_CLUSTER_SLOTS; s++)
                    if (map.owner[s] != FERRY_CLUSTER_NONE && map.owner[s] >= map.nnodes)
                        abort();
            freeReplyObject(rep);
        }
        if (rd)
            redisReaderFree(rd);
        break;
    }
    case 2: {
        const char *argv[64];
        size_t lens[64];
        int argc = 0;
        size_t s = 0;
        for (size_t i = 0; i <= n && argc < 64; i++)
            if (i == n || p[i] == '\n') {
                argv[argc] = p + s;
                lens[argc++] = i - s;
                s = i + 1;
            }
        ferry_cluster_keys_t k;
        unsigned slot;
        if (ferry_cluster_command_keys(argc, argv, lens, &k, &e) == FERRY_OK &&
            k.kind == FERRY_CLUSTER_KEYED) {
            if (k.first + (k.count - 1) * k.step >= argc)
                abort();
            if (ferry_cluster_command_slot(argc, argv, lens, &k, &slot, &e) == FERRY_OK &&
                slot >= FERRY_CLUSTER_SLOTS)
                abort();
        }
        break;
    }
    default:
        if (ferry_cluster_key_slot(p, n) >= FERRY_CLUSTER_SLOTS)
            abort();
        break;
    }
    return 0;
}
