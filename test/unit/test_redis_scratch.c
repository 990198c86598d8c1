/* Scratch replies over a connection (redis.c, redis_int_argv_scratch): a whole reply is read into
 * the connection's arena and stays valid while other commands run; a reply cut short by a lost
 * connection, a protocol error or an error reply fails cleanly (no leak, no double free under
 * ASan) and the connection is opened again for the next command. The server is a small fake
 * speaking RESP: XREADGROUP gets the reply it is told (then, if told, the connection is closed),
 * INFO a 7.x version, anything else +OK. */
#include <string.h>

#include "../../lib/store/redis_int.h"
#include "fake_resp.h"
#include "test.h"

typedef struct {
    const char *reply; /* XREADGROUP's raw reply */
    int close_after;   /* 1: close the connection after sending it */
} script_t;

/* XREADGROUP gets the reply it is told (then, if told, the connection is closed), INFO a 7.x
 * version, anything else +OK. */
static int answer(fake_resp_t *f, const char *cmds, char *rep, size_t cap)
{
    const script_t *sc = f->arg;
    const char *r = "+OK\r\n";
    int drop = 0;
    if (strstr(cmds, "INFO") != NULL)
        r = "$21\r\nredis_version:7.2.4\r\n\r\n";
    else if (strstr(cmds, "XREADGROUP") != NULL) {
        r = sc->reply;
        drop = sc->close_after;
    }
    snprintf(rep, cap, "%s", r);
    return drop;
}

static const char *PAGE =
    "*1\r\n*2\r\n$4\r\nq:bk\r\n*2\r\n"
    "*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nk\r\n$5\r\na.bin\r\n$1\r\ns\r\n$2\r\n16\r\n"
    "*2\r\n$3\r\n1-1\r\n$-1\r\n";

static int xread(ferry_redis_t *r, const redisReply **rep)
{
    const char *argv[] = {"XREADGROUP", "GROUP",   "workers", "c", "COUNT",
                          "64",         "STREAMS", "q:bk",    ">"};
    return redis_int_argv_scratch(r, 9, argv, NULL, rep);
}

int main(void)
{
    script_t sc = {.reply = ""};
    fake_resp_t f = {0};
    char url[64];
    fake_resp_start(&f, answer, &sc, url, sizeof(url));
    ferry_redis_opts_t o = {
        .connect_timeout_ms = 2000, .command_timeout_ms = 2000, .retry_ms = 2000};
    ferry_redis_t *r = NULL;
    ferry_error_t e;
    REQUIRE(ferry_redis_connect(url, &o, &r, &e) == FERRY_OK);

    /* a whole page: the tree, still valid after other commands on the connection */
    sc.reply = PAGE;
    const redisReply *rep = NULL;
    CHECK_INT(xread(r, &rep), FERRY_OK);
    REQUIRE(rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1);
    redisReply *ok = NULL;
    const char *ping[] = {"PING"};
    CHECK_INT(ferry_redis_argv(r, 1, ping, NULL, &ok), FERRY_OK);
    freeReplyObject(ok);
    const redisReply *entries = rep->element[0]->element[1];
    CHECK(entries->elements == 2);
    CHECK_STR(entries->element[0]->element[1]->element[1]->str, "a.bin");
    CHECK(entries->element[1]->element[1]->type == REDIS_REPLY_NIL);
    /* the next page replaces it (the arena is reused, nothing leaks) */
    CHECK_INT(xread(r, &rep), FERRY_OK);
    CHECK(rep != NULL && rep->elements == 1);

    /* an error reply: FERRY_EREDIS with the server's message, the connection kept */
    sc.reply = "-NOGROUP No such key 'q:bk'\r\n";
    CHECK_INT(xread(r, &rep), FERRY_EREDIS);
    CHECK(rep == NULL);
    CHECK(strstr(ferry_redis_error(r)->msg, "NOGROUP") != NULL);
    unsigned rc0 = ferry_redis_reconnects(r);

    /* cut short: half a page, then the connection closes (every time): lost, sent once more
     * on a new connection, then FERRY_ENET; the partial trees are the arena's */
    sc.reply = "*1\r\n*2\r\n$4\r\nq:bk\r\n*2\r\n*2\r\n$3\r\n1-0\r\n";
    sc.close_after = 1;
    CHECK_INT(xread(r, &rep), FERRY_ENET);
    CHECK(rep == NULL);
    CHECK_INT(ferry_redis_reconnects(r), rc0 + 1);
    sc.close_after = 0;
    sc.reply = PAGE;
    CHECK_INT(xread(r, &rep), FERRY_OK); /* a new connection */
    CHECK(rep != NULL && rep->elements == 1);

    /* a protocol error mid-reply: an error, and the next command runs on a new connection */
    sc.reply = "*2\r\n*1\r\n?bad\r\n";
    int accepts = f.accepts;
    CHECK(xread(r, &rep) != FERRY_OK);
    CHECK(rep == NULL);
    CHECK_INT(ferry_redis_argv(r, 1, ping, NULL, &ok), FERRY_OK);
    freeReplyObject(ok);
    CHECK(f.accepts > accepts);
    sc.reply = PAGE;
    CHECK_INT(xread(r, &rep), FERRY_OK);
    CHECK(rep != NULL && rep->elements == 1);

    ferry_redis_free(r);
    fake_resp_stop(&f);
    return test_summary();
}
