/* fakes3 — an S3-compatible test server (see docs/internals/fakes3.md).
 *
 *   fakes3 --listen 127.0.0.1:0 --personality s3 --access-key K --secret-key S [--bucket B]...
 *
 * Prints "ready PORT" on stdout once listening. SIGTERM/SIGINT: stop accepting, let requests in
 * flight finish (up to 5 s), exit 0.
 */
#define _GNU_SOURCE /* accept4 */
#include "fakes3.h"
#include "store_int.h"

#include "ferry/error.h"
#include "ferry/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: fakes3 --listen HOST:PORT --access-key K --secret-key S\n"
               "              [--personality oss|cos|kodo|s3] [--bucket NAME]... [--data-dir DIR]\n"
               "              [--faults JSON|@FILE] [--seed N] [--region R] [--domain D]\n"
               "              [--path-style-ok] [--list-v2] [--min-part-size BYTES]\n"
               "              [--max-object BYTES] [--prefault BYTES] [--verbose] [--quiet]\n"
               "HOST is 127.0.0.1, [::1], localhost or 0.0.0.0; PORT 0 picks a free port.\n");
}

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "fakes3: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return FERRY_EPARSE;
    *out = v;
    return FERRY_OK;
}

/* Benchmarks: keep request bodies in one malloc arena that never gives memory back, and touch
 * BYTES of it now, so that stored bodies land on pages that are already faulted in. On a VM a
 * first touch costs far more than the copy (measured: 61% of a destination's CPU went to the
 * kernel zeroing fresh pages), which would make the server, not the tool under test, the limit.
 * Bodies up to 32 MiB (glibc's largest mmap threshold) use it; larger ones are mmap'd as before. */
static int prefault(uint64_t bytes)
{
    enum { CHUNK = 16u << 20 };
    size_t n = (size_t)(bytes / CHUNK) + (bytes % CHUNK != 0);
    if (mallopt(M_ARENA_MAX, 1) != 1 || mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 ||
        mallopt(M_TRIM_THRESHOLD, -1) != 1) {
        fprintf(stderr, "fakes3: --prefault: mallopt refused a setting\n");
        return FERRY_EINVAL;
    }
    void **v = calloc(n ? n : 1, sizeof(*v));
    if (v == NULL)
        return FERRY_ENOMEM;
    int rc = FERRY_OK;
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        v[i] = malloc(CHUNK);
        if (v[i] == NULL)
            rc = FERRY_ENOMEM;
        else /* one write per page; volatile so that the compiler keeps it */
            for (size_t off = 0; off < CHUNK; off += 4096)
                ((volatile char *)v[i])[off] = 1;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    if (rc != FERRY_OK)
        fprintf(stderr, "fakes3: --prefault: out of memory after %zu MiB\n", n * 16);
    return rc;
}

/* Open the listener. FERRY_OK or FERRY_ENET with a message on stderr. */
static int listen_on(const char *spec, int *fd_out, int *port_out)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
        return FERRY_EINVAL;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    uint64_t port;
    if (parse_u64(colon + 1, &port) != FERRY_OK || port > 65535)
        return FERRY_EINVAL;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (host[0] == '[') {
        size_t hl = strlen(host);
        if (hl < 3 || host[hl - 1] != ']')
            return FERRY_EINVAL;
        host[hl - 1] = '\0';
        memmove(host, host + 1, hl - 1);
    }
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*s6);
    } else {
        return FERRY_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return FERRY_ENET;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        fprintf(stderr, "fakes3: cannot listen on %s: %s\n", spec, strerror(errno));
        close(fd);
        return FERRY_ENET;
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
    *fd_out = fd;
    return FERRY_OK;
}

typedef struct conn_job_s {
    fakes3_server_t *srv;
    int fd;
} conn_job_t;

static void *conn_thread(void *arg)
{
    conn_job_t job = *(conn_job_t *)arg;
    free(arg);
    fakes3_server_conn(job.srv, job.fd);
    return NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    ferry_buf_t b;
    ferry_buf_init(&b, 4u << 20);
    char tmp[8192];
    size_t n;
    int rc = FERRY_OK;
    while (rc == FERRY_OK && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        rc = ferry_buf_add(&b, tmp, n);
    fclose(f);
    if (rc != FERRY_OK) {
        ferry_buf_free(&b);
        return NULL;
    }
    char *s = ferry_buf_steal(&b, len);
    return s ? s : strdup("");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"personality", required_argument, NULL, 'p'},
        {"access-key", required_argument, NULL, 'a'},
        {"secret-key", required_argument, NULL, 's'},
        {"bucket", required_argument, NULL, 'b'},
        {"data-dir", required_argument, NULL, 'd'},
        {"faults", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 'S'},
        {"region", required_argument, NULL, 'r'},
        {"domain", required_argument, NULL, 'D'},
        {"path-style-ok", no_argument, NULL, 'P'},
        {"list-v2", no_argument, NULL, '2'},
        {"min-part-size", required_argument, NULL, 'm'},
        {"max-object", required_argument, NULL, 'M'},
        {"prefault", required_argument, NULL, 'F'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    fakes3_server_t *srv = calloc(1, sizeof(*srv));
    const char *listen_spec = NULL, *faults = NULL;
    const char *buckets[64];
    size_t nbuckets = 0;
    int min_part_set = 0, rc = 0, lfd = -1, sfd = -1, port = 0;
    char *faults_text = NULL;
    uint64_t prefault_bytes = 0;
    if (srv == NULL)
        return 1;
    fakes3_config_t *cfg = &srv->cfg;
    cfg->region = "us-east-1";
    cfg->domain = "localhost";
    cfg->max_object = 5ULL << 30;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_spec = optarg;
            break;
        case 'p':
            if (strcmp(optarg, "s3") == 0)
                cfg->personality = FAKES3_S3;
            else if (strcmp(optarg, "oss") == 0)
                cfg->personality = FAKES3_OSS;
            else if (strcmp(optarg, "cos") == 0)
                cfg->personality = FAKES3_COS;
            else if (strcmp(optarg, "kodo") == 0)
                cfg->personality = FAKES3_KODO;
            else {
                rc = bad("unknown personality \"%s\" (want oss, cos, kodo or s3)", optarg);
                goto out;
            }
            break;
        case 'a':
            cfg->access_key = optarg;
            break;
        case 's':
            cfg->secret_key = optarg;
            break;
        case 'b':
            if (nbuckets == 64) {
                rc = bad("too many --bucket options (max %s)", "64");
                goto out;
            }
            buckets[nbuckets++] = optarg;
            break;
        case 'd':
            cfg->data_dir = optarg;
            break;
        case 'f':
            faults = optarg;
            break;
        case 'S':
            if (parse_u64(optarg, &cfg->seed) != FERRY_OK) {
                rc = bad("--seed wants a non-negative integer, not \"%s\"", optarg);
                goto out;
            }
            break;
        case 'r':
            cfg->region = optarg;
            cfg->region_set = 1;
            break;
        case 'D':
            cfg->domain = optarg;
            break;
        case 'P':
            cfg->path_style_ok = 1;
            break;
        case '2':
            cfg->list_v2 = 1;
            break;
        case 'm':
            if (parse_u64(optarg, &cfg->min_part_size) != FERRY_OK) {
                rc = bad("--min-part-size wants bytes, not \"%s\"", optarg);
                goto out;
            }
            min_part_set = 1;
            break;
        case 'M':
            if (parse_u64(optarg, &cfg->max_object) != FERRY_OK || cfg->max_object == 0) {
                rc = bad("--max-object wants bytes, not \"%s\"", optarg);
                goto out;
            }
            break;
        case 'F':
            if (parse_u64(optarg, &prefault_bytes) != FERRY_OK) {
                rc = bad("--prefault wants bytes, not \"%s\"", optarg);
                goto out;
            }
            break;
        case 'v':
            cfg->verbose = 1;
            break;
        case 'q':
            cfg->verbose = 0;
            break;
        case 'h':
            usage(stdout);
            free(srv);
            return 0;
        default:
            usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (optind < argc) {
        rc = bad("unexpected argument \"%s\"", argv[optind]);
        goto out;
    }
    if (listen_spec == NULL || cfg->access_key == NULL || cfg->secret_key == NULL) {
        rc = bad("%s", "--listen, --access-key and --secret-key are required");
        goto out;
    }
    if (!min_part_set)
        cfg->min_part_size = cfg->personality == FAKES3_S3 ? (5u << 20) : 0;
    ferry_log_setup(cfg->verbose ? FERRY_LOG_INFO : FERRY_LOG_WARN, 2);
    if (prefault_bytes > 0 && prefault(prefault_bytes) != FERRY_OK) {
        rc = 1;
        goto out;
    }
    fakes3_faults_init(&srv->faults, cfg->seed);
    if (faults != NULL) {
        char err[256] = "";
        size_t n = strlen(faults);
        const char *text = faults;
        if (faults[0] == '@') {
            faults_text = read_file(faults + 1, &n);
            if (faults_text == NULL) {
                rc = bad("cannot read the fault file \"%s\"", faults + 1);
                goto out;
            }
            text = faults_text;
        }
        if (fakes3_faults_set(&srv->faults, text, n, err, sizeof(err)) != FERRY_OK) {
            rc = bad("--faults: %s", err);
            goto out;
        }
    }
    if (fakes3_store_new(cfg, &srv->store) != FERRY_OK) {
        rc = 1;
        goto out;
    }
    if (cfg->data_dir != NULL) {
        char err[512] = "";
        if (fakes3_store_load(srv->store, err, sizeof(err)) != FERRY_OK) {
            fprintf(stderr, "fakes3: --data-dir %s: %s\n", cfg->data_dir, err);
            rc = 1;
            goto out;
        }
    }
    for (size_t i = 0; i < nbuckets; i++) {
        int brc = fakes3_store_bucket_create(srv->store, buckets[i]);
        if (brc != FERRY_OK && brc != FERRY_EEXISTS) {
            fprintf(stderr, "fakes3: cannot create bucket %s: %s\n", buckets[i],
                    ferry_strerror(brc));
            rc = 1;
            goto out;
        }
    }
    /* Signals go to a signalfd polled here; connection threads inherit the blocked mask. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    int lrc = listen_on(listen_spec, &lfd, &port);
    if (lrc == FERRY_EINVAL) {
        rc = bad("--listen wants HOST:PORT, not \"%s\"", listen_spec);
        goto out;
    }
    if (lrc != FERRY_OK || sfd < 0) {
        rc = 1;
        goto out;
    }
    printf("ready %d\n", port);
    fflush(stdout);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    for (;;) {
        struct pollfd pf[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        conn_job_t *job = malloc(sizeof(*job));
        pthread_t th;
        if (job == NULL) {
            close(fd);
            continue;
        }
        job->srv = srv;
        job->fd = fd;
        if (pthread_create(&th, &attr, conn_thread, job) != 0) {
            close(fd);
            free(job);
        }
    }
    pthread_attr_destroy(&attr);
    /* Stop: no new connections; let requests in flight finish (they are durable when
     * answered). Idle keep-alive connections are simply dropped at exit. */
    close(lfd);
    lfd = -1;
    atomic_store(&srv->stopping, 1);
    for (int i = 0; i < 500 && atomic_load(&srv->inflight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* Connection threads are detached and may still reference the store: exit without
     * freeing it (the OS reclaims; --data-dir blobs stay on disk). */
    fflush(stderr);
    _exit(0);
out:
    if (lfd >= 0)
        close(lfd);
    if (sfd >= 0)
        close(sfd);
    free(faults_text);
    fakes3_store_free(srv->store);
    fakes3_faults_free(&srv->faults);
    free(srv);
    return rc;
}
