/* What ferry_redis_connect makes of the server it reaches (redis.c, check_server): a Redis
 * older than 7.0 is refused at connect with what to do (the ledger's scripts use SET … NX GET,
 * which a 6.x server answers with a syntax error at the first copy); a 7.x one, or one that
 * refuses INFO (a proxy, an ACL), is used. The server here is a small fake speaking RESP: it
 * answers INFO with the text it is given and anything else with +OK. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/redis.h"
#include "test.h"

typedef struct {
    int lfd;
    const char *info; /* INFO's reply: an error line ("-…") as is, else its text as a bulk */
    int infos;        /* INFO commands seen */
} fake_t;

/* One client at a time until the listener is shut down; each read is taken as whole commands
 * (hiredis writes a command in one go), and an INFO among them gets f->info. */
static void *serve(void *arg)
{
    fake_t *f = arg;
    for (;;) {
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        ssize_t n;
        while ((n = read(c, buf, sizeof(buf) - 1)) > 0) {
            buf[n] = '\0';
            char rep[1024];
            snprintf(rep, sizeof(rep), "+OK\r\n");
            if (strstr(buf, "INFO") != NULL) {
                f->infos++;
                if (f->info[0] == '-')
                    snprintf(rep, sizeof(rep), "%s\r\n", f->info);
                else
                    snprintf(rep, sizeof(rep), "$%zu\r\n%s\r\n", strlen(f->info), f->info);
            }
            if (write(c, rep, strlen(rep)) < 0)
                break;
        }
        close(c);
    }
}

static int connect_to(fake_t *f, const char *info, ferry_error_t *e)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    REQUIRE(getsockname(f->lfd, (struct sockaddr *)&a, &al) == 0);
    f->info = info;
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
    ferry_redis_opts_t o = {.connect_timeout_ms = 2000, .command_timeout_ms = 2000};
    ferry_redis_t *r = NULL;
    int rc = ferry_redis_connect(url, &o, &r, e);
    ferry_redis_free(r);
    return rc;
}

int main(void)
{
    fake_t f = {0};
    f.lfd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(f.lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    REQUIRE(bind(f.lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
    REQUIRE(listen(f.lfd, 4) == 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, serve, &f) == 0);
    ferry_error_t e;

    /* Redis 6.2: refused, saying which version it is, what is needed and what to do. */
    static const char v6[] = "# Server\r\nredis_version:6.2.14\r\n\r\n# Cluster\r\n"
                             "cluster_enabled:0\r\n";
    CHECK_INT(connect_to(&f, v6, &e), FERRY_EUNSUPPORTED);
    printf("Redis 6.2: %s\n", e.msg);
    CHECK(strstr(e.msg, "version 6") != NULL);
    CHECK(strstr(e.msg, "7.0 or later") != NULL);
    CHECK(strstr(e.msg, "upgrade") != NULL);
    CHECK_INT(f.infos, 1);

    /* Redis 7.2 (and Valkey, which reports redis_version 7.2): used. */
    static const char v7[] = "# Server\r\nredis_version:7.2.4\r\n\r\n# Cluster\r\n"
                             "cluster_enabled:0\r\n";
    CHECK_INT(connect_to(&f, v7, &e), FERRY_OK);

    /* A 10.x: used (the check is a lower bound). */
    static const char v10[] = "# Server\r\nredis_version:10.0.1\r\n\r\n# Cluster\r\n"
                              "cluster_enabled:0\r\n";
    CHECK_INT(connect_to(&f, v10, &e), FERRY_OK);

    /* A proxy or an ACL that refuses INFO, or an INFO without a version: used, as before. */
    CHECK_INT(connect_to(&f, "-NOPERM this user has no permissions to run the 'info' command", &e),
              FERRY_OK);
    CHECK_INT(connect_to(&f, "cluster_enabled:0", &e), FERRY_OK);
    CHECK_INT(f.infos, 5);

    shutdown(f.lfd, SHUT_RDWR);
    close(f.lfd);
    pthread_join(t, NULL);
    return test_summary();
}
