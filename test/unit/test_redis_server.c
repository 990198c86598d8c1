/* What ferry_redis_connect makes of the server it reaches (redis.c, check_server): a Redis
 * older than 7.0 is refused at connect with what to do (the ledger's scripts use SET … NX GET,
 * which a 6.x server answers with a syntax error at the first copy); a 7.x one, or one that
 * refuses INFO (a proxy, an ACL), is used. The server here is a small fake speaking RESP: it
 * answers INFO with the text it is given and anything else with +OK. */
#include <string.h>

#include "fake_resp.h"
#include "ferry/redis.h"
#include "test.h"

typedef struct {
    const char *info; /* INFO's reply: an error line ("-…") as is, else its text as a bulk */
    int infos;        /* INFO commands seen */
} script_t;

/* INFO gets sc->info, anything else +OK. */
static int answer(fake_resp_t *f, const char *cmds, char *rep, size_t cap)
{
    script_t *sc = f->arg;
    snprintf(rep, cap, "+OK\r\n");
    if (strstr(cmds, "INFO") != NULL) {
        sc->infos++;
        if (sc->info[0] == '-')
            snprintf(rep, cap, "%s\r\n", sc->info);
        else
            snprintf(rep, cap, "$%zu\r\n%s\r\n", strlen(sc->info), sc->info);
    }
    return 0;
}

static int connect_to(script_t *sc, const char *url, const char *info, ferry_error_t *e)
{
    sc->info = info;
    ferry_redis_opts_t o = {.connect_timeout_ms = 2000, .command_timeout_ms = 2000};
    ferry_redis_t *r = NULL;
    int rc = ferry_redis_connect(url, &o, &r, e);
    ferry_redis_free(r);
    return rc;
}

int main(void)
{
    script_t sc = {0};
    fake_resp_t f = {0};
    char url[64];
    fake_resp_start(&f, answer, &sc, url, sizeof(url));
    ferry_error_t e;

    /* Redis 6.2: refused, saying which version it is, what is needed and what to do. */
    static const char v6[] = "# Server\r\nredis_version:6.2.14\r\n\r\n# Cluster\r\n"
                             "cluster_enabled:0\r\n";
    CHECK_INT(connect_to(&sc, url, v6, &e), FERRY_EUNSUPPORTED);
    printf("Redis 6.2: %s\n", e.msg);
    CHECK(strstr(e.msg, "version 6") != NULL);
    CHECK(strstr(e.msg, "7.0 or later") != NULL);
    CHECK(strstr(e.msg, "upgrade") != NULL);
    CHECK_INT(sc.infos, 1);

    /* Redis 7.2 (and Valkey, which reports redis_version 7.2): used. */
    static const char v7[] = "# Server\r\nredis_version:7.2.4\r\n\r\n# Cluster\r\n"
                             "cluster_enabled:0\r\n";
    CHECK_INT(connect_to(&sc, url, v7, &e), FERRY_OK);

    /* A 10.x: used (the check is a lower bound). */
    static const char v10[] = "# Server\r\nredis_version:10.0.1\r\n\r\n# Cluster\r\n"
                              "cluster_enabled:0\r\n";
    CHECK_INT(connect_to(&sc, url, v10, &e), FERRY_OK);

    /* A proxy or an ACL that refuses INFO, or an INFO without a version: used, as before. */
    CHECK_INT(
        connect_to(&sc, url, "-NOPERM this user has no permissions to run the 'info' command", &e),
        FERRY_OK);
    CHECK_INT(connect_to(&sc, url, "cluster_enabled:0", &e), FERRY_OK);
    CHECK_INT(sc.infos, 5);

    fake_resp_stop(&f);
    return test_summary();
}
