/* pod-deletion-cost for workers in Kubernetes (ferry/k8s.h). */
#include "ferry/k8s.h"

#include "ferry/clock.h"
#include "ferry/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_MAX    (64 * 1024) /* a ServiceAccount token is ~1 KiB */
#define REPLY_MAX    4096        /* what is kept of an error answer, for the message */
#define BACKOFF_MAX  (5 * 60 * 1000)
#define DNS_NAME_MAX 253

struct ferry_k8s_cost_s {
    char *api_url, *token_file, *ca_file, *ns, *pod;
    int64_t min_interval_ms, idle_after_ms;
    int idle_cost, busy_cost;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    int stop;
    unsigned in_flight;
    int64_t last_busy_ms; /* when jobs were last seen in flight; INT64_MIN: never */
    int sent;             /* the API accepted sent_cost */
    int sent_cost;
    unsigned patches, failures;
    ferry_error_t last_err;
};

static int dns_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > DNS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '.'))
            return 0;
    return 1;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (s == NULL || *s == '\0')
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

static void cost_free(ferry_k8s_cost_t *k)
{
    free(k->api_url);
    free(k->token_file);
    free(k->ca_file);
    free(k->ns);
    free(k->pod);
    free(k);
}

/* ---- one PATCH ----------------------------------------------------------------------------- */

typedef struct {
    char buf[REPLY_MAX + 1];
    size_t len;
} reply_t;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    reply_t *r = ud;
    size_t n = size * nmemb, room = REPLY_MAX - r->len;
    memcpy(r->buf + r->len, p, n < room ? n : room); /* the rest is dropped, not an error */
    r->len += n < room ? n : room;
    r->buf[r->len] = '\0';
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    ferry_k8s_cost_t *k = ud;
    pthread_mutex_lock(&k->mu);
    int stop = k->stop;
    pthread_mutex_unlock(&k->mu);
    return stop; /* non-zero aborts the transfer */
}

/* The token file whole, without trailing white space. *out new (wiped and freed by the
 * caller); FERRY_EIO / FERRY_ETOOBIG / FERRY_ENOMEM. */
static int read_token(const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return FERRY_EIO;
    char *b = malloc(TOKEN_MAX + 1);
    size_t n = b ? fread(b, 1, TOKEN_MAX + 1, f) : 0;
    int bad = b == NULL ? FERRY_ENOMEM : ferror(f) ? FERRY_EIO : n > TOKEN_MAX ? FERRY_ETOOBIG : 0;
    fclose(f);
    if (bad) {
        if (b)
            memset(b, 0, TOKEN_MAX + 1);
        free(b);
        return bad;
    }
    while (n && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' ' || b[n - 1] == '\t'))
        n--;
    b[n] = '\0';
    *out = b;
    return FERRY_OK;
}

void ferry_k8s_status_message(const char *body, size_t len, char *out, size_t n)
{
    if (n == 0)
        return;
    out[0] = '\0';
    static const char key[] = "\"message\":\"";
    const size_t kl = sizeof(key) - 1;
    size_t i = 0;
    for (; i + kl <= len; i++)
        if (memcmp(body + i, key, kl) == 0)
            break;
    if (i + kl > len)
        return;
    size_t j = 0;
    for (i += kl; i < len && body[i] != '"' && j + 1 < n; i++) {
        char ch = body[i];
        if (ch == '\\') { /* an escape: keep the escaped byte (a quote, say), drop \uXXXX */
            if (++i >= len)
                break;
            ch = body[i] == 'u' ? '?' : body[i];
            if (body[i] == 'u')
                i += i + 4 < len ? 4 : len - i - 1;
        }
        out[j++] = (ch >= 0x20 && ch < 0x7f) ? ch : ' ';
    }
    out[j] = '\0';
}

static int patch_cost(ferry_k8s_cost_t *k, int cost, ferry_error_t *err)
{
    char *token = NULL;
    int rc;
    if (k->token_file && (rc = read_token(k->token_file, &token)) != FERRY_OK)
        return ferry_error_set(err, rc,
                               "cannot read the ServiceAccount token %s (%s): mount the pod's "
                               "token (automountServiceAccountToken: true)",
                               k->token_file,
                               rc == FERRY_EIO ? strerror(errno) : ferry_strerror(rc));
    char url[1024], body[160];
    int w =
        snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/pods/%s", k->api_url, k->ns, k->pod);
    snprintf(body, sizeof(body), "{\"metadata\":{\"annotations\":{\"%s\":\"%d\"}}}",
             FERRY_K8S_ANNOTATION, cost);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char *auth = NULL;
    if (token && token[0]) {
        size_t an = strlen(token) + 32;
        if ((auth = malloc(an)) != NULL)
            snprintf(auth, an, "Authorization: Bearer %s", token);
    }
    int oom = c == NULL || (token && token[0] && auth == NULL) || w < 0 || (size_t)w >= sizeof(url);
    const char *hdrs[3] = {"Content-Type: application/merge-patch+json", "Accept: application/json",
                           auth};
    for (int i = 0; i < 3 && !oom; i++) {
        if (hdrs[i] == NULL)
            continue;
        struct curl_slist *t = curl_slist_append(h, hdrs[i]); /* NULL: h is left as it was */
        if (t == NULL)
            oom = 1;
        else
            h = t;
    }
    if (oom) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory for a Kubernetes API request");
        goto out;
    }
    reply_t *reply = calloc(1, sizeof(*reply));
    if (reply == NULL) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory for a Kubernetes API request");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (k->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char msg[168];
    ferry_k8s_status_message(reply->buf, reply->len, msg, sizeof(msg));
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        rc = ferry_error_set(err, FERRY_ECANCELED, "stopped");
    else if (cc != CURLE_OK)
        rc = ferry_error_set(err, FERRY_ENET,
                             "cannot reach the Kubernetes API at %s: %s (check FERRY_K8S_API or "
                             "KUBERNETES_SERVICE_HOST, and the CA in %s)",
                             k->api_url, curl_easy_strerror(cc), k->ca_file ? k->ca_file : "-");
    else if (status >= 200 && status < 300)
        rc = FERRY_OK;
    else if (status == 401)
        rc = ferry_error_set(err, FERRY_EAUTH,
                             "the Kubernetes API refused the ServiceAccount token (401 %s)", msg);
    else if (status == 403)
        rc = ferry_error_set(err, FERRY_EDENIED,
                             "the pod's ServiceAccount may not patch pods in %s (403 %s): bind "
                             "a Role with get and patch on pods (deploy/k8s/base/rbac.yaml)",
                             k->ns, msg);
    else if (status == 404)
        rc = ferry_error_set(err, FERRY_ENOTFOUND,
                             "no pod %s in namespace %s (404): set FERRY_POD_NAME and "
                             "FERRY_POD_NAMESPACE from the downward API (metadata.name, "
                             "metadata.namespace)",
                             k->pod, k->ns);
    else
        rc = ferry_error_set(err, FERRY_ERETRY, "the Kubernetes API answered %ld %s", status, msg);
    if (err && rc != FERRY_OK)
        err->http_status = (int)status;
    free(reply);
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    return rc;
}

/* ---- the thread ---------------------------------------------------------------------------- */

/* The cost to show now and, when it will change by itself (idle_after), when. Under mu. */
static int want_cost(const ferry_k8s_cost_t *k, int64_t now, int64_t *until)
{
    *until = INT64_MAX;
    if (k->in_flight > 0)
        return k->busy_cost;
    if (k->last_busy_ms != INT64_MIN && now - k->last_busy_ms < k->idle_after_ms) {
        *until = k->last_busy_ms + k->idle_after_ms;
        return k->busy_cost;
    }
    return k->idle_cost;
}

static void timed_wait(ferry_k8s_cost_t *k, int64_t deadline_ms)
{
    if (deadline_ms == INT64_MAX) {
        pthread_cond_wait(&k->cv, &k->mu);
        return;
    }
    int64_t wait = deadline_ms - ferry_mono_ms();
    if (wait <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&k->cv, &k->mu, &ts);
}

static void *cost_main(void *arg)
{
    ferry_k8s_cost_t *k = arg;
    int64_t next_ok = 0; /* no PATCH before this (interval, backoff) */
    int64_t backoff = 0;
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        int64_t now = ferry_mono_ms(), until;
        if (k->in_flight > 0)
            k->last_busy_ms = now;
        int cost = want_cost(k, now, &until);
        if (k->sent && k->sent_cost == cost) {
            timed_wait(k, until); /* until told of a change, or idle_after ends */
            continue;
        }
        if (now < next_ok) {
            timed_wait(k, next_ok < until ? next_ok : until);
            continue;
        }
        pthread_mutex_unlock(&k->mu);
        ferry_error_t err;
        ferry_error_clear(&err);
        int rc = patch_cost(k, cost, &err);
        char v[16], n[24];
        snprintf(v, sizeof(v), "%d", cost);
        if (rc == FERRY_OK) {
            backoff = 0;
            next_ok = ferry_mono_ms() + k->min_interval_ms;
            ferry_log(FERRY_LOG_INFO, "k8s.cost", "pod", k->pod, "cost", v, NULL);
        } else if (rc != FERRY_ECANCELED) {
            backoff = backoff ? backoff * 2 : k->min_interval_ms;
            if (backoff > BACKOFF_MAX)
                backoff = BACKOFF_MAX;
            next_ok = ferry_mono_ms() + backoff;
            snprintf(n, sizeof(n), "%lld", (long long)(backoff / 1000));
            ferry_log(FERRY_LOG_WARN, "k8s.cost_failed", "pod", k->pod, "cost", v, "retry_s", n,
                      "error", err.msg, NULL);
        }
        pthread_mutex_lock(&k->mu);
        if (rc == FERRY_OK) {
            k->sent = 1;
            k->sent_cost = cost;
            k->patches++;
        } else if (rc != FERRY_ECANCELED) {
            k->failures++;
            k->last_err = err;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* ---- public ------------------------------------------------------------------------------- */

int ferry_k8s_cost_start(const ferry_k8s_opts_t *o, ferry_k8s_cost_t **out, ferry_error_t *err)
{
    *out = NULL;
    if (o == NULL || o->api_url == NULL ||
        (strncmp(o->api_url, "https://", 8) != 0 && strncmp(o->api_url, "http://", 7) != 0) ||
        strlen(o->api_url) > 512)
        return ferry_error_set(err, FERRY_EINVAL,
                               "pod-deletion-cost: the Kubernetes API URL must be http(s)://HOST"
                               "[:PORT] (FERRY_K8S_API, or KUBERNETES_SERVICE_HOST/_PORT)");
    if (!dns_name_ok(o->pod) || !dns_name_ok(o->pod_namespace))
        return ferry_error_set(err, FERRY_EINVAL,
                               "pod-deletion-cost: pod name and namespace must be 1..253 of a-z "
                               "0-9 . - (set FERRY_POD_NAME and FERRY_POD_NAMESPACE from "
                               "metadata.name and metadata.namespace)");
    ferry_k8s_cost_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    int oom = 0;
    k->api_url = dup_or_null(o->api_url, &oom);
    k->token_file = dup_or_null(o->token_file, &oom);
    k->ca_file = dup_or_null(o->ca_file, &oom);
    k->ns = dup_or_null(o->pod_namespace, &oom);
    k->pod = dup_or_null(o->pod, &oom);
    if (oom) {
        cost_free(k);
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    }
    size_t u = strlen(k->api_url);
    while (u && k->api_url[u - 1] == '/')
        k->api_url[--u] = '\0';
    k->min_interval_ms = o->min_interval_ms > 0 ? o->min_interval_ms : 10000;
    k->idle_after_ms = o->idle_after_ms > 0 ? o->idle_after_ms : 30000;
    k->idle_cost = o->idle_cost;
    k->busy_cost = o->busy_cost ? o->busy_cost : 1000;
    k->last_busy_ms = INT64_MIN;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* reference-counted; undone in stop */
    pthread_mutex_init(&k->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&k->thread, NULL, cost_main, k) != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        curl_global_cleanup();
        cost_free(k);
        return ferry_error_set(err, FERRY_ESPAWN, "pod-deletion-cost: cannot start a thread");
    }
    *out = k;
    return FERRY_OK;
}

void ferry_k8s_cost_note(ferry_k8s_cost_t *k, unsigned in_flight)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->mu);
    int changed = (k->in_flight > 0) != (in_flight > 0);
    k->in_flight = in_flight;
    if (in_flight > 0)
        k->last_busy_ms = ferry_mono_ms();
    if (changed)
        pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

void ferry_k8s_cost_stats(ferry_k8s_cost_t *k, unsigned *patches, unsigned *failures,
                          int *last_cost, ferry_error_t *last_err)
{
    pthread_mutex_lock(&k->mu);
    if (patches)
        *patches = k->patches;
    if (failures)
        *failures = k->failures;
    if (last_cost)
        *last_cost = k->sent ? k->sent_cost : INT32_MIN;
    if (last_err)
        *last_err = k->last_err;
    pthread_mutex_unlock(&k->mu);
}

void ferry_k8s_cost_stop(ferry_k8s_cost_t *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    curl_global_cleanup();
    cost_free(k);
}

/* Append s to buf at *off; the copy's start, or NULL when it does not fit. */
static const char *put(char *buf, size_t n, size_t *off, const char *s)
{
    size_t l = strlen(s);
    if (*off + l + 1 > n)
        return NULL;
    char *d = buf + *off;
    memcpy(d, s, l + 1);
    *off += l + 1;
    return d;
}

int ferry_k8s_opts_from_env(ferry_k8s_opts_t *o, char *buf, size_t n, ferry_error_t *err)
{
    memset(o, 0, sizeof(*o));
    const char *off = getenv("FERRY_POD_DELETION_COST");
    const char *pod = getenv("FERRY_POD_NAME");
    if ((off && strcmp(off, "off") == 0) || pod == NULL || *pod == '\0')
        return FERRY_ENOTFOUND;
    const char *dir = getenv("FERRY_K8S_SA_DIR");
    if (dir == NULL || *dir == '\0')
        dir = FERRY_K8S_SA_DIR;
    size_t at = 0;
    char tmp[600];
    const char *ns = getenv("FERRY_POD_NAMESPACE");
    char nsbuf[DNS_NAME_MAX + 2] = "";
    if (ns == NULL || *ns == '\0') {
        snprintf(tmp, sizeof(tmp), "%s/namespace", dir);
        FILE *f = fopen(tmp, "rb");
        size_t r = f ? fread(nsbuf, 1, sizeof(nsbuf) - 1, f) : 0;
        if (f)
            fclose(f);
        nsbuf[r] = '\0';
        while (r && (nsbuf[r - 1] == '\n' || nsbuf[r - 1] == ' '))
            nsbuf[--r] = '\0';
        ns = nsbuf;
    }
    const char *api = getenv("FERRY_K8S_API");
    if (api == NULL || *api == '\0') {
        const char *host = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        if (host == NULL || *host == '\0')
            return ferry_error_set(err, FERRY_EINVAL,
                                   "pod-deletion-cost: FERRY_POD_NAME is set but "
                                   "KUBERNETES_SERVICE_HOST is not: set FERRY_K8S_API, or "
                                   "FERRY_POD_DELETION_COST=off");
        int v6 = strchr(host, ':') != NULL;
        snprintf(tmp, sizeof(tmp), "https://%s%.256s%s:%.8s", v6 ? "[" : "", host, v6 ? "]" : "",
                 port && *port ? port : "443");
        api = tmp;
    }
    if ((o->api_url = put(buf, n, &at, api)) == NULL || (o->pod = put(buf, n, &at, pod)) == NULL ||
        (o->pod_namespace = put(buf, n, &at, ns)) == NULL)
        return ferry_error_set(err, FERRY_ETOOBIG, "pod-deletion-cost: settings too long");
    snprintf(tmp, sizeof(tmp), "%.500s/token", dir);
    if ((o->token_file = put(buf, n, &at, tmp)) == NULL)
        return ferry_error_set(err, FERRY_ETOOBIG, "pod-deletion-cost: settings too long");
    snprintf(tmp, sizeof(tmp), "%.500s/ca.crt", dir);
    FILE *ca = fopen(tmp, "rb");
    if (ca) {
        fclose(ca);
        if ((o->ca_file = put(buf, n, &at, tmp)) == NULL)
            return ferry_error_set(err, FERRY_ETOOBIG, "pod-deletion-cost: settings too long");
    }
    if (!dns_name_ok(o->pod_namespace))
        return ferry_error_set(err, FERRY_EINVAL,
                               "pod-deletion-cost: no namespace: set FERRY_POD_NAMESPACE from "
                               "metadata.namespace");
    return FERRY_OK;
}

static ferry_k8s_cost_t *g_cost;
static int g_tried;

void ferry_k8s_worker_load(unsigned in_flight)
{
    if (!g_tried) {
        g_tried = 1;
        ferry_k8s_opts_t o;
        char buf[2048];
        ferry_error_t err;
        ferry_error_clear(&err);
        int rc = ferry_k8s_opts_from_env(&o, buf, sizeof(buf), &err);
        if (rc == FERRY_OK)
            rc = ferry_k8s_cost_start(&o, &g_cost, &err);
        if (rc != FERRY_OK && rc != FERRY_ENOTFOUND)
            ferry_log(FERRY_LOG_WARN, "k8s.cost_off", "error", err.msg, NULL);
    }
    ferry_k8s_cost_note(g_cost, in_flight);
}

void ferry_k8s_worker_stop(void)
{
    ferry_k8s_cost_stop(g_cost);
    g_cost = NULL;
    g_tried = 0;
}
