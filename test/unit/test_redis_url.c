/* Unit tests: Redis URL parsing (pure). */
#include "ferry/redis.h"
#include "test.h"

static int ok(const char *u, ferry_redis_url_t *out)
{
    ferry_error_t e;
    return ferry_redis_url_parse(u, out, &e) == FERRY_OK;
}

int main(void)
{
    ferry_redis_url_t u;
    char d[300];
    REQUIRE(ok("redis://127.0.0.1:6379", &u));
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_INT(u.port, 6379);
    CHECK_INT(u.db, 0);
    CHECK_STR(u.password, "");
    REQUIRE(ok("redis://:s3cr@t@host.example:7000/3", &u));
    CHECK_STR(u.password, "s3cr@t");
    CHECK_STR(u.user, ""); /* ":password@": the default user */
    CHECK_STR(u.host, "host.example");
    CHECK_INT(u.port, 7000);
    CHECK_INT(u.db, 3);
    ferry_redis_url_describe(&u, d, sizeof(d));
    CHECK_STR(d, "host.example:7000");
    CHECK(strstr(d, "s3cr") == NULL);
    REQUIRE(ok("redis://user:pw@h", &u));
    CHECK_STR(u.password, "pw");
    CHECK_STR(u.user, "user"); /* an ACL user, sent with AUTH user password */
    CHECK_INT(u.port, 6379);
    REQUIRE(ok("redis://[::1]:6380/1", &u));
    CHECK_STR(u.host, "::1");
    CHECK_INT(u.port, 6380);
    ferry_redis_url_describe(&u, d, sizeof(d));
    CHECK_STR(d, "[::1]:6380");
    REQUIRE(ok("unix:///run/ferry/redis.sock", &u));
    CHECK(u.is_unix);
    CHECK_STR(u.path, "/run/ferry/redis.sock");
    REQUIRE(ok("unix:///x.sock?db=2", &u));
    CHECK_INT(u.db, 2);
    REQUIRE(ok("redis://h/", &u));

    ferry_error_t e;
    CHECK(ferry_redis_url_parse("http://h:1", &u, &e) == FERRY_EINVAL);
    CHECK(strstr(e.msg, "redis://") != NULL);
    CHECK(!ok("redis://h:0", &u));
    CHECK(!ok("redis://h:65536", &u));
    CHECK(!ok("redis://h:12x", &u));
    CHECK(!ok("redis://:6379", &u));
    CHECK(!ok("redis://h/db", &u));
    CHECK(!ok("redis://h 1:6379", &u));
    CHECK(!ok("unix://relative.sock", &u));
    CHECK(!ok("unix://", &u));
    CHECK(!ok("unix:///x?foo=1", &u));
    CHECK(!ok("", &u));
    CHECK(!ok("redis://[::1", &u));
    CHECK(!ok("redis://nopw@h", &u));

    /* Redis Cluster mode in the URL; TLS refused with what to do instead. */
    REQUIRE(ok("redis://h:7000", &u));
    CHECK_INT(u.cluster, FERRY_REDIS_CLUSTER_AUTO);
    REQUIRE(ok("redis://h:7000?cluster=yes", &u));
    CHECK_INT(u.cluster, FERRY_REDIS_CLUSTER_YES);
    CHECK_STR(u.host, "h");
    CHECK_INT(u.port, 7000);
    REQUIRE(ok("redis://:p?w@h/2?cluster=no", &u));
    CHECK_INT(u.cluster, FERRY_REDIS_CLUSTER_NO);
    CHECK_STR(u.password, "p?w");
    CHECK_INT(u.db, 2);
    REQUIRE(ok("redis://h?cluster=auto", &u));
    CHECK_INT(u.cluster, FERRY_REDIS_CLUSTER_AUTO);
    CHECK(ferry_redis_url_parse("redis://h?cluster=maybe", &u, &e) == FERRY_EINVAL);
    CHECK(strstr(e.msg, "yes, no or auto") != NULL);
    CHECK(!ok("redis://h?db=1", &u));
    CHECK(ferry_redis_url_parse("rediss://:pw@redis.example:6380", &u, &e) == FERRY_EUNSUPPORTED);
    CHECK(strstr(e.msg, "TLS") != NULL);
    CHECK(strstr(e.msg, "stunnel") != NULL);
    CHECK(strstr(e.msg, "redis://127.0.0.1:PORT") != NULL);
    CHECK(strstr(e.msg, "pw") == NULL);
    ferry_redis_t *r = NULL;
    CHECK(ferry_redis_connect("rediss://redis.example:6380", NULL, &r, &e) == FERRY_EUNSUPPORTED);
    CHECK(r == NULL);
    CHECK(strstr(e.msg, "docs/redis.md") != NULL);
    return test_summary();
}
