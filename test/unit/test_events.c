/* Unit tests for scheduler/events: every sample in test/data/events/ parses to the right keys,
 * sizes and operations; bad bodies are rejected whole with a message naming the problem. */
#include "events.h"
#include "ferry/buf.h"
#include "test.h"

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/events/%s", FERRY_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static ferry_event_list_t parse_file(const char *name)
{
    size_t n;
    char *b = slurp(name, &n);
    ferry_event_list_t l;
    ferry_error_t e;
    ferry_error_clear(&e);
    int rc = ferry_events_parse(b, n, NULL, &l, &e);
    if (rc != FERRY_OK)
        fprintf(stderr, "%s: %s\n", name, e.msg);
    CHECK_INT(rc, FERRY_OK);
    return l;
}

static void one(const char *file, const char *fmt, ferry_event_op_t op, const char *key,
                long long size, const char *etag)
{
    ferry_event_list_t l = parse_file(file);
    CHECK_INT(l.n, 1);
    if (l.n == 1) {
        CHECK_STR(l.v[0].format, fmt);
        CHECK_INT(l.v[0].op, op);
        CHECK_STR(l.v[0].key, key);
        CHECK_INT(l.v[0].size, size);
        if (etag)
            CHECK_STR(l.v[0].etag, etag);
        else
            CHECK(l.v[0].etag == NULL);
    }
    ferry_event_list_free(&l);
}

static void reject(const char *body, int code, const char *fragment)
{
    ferry_event_list_t l;
    ferry_error_t e;
    ferry_error_clear(&e);
    CHECK_INT(ferry_events_parse(body, strlen(body), NULL, &l, &e), code);
    CHECK_INT(l.n, 0);
    CHECK(l.v == NULL);
    if (!strstr(e.msg, fragment))
        fprintf(stderr, "  body %.40s: message \"%s\" lacks \"%s\"\n", body, e.msg, fragment);
    CHECK(strstr(e.msg, fragment) != NULL);
}

/* An S3 notification with the given key (already encoded), size, etag and sequencer text. */
static char *s3_body(ferry_buf_t *b, const char *key, const char *size, const char *etag,
                     const char *seq)
{
    ferry_buf_reset(b);
    ferry_buf_addf(
        b,
        "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"eventTime\":"
        "\"2026-08-13T06:45:43.000Z\",\"s3\":{\"bucket\":{\"name\":\"src-bucket\"},"
        "\"object\":{\"key\":\"%s\",\"size\":%s,\"eTag\":\"%s\",\"sequencer\":\"%s\"}}}]}",
        key, size, etag, seq);
    return (char *)ferry_buf_cstr(b);
}

static void bounds(void)
{
    ferry_buf_t b, k;
    ferry_buf_init(&b, 1 << 20);
    ferry_buf_init(&k, 1 << 20);
    ferry_event_list_t l;
    ferry_error_t e;
    /* item 7: 300 CJK characters are 900 bytes once decoded: accepted */
    for (int i = 0; i < 300; i++)
        ferry_buf_adds(&k, "%E4%B8%AD");
    char *body = s3_body(&b, ferry_buf_cstr(&k), "1", "d41d8cd98f00b204e9800998ecf8427e", "00AB");
    ferry_error_clear(&e);
    int rc = ferry_events_parse(body, strlen(body), NULL, &l, &e);
    if (rc)
        fprintf(stderr, "  300 CJK chars: %s\n", e.msg);
    CHECK_INT(rc, FERRY_OK);
    CHECK_INT(l.n, 1);
    if (l.n == 1)
        CHECK_INT(strlen(l.v[0].key), 900);
    ferry_event_list_free(&l);
    /* 1,025 bytes after decoding: refused, naming the event and the field */
    ferry_buf_reset(&k);
    for (int i = 0; i < 341; i++)
        ferry_buf_adds(&k, "%E4%B8%AD");
    ferry_buf_adds(&k, "ab");
    reject(s3_body(&b, ferry_buf_cstr(&k), "1", "x", "00AB"), FERRY_EPARSE,
           "event 1: s3.object.key is longer than 1024 bytes");
    /* not UTF-8 once decoded */
    reject(s3_body(&b, "a%FFb", "1", "x", "00AB"), FERRY_EPARSE,
           "s3.object.key is not valid UTF-8");
    reject(s3_body(&b, "a%C0%AFb", "1", "x", "00AB"), FERRY_EPARSE, "not valid UTF-8");
    /* etag over the record's bound (130) */
    ferry_buf_reset(&k);
    for (int i = 0; i < 131; i++)
        ferry_buf_add(&k, "a", 1);
    reject(s3_body(&b, "a", "1", ferry_buf_cstr(&k), "00AB"), FERRY_EPARSE,
           "event 1: s3.object.eTag is longer than 130");
    /* sequencer over 64, or not hex */
    ferry_buf_reset(&k);
    for (int i = 0; i < 65; i++)
        ferry_buf_add(&k, "A", 1);
    reject(s3_body(&b, "a", "1", "x", ferry_buf_cstr(&k)), FERRY_EPARSE,
           "event 1: s3.object.sequencer is longer than 64");
    reject(s3_body(&b, "a", "1", "x", "00AG"), FERRY_EPARSE, "s3.object.sequencer is not hex");
    /* size: 5 TiB is the largest object; one byte more is refused; negative too */
    body = s3_body(&b, "a", "5497558138880", "x", "00AB");
    CHECK_INT(ferry_events_parse(body, strlen(body), NULL, &l, &e), FERRY_OK);
    ferry_event_list_free(&l);
    reject(s3_body(&b, "a", "5497558138881", "x", "00AB"), FERRY_EPARSE,
           "event 1: s3.object.size is over 5 TiB");
    reject(s3_body(&b, "a", "-5", "x", "00AB"), FERRY_EPARSE, "s3.object.size is negative");
    reject("{\"key\":\"a\",\"size\":100000000000000000}", FERRY_EPARSE, "size is over 5 TiB");
    /* COS eventTime in seconds: a huge one must not overflow (UBSan) but be refused */
    reject("{\"Records\":[{\"cos\":{\"cosObject\":{\"key\":\"/1250000000/src/a\",\"size\":1},"
           "\"cosBucket\":{\"name\":\"src\",\"appid\":\"1250000000\"}},\"event\":{\"eventName\":"
           "\"cos:ObjectCreated:Put\",\"eventTime\":9223372036854775807}}]}",
           FERRY_EPARSE, "event 1: event.eventTime is out of range");
    reject("{\"Records\":[{\"cos\":{\"cosObject\":{\"key\":\"/1250000000/src/a\",\"size\":1},"
           "\"cosBucket\":{\"name\":\"src\",\"appid\":\"1250000000\"}},\"event\":{\"eventName\":"
           "\"cos:ObjectCreated:Put\",\"eventTime\":-7}}]}",
           FERRY_EPARSE, "event 1: event.eventTime is out of range");
    /* an ISO time out of range */
    reject("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"eventTime\":\"99999-01-01T00:00:"
           "00Z\","
           "\"s3\":{\"object\":{\"key\":\"a\"}}}]}",
           FERRY_EPARSE, "event 1: eventTime is not a time");
    /* one bad event among good ones rejects the whole body, naming its index */
    reject("[{\"key\":\"a\",\"size\":1},{\"key\":\"b\",\"size\":6000000000000}]", FERRY_EPARSE,
           "event 2: size is over 5 TiB");
    ferry_buf_free(&b);
    ferry_buf_free(&k);
}

/* Parse with the task's source bucket set; returns the code, the message in e. */
static int parse_bucket(const char *body, const char *bucket, ferry_event_list_t *l,
                        ferry_error_t *e)
{
    ferry_events_opts_t o;
    ferry_events_opts_default(&o);
    o.bucket = bucket;
    ferry_error_clear(e);
    return ferry_events_parse(body, strlen(body), &o, l, e);
}

/* Issue 12 item 3: every format's bucket is checked against the task's source bucket. */
static void buckets(void)
{
    static const struct {
        const char *file, *bucket, *field;
    } cases[] = {
        {"oss-fc-put.json", "src-bucket", "oss.bucket.name"},
        {"cos-scf-put.json", "src-1250000000", "cos.cosBucket.name"},
        {"kodo-put.json", "src-bucket", "Message.bucket"},
        {"s3-notification-put.json", "src-bucket", "s3.bucket.name"},
        {"s3-sns-wrapped.json", "src-bucket", "s3.bucket.name"},
        {"s3-eventbridge-put.json", "src-bucket", "detail.bucket.name"},
    };
    ferry_event_list_t l;
    ferry_error_t e;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n;
        char *b = slurp(cases[i].file, &n);
        CHECK_INT(parse_bucket(b, cases[i].bucket, &l, &e), FERRY_OK);
        CHECK_INT(l.n, 1);
        ferry_event_list_free(&l);
        CHECK_INT(parse_bucket(b, "other-bucket", &l, &e), FERRY_EPARSE);
        CHECK_INT(l.n, 0);
        if (!strstr(e.msg, cases[i].field) || !strstr(e.msg, "event 1"))
            fprintf(stderr, "  %s: \"%s\" lacks %s\n", cases[i].file, e.msg, cases[i].field);
        CHECK(strstr(e.msg, cases[i].field) != NULL);
    }
    /* COS: the bare name is accepted too */
    size_t n;
    char *b = slurp("cos-scf-put.json", &n);
    CHECK_INT(parse_bucket(b, "src", &l, &e), FERRY_OK);
    ferry_event_list_free(&l);
    /* the sample: OSS through EventBridge, another bucket */
    b = slurp("bad-other-bucket.json", &n);
    CHECK_INT(parse_bucket(b, "src-bucket", &l, &e), FERRY_EPARSE);
    CHECK(strstr(e.msg, "oss.bucket.name is \"another-bucket\"") != NULL);
    CHECK_INT(parse_bucket(b, "another-bucket", &l, &e), FERRY_OK);
    CHECK_INT(l.n, 1);
    if (l.n == 1)
        CHECK_STR(l.v[0].key, "input/2026/report.csv");
    ferry_event_list_free(&l);
    /* the plain format names no bucket: nothing to check */
    CHECK_INT(parse_bucket("{\"key\":\"a\"}", "src-bucket", &l, &e), FERRY_OK);
    ferry_event_list_free(&l);
}

/* Issue 13: every delivery format, delivery ids, SNS subscription confirmations. */
static const char *delivery_of(const char *file)
{
    static char id[512];
    ferry_event_list_t l = parse_file(file);
    snprintf(id, sizeof(id), "%s", l.n && l.v[0].delivery ? l.v[0].delivery : "(none)");
    for (size_t i = 1; i < l.n; i++) /* every event of a body carries the body's id */
        if (strcmp(l.v[0].delivery ? l.v[0].delivery : "",
                   l.v[i].delivery ? l.v[i].delivery : "") &&
            strncmp(id, "s3:", 3) != 0)
            snprintf(id, sizeof(id), "(differs)");
    ferry_event_list_free(&l);
    return id;
}

static int parse_str(const char *body, ferry_event_list_t *l, ferry_error_t *e)
{
    ferry_error_clear(e);
    return ferry_events_parse(body, strlen(body), NULL, l, e);
}

static void formats13(void)
{
    one("oss-eventbridge-put.json", "oss", FERRY_EVENT_CREATE, "input/2026/report.csv", 59537,
        "5EB63BBBE01EEED093CB22BB8F5ACDC3");
    one("oss-eventbridge-delete.json", "oss", FERRY_EVENT_DELETE, "input/2026/report.csv", -1,
        NULL);
    one("oss-mns-json-envelope.json", "oss", FERRY_EVENT_CREATE, "images/cat.jpg", 122539,
        "688A4B5C6D7E8F900112233445566778");
    one("oss-mns-xml-envelope.xml", "oss", FERRY_EVENT_CREATE, "images/cat.jpg", 122539,
        "688A4B5C6D7E8F900112233445566778");
    one("kodo-put-reqid.json", "kodo", FERRY_EVENT_CREATE, "video/clip 2.mp4", 1048576,
        "lsril688bAmXn7kiiOe9fL4mpc39");
    one("cos-eventbridge-forwarded.json", "cos", FERRY_EVENT_CREATE, "docs/a b.pdf", 2048, NULL);

    CHECK_STR(delivery_of("oss-eventbridge-put.json"), "ce:6932A1B2C3D4E5F6A7B8C9D0");
    CHECK_STR(delivery_of("oss-eventbridge-delete.json"), "ce:6932A1B2C3D4E5F6A7B8C9D1");
    CHECK_STR(delivery_of("oss-mns-json-envelope.json"),
              "mns:5F1A0B2C3D4E5F60-1-18A2B3C4D5E-200000001");
    CHECK_STR(delivery_of("oss-mns-xml-envelope.xml"),
              "mns:5F1A0B2C3D4E5F60-1-18A2B3C4D5E-200000002");
    CHECK_STR(delivery_of("kodo-put-reqid.json"), "kodo:qEAAAFxAb3Qd8XkX");
    CHECK_STR(delivery_of("cos-eventbridge-forwarded.json"),
              "ce:13a3f42d-7258-4ada-da6d-023a333b4662");
    CHECK_STR(delivery_of("s3-sns-wrapped.json"), "sns:22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324");
    CHECK_STR(delivery_of("s3-notification-put.json"), "s3:0055AED6DCD90281E5:red flower(1).jpg");
    CHECK_STR(delivery_of("s3-eventbridge-put.json"), "ce:17793124-05d4-b198-2fde-7ededc63b103");
    CHECK_STR(delivery_of("minimal.json"), "(none)");
    CHECK_STR(delivery_of("kodo-put.json"), "kodo:niNkZJy_3M9903AEA");
    CHECK(strncmp(delivery_of("kodo-move.json"), "kodo:", 5) == 0);

    /* event times: Kodo ns, COS s inside a CloudEvent whose time is ms in a string */
    ferry_event_list_t l = parse_file("kodo-put-reqid.json");
    CHECK(l.v[0].time_ms == 1764486000123LL);
    ferry_event_list_free(&l);
    l = parse_file("cos-eventbridge-forwarded.json");
    CHECK(l.v[0].time_ms == 1764486000000LL);
    ferry_event_list_free(&l);
    l = parse_file("oss-mns-xml-envelope.xml");
    CHECK(l.v[0].time_ms == 1796022000000LL); /* 2026-11-30T07:00:00.000Z */
    ferry_event_list_free(&l);

    /* the CloudEvent time is the fallback when the event has none: ms string, s number, ISO */
    ferry_error_t e;
    const char *ce_fmt = "{\"specversion\":\"1.0\",\"id\":\"x1\",\"time\":%s,\"data\":{"
                         "\"eventName\":\"ObjectCreated:PutObject\",\"oss\":{\"object\":{"
                         "\"key\":\"k\",\"size\":1}}}}";
    char body[1024];
    snprintf(body, sizeof(body), ce_fmt, "\"1764486000123\"");
    CHECK_INT(parse_str(body, &l, &e), FERRY_OK);
    CHECK(l.n == 1 && l.v[0].time_ms == 1764486000123LL);
    ferry_event_list_free(&l);
    snprintf(body, sizeof(body), ce_fmt, "1764486000");
    CHECK_INT(parse_str(body, &l, &e), FERRY_OK);
    CHECK(l.n == 1 && l.v[0].time_ms == 1764486000000LL);
    ferry_event_list_free(&l);
    snprintf(body, sizeof(body), ce_fmt, "\"2025-11-30T07:00:00Z\"");
    CHECK_INT(parse_str(body, &l, &e), FERRY_OK);
    CHECK(l.n == 1 && l.v[0].time_ms == 1764486000000LL);
    ferry_event_list_free(&l);
    snprintf(body, sizeof(body), ce_fmt, "\"yesterday\"");
    reject(body, FERRY_EPARSE, "time is not ISO 8601");
    snprintf(body, sizeof(body), ce_fmt, "{}");
    reject(body, FERRY_EPARSE, "time is an object");
    snprintf(body, sizeof(body), ce_fmt, "-5");
    reject(body, FERRY_EPARSE, "time is out of range");
    snprintf(body, sizeof(body), ce_fmt, "\"999999999999999\"");
    reject(body, FERRY_EPARSE, "time is out of range");

    /* a CloudEvent whose data lacks eventName: the CloudEvent's type (with its oss: prefix) */
    CHECK_INT(parse_str("{\"specversion\":\"1.0\",\"id\":\"t1\",\"type\":\"oss:ObjectRemoved:"
                        "DeleteObject\",\"data\":{\"oss\":{\"object\":{\"key\":\"gone\"}}}}",
                        &l, &e),
              FERRY_OK);
    CHECK(l.n == 1 && l.v[0].op == FERRY_EVENT_DELETE);
    ferry_event_list_free(&l);
    reject("{\"specversion\":\"1.0\",\"data\":{\"oss\":{\"object\":{\"key\":\"k\"}}}}",
           FERRY_EPARSE, "eventName is missing");

    /* delivery ids are bounded and strings */
    reject("{\"specversion\":\"1.0\",\"id\":7,\"data\":{\"eventName\":\"ObjectCreated:Put\","
           "\"oss\":{\"object\":{\"key\":\"k\"}}}}",
           FERRY_EPARSE, "id is a number, want a string");
    ferry_buf_t b;
    ferry_buf_init(&b, 4096);
    ferry_buf_adds(&b,
                   "{\"Message\":\"{\\\"event\\\":\\\"put\\\",\\\"key\\\":\\\"k\\\",\\\"reqid\\\":"
                   "\\\"");
    for (int i = 0; i < FERRY_EVENTS_MAX_ID + 1; i++)
        ferry_buf_adds(&b, "r");
    ferry_buf_adds(&b, "\\\"}\"}");
    reject(ferry_buf_cstr(&b), FERRY_EPARSE, "reqid is longer than 256 characters");
    reject("{\"Message\":\"{\\\"event\\\":\\\"put\\\",\\\"key\\\":\\\"k\\\",\\\"reqid\\\":"
           "\\\"a\\\\u0001b\\\"}\"}",
           FERRY_EPARSE, "reqid has a control character");

    /* MNS: a raw JSON Message, a batch all or nothing, a Message that is not OSS */
    const char *mns_raw =
        "{\"TopicOwner\":\"1\",\"TopicName\":\"t\",\"MessageId\":\"m1\",\"Message\":\"{\\\"events"
        "\\\":[{\\\"eventName\\\":\\\"ObjectCreated:PutObject\\\",\\\"oss\\\":{\\\"object\\\":{"
        "\\\"key\\\":\\\"a\\\",\\\"size\\\":1}}},{\\\"eventName\\\":\\\"ObjectRemoved:"
        "DeleteObject\\\",\\\"oss\\\":{\\\"object\\\":{\\\"key\\\":\\\"b\\\"}}}]}\"}";
    CHECK_INT(parse_str(mns_raw, &l, &e), FERRY_OK);
    CHECK_INT(l.n, 2);
    if (l.n == 2) {
        CHECK_STR(l.v[1].key, "b");
        CHECK_INT(l.v[1].op, FERRY_EVENT_DELETE);
        CHECK_STR(l.v[1].delivery, "mns:m1");
    }
    ferry_event_list_free(&l);
    reject("{\"TopicOwner\":\"1\",\"MessageId\":\"m1\",\"Message\":\"{\\\"events\\\":[{"
           "\\\"eventName\\\":\\\"ObjectCreated:PutObject\\\",\\\"oss\\\":{\\\"object\\\":{"
           "\\\"key\\\":\\\"a\\\"}}},{\\\"eventName\\\":\\\"ObjectCreated:PutObject\\\",\\\"oss"
           "\\\":{\\\"object\\\":{\\\"key\\\":5}}}]}\"}",
           FERRY_EPARSE, "event 2: oss.object.key is a number");
    reject("{\"TopicOwner\":\"1\",\"Message\":\"!!!notbase64\"}", FERRY_EPARSE,
           "Message is neither JSON nor base64");
    reject("{\"TopicOwner\":\"1\",\"Message\":\"{\\\"key\\\":\\\"a\\\"}\"}", FERRY_EPARSE,
           "holds no OSS");
    reject("{\"TopicOwner\":\"1\",\"Message\":\"eyJrZXki\"}", FERRY_EPARSE, "not JSON");

    /* MNS XML: malformed, DOCTYPE (entity expansion), another root, no Message */
    reject("<Notification><Message>abc", FERRY_EPARSE, "malformed XML");
    reject("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><Notification><Message>&a;"
           "</Message></Notification>",
           FERRY_EPARSE, "DOCTYPE");
    reject("<Error><Message>eyJldmVudHMiOltdfQ==</Message></Error>", FERRY_EPARSE,
           "not <Notification>");
    reject("<Notification><MessageId>m</MessageId></Notification>", FERRY_EPARSE,
           "<Message> is missing");
    CHECK_INT(parse_str("<Notification><MessageId>m2</MessageId><Message>eyJldmVudHMiOltdfQ=="
                        "</Message></Notification>",
                        &l, &e),
              FERRY_OK); /* {"events":[]}: nothing to do, not an error */
    CHECK_INT(l.n, 0);
    ferry_event_list_free(&l);
    /* no MessageId: no id, still parsed (fuzz: memchr on an empty buffer) */
    CHECK_INT(
        parse_str("<Notification><Message>eyJldmVudHMiOltdfQ==</Message></Notification>", &l, &e),
        FERRY_OK);
    CHECK_INT(l.n, 0);
    ferry_event_list_free(&l);

    /* SNS: a SubscriptionConfirmation is recorded, never an event */
    l = parse_file("s3-sns-subscription-confirmation.json");
    CHECK_INT(l.n, 0);
    CHECK(l.sns != NULL);
    if (l.sns) {
        CHECK(strncmp(l.sns->subscribe_url,
                      "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&", 64) == 0);
        CHECK_STR(l.sns->topic_arn, "arn:aws:sns:us-west-2:123456789012:ferry");
        CHECK_STR(l.sns->message_id, "165545c9-2a5c-472c-8df2-7ff2be2b3b1b");
        CHECK(l.sns->time_ms == 1786603200000LL);
    }
    ferry_event_list_free(&l);
    const char *conf = "{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"m\","
                       "\"SubscribeURL\":\"%s\"}";
    const char *bad_urls[][2] = {
        {"http://sns.us-west-2.amazonaws.com/?Action=x", "not https"},
        {"https://evil.example.com/?Action=x", "is not sns.REGION.amazonaws.com"},
        {"https://sns.us-west-2.amazonaws.com.evil.example/x", "is not sns.REGION"},
        {"https://sns.x.amazonaws.com@evil.example/x", "is not sns.REGION"},
        {"https://sns.us-west-2.amazonaws.com:8443/x", "is not sns.REGION"},
        {"https://sns.us-west-2.amazonaws.com/a b", "space"},
    };
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        snprintf(body, sizeof(body), conf, bad_urls[i][0]);
        reject(body, FERRY_EPARSE, bad_urls[i][1]);
    }
    snprintf(body, sizeof(body), conf, "https://sns.cn-north-1.amazonaws.com.cn/?Action=x");
    CHECK_INT(parse_str(body, &l, &e), FERRY_OK);
    CHECK(l.sns != NULL);
    ferry_event_list_free(&l);
    ferry_buf_reset(&b);
    ferry_buf_adds(&b, "{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"m\",\"SubscribeURL\":"
                       "\"https://sns.us-west-2.amazonaws.com/?T=");
    for (int i = 0; i < FERRY_EVENTS_MAX_URL; i++)
        ferry_buf_adds(&b, "t");
    ferry_buf_adds(&b, "\"}");
    reject(ferry_buf_cstr(&b), FERRY_EPARSE, "SubscribeURL is longer than 2048");
    ferry_buf_free(&b);
    CHECK_INT(parse_str("{\"Type\":\"UnsubscribeConfirmation\",\"Message\":\"m\"}", &l, &e),
              FERRY_OK);
    CHECK_INT(l.ignored, 1);
    CHECK(l.sns == NULL);
    ferry_event_list_free(&l);
    reject("{\"Type\":\"Bogus\",\"Message\":\"m\"}", FERRY_EPARSE, "Type \"Bogus\"");
}

int main(void)
{
    one("oss-fc-put.json", "oss", FERRY_EVENT_CREATE, "photos/2026/a.png", 122539,
        "688A7BF4F233DC9C88A80BF985AB7329");
    one("oss-fc-multipart.json", "oss", FERRY_EVENT_CREATE, "backups/db.tar", 52428800,
        "3F2A0C53E0C5B8D1F4E7A9C1D2B3A4F5-10");
    one("oss-fc-delete.json", "oss", FERRY_EVENT_DELETE, "photos/2026/a.png", -1, NULL);
    one("oss-mns-put.base64", "oss", FERRY_EVENT_CREATE, "photos/2026/a.png", 122539,
        "688A7BF4F233DC9C88A80BF985AB7329");
    one("cos-scf-put.json", "cos", FERRY_EVENT_CREATE, "docs/report 2026.pdf", 1029, NULL);
    one("cos-scf-delete.json", "cos", FERRY_EVENT_DELETE, "tmp/old.log", -1, NULL);
    one("kodo-put.json", "kodo", FERRY_EVENT_CREATE, "video/clip.mp4", 6,
        "FhWqsP2Lk36zuwGEFpPzXct12i-v");
    one("s3-notification-put.json", "s3", FERRY_EVENT_CREATE, "red flower(1).jpg", 1024,
        "d41d8cd98f00b204e9800998ecf8427e");
    one("s3-sns-wrapped.json", "s3-sns", FERRY_EVENT_CREATE, "red flower(1).jpg", 1024,
        "d41d8cd98f00b204e9800998ecf8427e");
    one("s3-eventbridge-put.json", "eventbridge", FERRY_EVENT_CREATE, "logs/2026/08/13/app.log", 5,
        "b1946ac92492d2347c6235b4d2611184");
    one("minimal.json", "plain", FERRY_EVENT_CREATE, "inbox/2026/plain.bin", 2048, NULL);

    ferry_event_list_t l = parse_file("kodo-move.json");
    CHECK_INT(l.n, 2);
    if (l.n == 2) {
        CHECK_STR(l.v[0].key, "archive/a.txt");
        CHECK_INT(l.v[0].op, FERRY_EVENT_CREATE);
        CHECK_STR(l.v[1].key, "inbox/a.txt");
        CHECK_INT(l.v[1].op, FERRY_EVENT_DELETE);
    }
    ferry_event_list_free(&l);
    l = parse_file("s3-notification-put.json");
    CHECK_STR(l.v[0].sequencer, "0055AED6DCD90281E5");
    CHECK(l.v[0].time_ms == 1786603543000LL);
    ferry_event_list_free(&l);

    /* the bad samples */
    size_t n;
    char *b = slurp("bad-truncated.json", &n);
    ferry_error_t e;
    CHECK_INT(ferry_events_parse(b, n, NULL, &l, &e), FERRY_EPARSE);
    CHECK(strstr(e.msg, "malformed JSON") != NULL);
    b = slurp("bad-types.json", &n);
    CHECK_INT(ferry_events_parse(b, n, NULL, &l, &e), FERRY_EPARSE);
    CHECK(strstr(e.msg, "oss.object.key is a number, want a string") != NULL);

    reject("", FERRY_EPARSE, "empty");
    reject("   ", FERRY_EPARSE, "empty");
    reject("not json", FERRY_EPARSE, "neither JSON nor base64");
    reject("42", FERRY_EPARSE, "neither JSON nor base64");
    reject("{\"hello\":1}", FERRY_EPARSE, "unknown event format");
    reject("{\"key\":\"\"}", FERRY_EPARSE, "empty");
    reject("{\"key\":\"a\",\"size\":\"big\"}", FERRY_EPARSE, "size is a string, want an integer");
    reject("{\"key\":\"a\",\"op\":\"rename\"}", FERRY_EPARSE, "want \"create\" or \"delete\"");
    reject("[{\"key\":\"a\"},7]", FERRY_EPARSE, "event 2 is a number");
    reject("{\"key\":\"a\",\"key\":\"b\"}", FERRY_EPARSE, "malformed JSON");
    reject("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"object\":{\"key\":"
           "\"a%zz\"}}}]}",
           FERRY_EPARSE, "bad %-escape");
    reject("{\"Records\":[{\"cos\":{\"cosObject\":{\"key\":\"nokeyprefix\"}},\"event\":{"
           "\"eventName\":\"cos:ObjectCreated:Put\"}}]}",
           FERRY_EPARSE, "not /appid/bucket/key");
    reject("{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"x\"}", FERRY_EPARSE,
           "SubscribeURL is missing");
    reject("{\"source\":\"aws.ec2\",\"detail-type\":\"Object Created\"}", FERRY_EPARSE,
           "want \"aws.s3\"");
    /* a second event bad: nothing from the first is returned either */
    reject("[{\"key\":\"ok\",\"size\":1},{\"key\":5}]", FERRY_EPARSE, "event 2: key is a number");

    /* caps: key length, event count, body size */
    ferry_buf_t big;
    ferry_buf_init(&big, 4 << 20);
    ferry_buf_adds(&big, "{\"key\":\"");
    for (int i = 0; i < 1025; i++)
        ferry_buf_add(&big, "k", 1);
    ferry_buf_adds(&big, "\"}");
    reject(ferry_buf_cstr(&big), FERRY_EPARSE, "longer than 1024 bytes");
    ferry_buf_reset(&big);
    ferry_buf_adds(&big, "[");
    for (int i = 0; i < 1001; i++)
        ferry_buf_addf(&big, "%s{\"key\":\"k%d\"}", i ? "," : "", i);
    ferry_buf_adds(&big, "]");
    reject(ferry_buf_cstr(&big), FERRY_ETOOBIG, "more than 1000 events");
    ferry_buf_reset(&big);
    ferry_buf_adds(&big, "{\"key\":\"a\",\"pad\":\"");
    while (big.len < FERRY_EVENTS_MAX_BODY + 1)
        ferry_buf_adds(&big, "xxxxxxxxxxxxxxxx");
    ferry_buf_adds(&big, "\"}");
    reject(ferry_buf_cstr(&big), FERRY_ETOOBIG, "the cap is");
    ferry_buf_free(&big);

    /* ignored events: multipart steps, test events */
    const char *ign = "{\"events\":[{\"eventName\":\"ObjectCreated:UploadPart\",\"oss\":{"
                      "\"object\":{\"key\":\"a\",\"size\":1}}}]}";
    CHECK_INT(ferry_events_parse(ign, strlen(ign), NULL, &l, &e), FERRY_OK);
    CHECK_INT(l.n, 0);
    CHECK_INT(l.ignored, 1);
    ferry_event_list_free(&l);
    const char *test_ev = "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}";
    CHECK_INT(ferry_events_parse(test_ev, strlen(test_ev), NULL, &l, &e), FERRY_OK);
    CHECK_INT(l.ignored, 1);
    ferry_event_list_free(&l);

    /* the EventBridge key setting */
    ferry_events_opts_t o;
    ferry_events_opts_default(&o);
    o.eventbridge_key_urlencoded = 0;
    const char *eb = "{\"source\":\"aws.s3\",\"detail-type\":\"Object Deleted\",\"detail\":{"
                     "\"object\":{\"key\":\"a+b%20c\"}}}";
    CHECK_INT(ferry_events_parse(eb, strlen(eb), &o, &l, &e), FERRY_OK);
    CHECK_STR(l.v[0].key, "a+b%20c");
    CHECK_INT(l.v[0].op, FERRY_EVENT_DELETE);
    ferry_event_list_free(&l);
    CHECK_INT(ferry_events_parse(eb, strlen(eb), NULL, &l, &e), FERRY_OK);
    CHECK_STR(l.v[0].key, "a b c");
    ferry_event_list_free(&l);

    /* Issue 12 items 4, 7 and 16: every field is bounded at parse time, after decoding. */
    bounds();
    buckets();
    formats13();
    /* item 3: events order by sequencer as AWS documents it (the ledger's compare) */
    CHECK(ferry_seq_cmp("00AA99", "00AB") < 0); /* not length first */
    CHECK(ferry_seq_cmp("00AB", "00AB0000") == 0);
    CHECK(ferry_seq_cmp("0055AED6DCD90281E6", "0055AED6DCD90281E5") > 0);
    return test_summary();
}
