/* The display of ferry sync / ferry wait --progress, the worker-log tail, the failure summary
 * (progress.h). */
#include "progress.h"

#include "ferry/clock.h"
#include "ferry/limits.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#include "ferry/stats.h"
#include "ferry/status.h"
#include "ferry/text.h"

void progress_init(progress_t *p, FILE *out, int tty, long long interval_ms, const char *label)
{
    memset(p, 0, sizeof(*p));
    p->out = out;
    p->tty = tty;
    p->interval_ms = interval_ms > 0 ? interval_ms : 10000;
    p->label = label ? label : "";
    p->start_ms = p->last_line_ms = ferry_mono_ms();
}

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct {
    long long done, copied, bytes, failed, retries;
} stats_sum_t;

static int read_stats(ferry_redis_t *r, const char *task, stats_sum_t *s)
{
    ferry_stats_field_t *f = NULL;
    size_t n = 0;
    memset(s, 0, sizeof(*s));
    int rc = ferry_stats_read(r, task, &f, &n);
    if (rc != FERRY_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char buf[FERRY_STATS_FIELD_MAX];
        const char *l1, *l2, *l3;
        if (ferry_stats_field_counter(f[i].name, "results", buf, sizeof(buf), &l1, &l2, &l3)) {
            if (!strcmp(l1, "done") || !strcmp(l1, "skipped") || !strcmp(l1, "deleted"))
                s->done += f[i].value;
            if (!strcmp(l1, "done"))
                s->copied += f[i].value;
            else if (!strcmp(l1, "failed"))
                s->failed += f[i].value;
            else if (!strcmp(l1, "retried"))
                s->retries += f[i].value;
        } else if (ferry_stats_field_counter(f[i].name, "bytes", buf, sizeof(buf), &l1, &l2, &l3)) {
            if (!strcmp(l1, "done"))
                s->bytes += f[i].value;
        } else if (ferry_stats_field_counter(f[i].name, "request_retries", buf, sizeof(buf), &l1,
                                             &l2, &l3))
            s->retries += f[i].value;
    }
    free(f);
    return FERRY_OK;
}

int progress_read(progress_t *p, ferry_redis_t *r, ferry_ledger_t *led, const char *task,
                  const char *prefix, progress_sample_t *s)
{
    stats_sum_t st;
    ferry_counters_t c;
    long long pending = 0, failed = 0;
    int rc = read_stats(r, task, &st);
    if (rc == FERRY_OK)
        rc = ferry_ledger_counters(led, &c);
    if (rc == FERRY_OK && prefix && *prefix)
        rc = ferry_ledger_progress(led, prefix, &pending, &failed);
    if (rc != FERRY_OK)
        return rc;
    long long l_done = c.objects[FERRY_STATE_DONE] + c.objects[FERRY_STATE_SKIPPED] +
                       c.objects[FERRY_STATE_DELETED],
              l_copied = c.objects[FERRY_STATE_DONE], l_bytes = c.bytes[FERRY_STATE_DONE];
    if (!p->have_base) {
        p->have_base = 1;
        p->base_l_done = l_done;
        p->base_l_copied = l_copied;
        p->base_l_bytes = l_bytes;
        p->base_done = st.done;
        p->base_copied = st.copied;
        p->base_bytes = st.bytes;
        p->base_failed = st.failed;
        p->base_retries = st.retries;
    }
    s->done = st.done - p->base_done;
    s->copied = st.copied - p->base_copied;
    s->done_bytes = st.bytes - p->base_bytes;
    s->failed = st.failed - p->base_failed;
    s->retries = st.retries - p->base_retries;
    /* The statistics trail by up to a second (a worker flushes them every second); the
     * ledger's counts are current but miss a changed object copied again (done before and
     * after). Both are lower bounds: take the larger. */
    if (l_done - p->base_l_done > s->done)
        s->done = l_done - p->base_l_done;
    if (l_copied - p->base_l_copied > s->copied)
        s->copied = l_copied - p->base_l_copied;
    if (l_bytes - p->base_l_bytes > s->done_bytes)
        s->done_bytes = l_bytes - p->base_l_bytes;
    s->in_flight = c.objects[FERRY_STATE_COPYING];
    if (prefix && *prefix) {
        s->left = pending;
        s->left_bytes = -1;
    } else {
        s->left = c.objects[FERRY_STATE_QUEUED] + c.objects[FERRY_STATE_COPYING];
        s->left_bytes = c.bytes[FERRY_STATE_QUEUED] + c.bytes[FERRY_STATE_COPYING];
    }
    /* a statistics reset (FLUSHALL, task removed) must not show negative counts */
    if (s->done < 0 || s->copied < 0 || s->done_bytes < 0 || s->failed < 0 || s->retries < 0) {
        p->have_base = 0;
        s->done = s->copied = s->done_bytes = s->failed = s->retries = 0;
    }
    return FERRY_OK;
}

/* ---- the text ----------------------------------------------------------------------------- */

static void human_bytes(double b, char *buf, size_t n)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int i = 0;
    while (b >= 1024 && i < 5) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* 1234567 -> "1,234,567" */
static void grouped(long long v, char *buf, size_t n)
{
    char d[32];
    snprintf(d, sizeof(d), "%lld", v < 0 ? -v : v);
    size_t l = strlen(d), j = 0;
    if (v < 0 && j + 1 < n)
        buf[j++] = '-';
    for (size_t i = 0; i < l && j + 2 < n; i++) {
        if (i > 0 && (l - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = d[i];
    }
    buf[j] = '\0';
}

static void human_secs(long long s, char *buf, size_t n)
{
    if (s < 60)
        snprintf(buf, n, "%llds", s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
    else if (s < 100 * 3600)
        snprintf(buf, n, "%lldh%02lldm", s / 3600, (s / 60) % 60);
    else
        snprintf(buf, n, "%lldd", s / 86400);
}

/* Objects and bytes per second over the samples of the last 10 s. */
static void rates(const progress_t *p, double *obj_s, double *bytes_s)
{
    *obj_s = *bytes_s = 0;
    if (p->rate_count < 2)
        return;
    int newest = (p->rate_head + PROGRESS_RATE_SAMPLES - 1) % PROGRESS_RATE_SAMPLES;
    int oldest = (p->rate_head + PROGRESS_RATE_SAMPLES - p->rate_count) % PROGRESS_RATE_SAMPLES;
    for (int k = 0; k < p->rate_count - 1; k++) {
        if (p->rate_t[newest] - p->rate_t[oldest] <= 10000)
            break;
        oldest = (oldest + 1) % PROGRESS_RATE_SAMPLES;
    }
    long long dt = p->rate_t[newest] - p->rate_t[oldest];
    if (dt <= 0)
        return;
    *obj_s = (double)(p->rate_n[newest] - p->rate_n[oldest]) * 1000.0 / (double)dt;
    *bytes_s = (double)(p->rate_b[newest] - p->rate_b[oldest]) * 1000.0 / (double)dt;
}

typedef struct {
    char *b;
    size_t n, len;
} sbuf_t;

static void sb(sbuf_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb(sbuf_t *s, const char *fmt, ...)
{
    if (s->len + 1 >= s->n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(s->b + s->len, s->n - s->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        s->len = s->len + (size_t)w < s->n ? s->len + (size_t)w : s->n - 1;
}

void progress_format(const progress_t *p, const progress_sample_t *s, int bar, long long now,
                     char *buf, size_t n)
{
    sbuf_t o = {buf, n, 0};
    buf[0] = '\0';
    char a[32], b[32], c[32], d[32];
    double obj_s, bytes_s;
    rates(p, &obj_s, &bytes_s);
    long long total = p->total, finished = s->done + s->failed;
    if (finished > total)
        total = finished;
    if (!bar) {
        human_secs((now - p->start_ms) / 1000, a, sizeof(a));
        sb(&o, "%s%s[%s] ", p->label, p->label[0] ? ": " : "", a);
    }
    if (s->listing) {
        grouped(s->src_objects, a, sizeof(a));
        human_bytes((double)s->src_bytes, b, sizeof(b));
        grouped(s->dst_objects, c, sizeof(c));
        human_bytes((double)s->dst_bytes, d, sizeof(d));
        sb(&o, "listing  source %s objects %s · destination %s objects %s", a, b, c, d);
        grouped(s->done, a, sizeof(a));
        grouped(total, b, sizeof(b));
        human_bytes(bytes_s, c, sizeof(c));
        sb(&o, " · copied %s/%s so far  %s/s", a, b, c);
    } else {
        int pct = total > 0 ? (int)(finished * 100 / total) : 100;
        if (bar) {
            enum { W = 20 };
            char bars[W + 1];
            int fill = pct * W / 100;
            for (int i = 0; i < W; i++)
                bars[i] = i < fill ? '#' : '.';
            bars[W] = '\0';
            sb(&o, "[%s] ", bars);
        }
        grouped(s->done, a, sizeof(a));
        grouped(total, b, sizeof(b));
        sb(&o, "%3d%%  %s/%s objects", pct, a, b);
        human_bytes((double)s->done_bytes, c, sizeof(c));
        if (s->left_bytes >= 0) {
            human_bytes((double)p->total_bytes, d, sizeof(d));
            sb(&o, "  %s/%s", c, d);
        } else
            sb(&o, "  %s", c);
        human_bytes(bytes_s, c, sizeof(c));
        sb(&o, "  %s/s", c);
        /* ETA: the longer of the estimates by objects and by bytes */
        double eta = -1;
        if (s->left == 0)
            eta = 0;
        else if (obj_s > 0) {
            eta = (double)s->left / obj_s;
            if (s->left_bytes > 0 && bytes_s > 0 && (double)s->left_bytes / bytes_s > eta)
                eta = (double)s->left_bytes / bytes_s;
        }
        if (eta >= 0) {
            human_secs((long long)(eta + 0.5), d, sizeof(d));
            sb(&o, "  ETA %s", d);
        } else
            sb(&o, "  ETA -");
    }
    sb(&o, "  in flight %lld  retries %lld  failed %lld", s->in_flight, s->retries, s->failed);
}

static int term_width(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* The line cut to fit width-1 columns (every character of it is one column, "·" too). */
static void draw(progress_t *p)
{
    char line[1024];
    progress_format(p, &p->last, 1, ferry_mono_ms(), line, sizeof(line));
    int width = term_width(p->out) - 1, cols = 0;
    size_t i = 0;
    for (; line[i] && cols < width; i++)
        if (((unsigned char)line[i] & 0xc0) != 0x80) /* a character starts here */
            cols++;
    while (line[i] && ((unsigned char)line[i] & 0xc0) == 0x80)
        i++;
    line[i] = '\0';
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->drawn = 1;
}

void progress_show(progress_t *p, const progress_sample_t *s, int force)
{
    long long now = ferry_mono_ms();
    p->last = *s;
    long long t = s->done + s->failed + s->left;
    if (t > p->total)
        p->total = t;
    if (s->left_bytes >= 0 && s->done_bytes + s->left_bytes > p->total_bytes)
        p->total_bytes = s->done_bytes + s->left_bytes;
    p->rate_t[p->rate_head] = now;
    p->rate_n[p->rate_head] = s->done;
    p->rate_b[p->rate_head] = s->done_bytes;
    p->rate_head = (p->rate_head + 1) % PROGRESS_RATE_SAMPLES;
    if (p->rate_count < PROGRESS_RATE_SAMPLES)
        p->rate_count++;
    if (p->tty) {
        draw(p);
        return;
    }
    if (!force && now - p->last_line_ms < p->interval_ms)
        return;
    p->last_line_ms = now;
    char line[1024];
    progress_format(p, s, 0, now, line, sizeof(line));
    fprintf(p->out, "%s\n", line);
    fflush(p->out);
}

/* Bytes for a terminal: valid UTF-8 as is, controls and invalid bytes as \xHH. */
static void put_safe(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = ferry_utf8_seq_len(u + i, n - i);
        if (l && !ferry_utf8_is_control(u + i, l)) {
            fwrite(u + i, 1, l, f);
            i += l;
        } else {
            size_t m = l ? l : 1;
            for (size_t k = 0; k < m; k++)
                fprintf(f, "\\x%02x", u[i + k]);
            i += m;
        }
    }
}

void progress_print_above(progress_t *p, const char *line, size_t n)
{
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (p->tty && p->drawn)
        fputs("\r\033[K", p->out);
    put_safe(p->out, line, n);
    fputc('\n', p->out);
    if (p->tty && p->drawn)
        draw(p);
    else
        fflush(p->out);
}

void progress_end(progress_t *p, int keep_line)
{
    if (p->tty && p->drawn) {
        if (keep_line) {
            draw(p);
            fputc('\n', p->out);
        } else
            fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    p->drawn = 0;
}

/* ---- the tail ----------------------------------------------------------------------------- */

int progress_tail_open(progress_tail_t *t, const char *path, long long offset, int verbose)
{
    memset(t, 0, sizeof(*t));
    t->verbose = verbose;
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0)
        return FERRY_EIO;
    if (lseek(t->fd, (off_t)offset, SEEK_SET) < 0) {
        int e = errno;
        close(t->fd);
        t->fd = -1;
        errno = e;
        return FERRY_EIO;
    }
    return FERRY_OK;
}

static int starts(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(s, lit, l) == 0;
}

int progress_line_important(const char *line, size_t n)
{
    /* "ts=… level=L …" and {"ts":"…","level":"L",…}: the level is the second field, and the
     * time stamp holds neither a space nor a quote */
    if (starts(line, n, "ts=")) {
        const char *sp = memchr(line, ' ', n);
        size_t rest = sp ? n - (size_t)(sp + 1 - line) : 0;
        return sp && (starts(sp + 1, rest, "level=warn ") || starts(sp + 1, rest, "level=error "));
    }
    if (starts(line, n, "{\"ts\":\"")) {
        const char *q = memchr(line + 7, '"', n - 7);
        size_t rest = q ? n - (size_t)(q - line) : 0;
        return q && (starts(q, rest, "\",\"level\":\"warn\"") ||
                     starts(q, rest, "\",\"level\":\"error\""));
    }
    return n > 0; /* not a log line: a worker's last words, a sanitizer report */
}

static void tail_line(progress_tail_t *t, progress_t *p, const char *s, size_t n)
{
    if (t->verbose || progress_line_important(s, n))
        progress_print_above(p, s, n);
}

void progress_tail_poll(progress_tail_t *t, progress_t *p)
{
    if (t->fd < 0)
        return;
    for (int rounds = 0; rounds < 64; rounds++) { /* at most 512 KiB a call */
        ssize_t r = read(t->fd, t->buf + t->n, sizeof(t->buf) - t->n);
        if (r <= 0)
            return;
        size_t end = t->n + (size_t)r, start = 0;
        for (size_t i = t->n; i < end; i++) {
            if (t->buf[i] != '\n')
                continue;
            if (!t->skipping)
                tail_line(t, p, t->buf + start, i - start);
            t->skipping = 0;
            start = i + 1;
        }
        if (start == 0 && end == sizeof(t->buf)) { /* one line fills the buffer: show its head */
            if (!t->skipping)
                tail_line(t, p, t->buf, end);
            t->skipping = 1;
            t->n = 0;
            continue;
        }
        memmove(t->buf, t->buf + start, end - start);
        t->n = end - start;
    }
}

void progress_tail_close(progress_tail_t *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

/* ---- failures ----------------------------------------------------------------------------- */

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void progress_error_group(const char *err, const char *key, char *out, size_t n)
{
    static const char ELL[] = "\xe2\x80\xa6"; /* … */
    size_t el = strlen(err), kl = key ? strlen(key) : 0, j = 0;
    /* the longest suffix of key (whole, or after a '/') found after a '/' in err; a URL may hold
     * only the first 200 bytes of a key, then ':' follows */
    size_t best_at = 0, best_len = 0;
    for (size_t ks = 0; ks < kl && best_len == 0; ks++) {
        if (ks > 0 && key[ks - 1] != '/')
            continue;
        const char *needle = key + ks;
        size_t nl = kl - ks;
        for (size_t i = 1; i < el; i++) {
            if (err[i - 1] != '/')
                continue;
            size_t m = 0;
            while (m < nl && i + m < el && err[i + m] == needle[m])
                m++;
            char after = i + m < el ? err[i + m] : '\0';
            if ((m == nl && strchr(": )\"", after)) || (m >= 8 && m < nl && after == ':')) {
                best_at = i;
                best_len = m;
                break;
            }
        }
    }
    for (size_t i = 0; i < el && j + 4 < n;) {
        if (best_len && i == best_at) {
            memcpy(out + j, ELL, 3);
            j += 3;
            i += best_len;
            continue;
        }
        size_t h = 0, d = 0;
        while (i + h < el && is_hex(err[i + h]))
            h++;
        while (i + d < el && err[i + d] >= '0' && err[i + d] <= '9')
            d++;
        int word_start = i == 0 || !is_hex(err[i - 1]);
        if (word_start && (h >= 16 || d >= 5)) {
            memcpy(out + j, ELL, 3);
            j += 3;
            i += h >= 16 ? h : d;
            continue;
        }
        out[j++] = err[i++];
    }
    /* never end inside a UTF-8 sequence */
    while (j > 0 && ((unsigned char)out[j - 1] & 0xc0) == 0x80) {
        size_t k = j - 1;
        while (k > 0 && ((unsigned char)out[k] & 0xc0) == 0x80)
            k--;
        if (ferry_utf8_seq_len((const unsigned char *)out + k, j - k) == j - k)
            break;
        j = k;
    }
    if (j > 0 && ((unsigned char)out[j - 1] & 0xc0) == 0xc0)
        j--;
    out[j] = '\0';
}

enum { GROUPS_MAX = 32, GROUP_KEYS = 5, GROUP_TEXT = 400, FAIL_READ_MAX = 20000 };

typedef struct {
    char code[FERRY_ERRCODE_MAX + 1]; /* the group: the records' error code */
    char text[GROUP_TEXT];            /* "[code] " and the first record's text, key cut out */
    long long count;
    char *keys[GROUP_KEYS];
    int nkeys;
} group_t;

static int by_count(const void *a, const void *b)
{
    const group_t *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

int progress_failures(FILE *f, ferry_redis_t *r, const char *task, const char *prefix,
                      long long failed)
{
    group_t *g = calloc(GROUPS_MAX + 1, sizeof(*g)); /* the last: every other error */
    if (g == NULL)
        return FERRY_ENOMEM;
    int ng = 0, rc = FERRY_OK;
    long long seen = 0;
    char cur[1100] = "", next[1100];
    snprintf(g[GROUPS_MAX].text, GROUP_TEXT, "other errors");
    while (seen < FAIL_READ_MAX) {
        json_t *arr = NULL;
        rc = ferry_status_list(r, task, FERRY_STATE_FAILED, prefix ? prefix : "", cur, 1000, &arr,
                               next, sizeof(next));
        if (rc != FERRY_OK)
            break;
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            const char *key = json_string_value(json_object_get(v, "key"));
            const char *err = json_string_value(json_object_get(v, "error"));
            const char *code = json_string_value(json_object_get(v, "error_code"));
            if (code == NULL || *code == '\0')
                code = "other";
            int k = 0;
            while (k < ng && strcmp(g[k].code, code) != 0)
                k++;
            if (k == ng) {
                if (ng < GROUPS_MAX) {
                    char text[GROUP_TEXT - FERRY_ERRCODE_MAX - 4];
                    progress_error_group(err && *err ? err : "(no error recorded)", key, text,
                                         sizeof(text));
                    snprintf(g[ng].code, sizeof(g[ng].code), "%s", code);
                    snprintf(g[ng].text, sizeof(g[ng].text), "[%s] %s", code, text);
                    ng++;
                } else
                    k = GROUPS_MAX;
            }
            g[k].count++;
            if (g[k].nkeys < GROUP_KEYS && key)
                if ((g[k].keys[g[k].nkeys] = strdup(key)) != NULL)
                    g[k].nkeys++;
            seen++;
        }
        json_decref(arr);
        if (next[0] == '\0')
            break;
        snprintf(cur, sizeof(cur), "%s", next);
    }
    if (g[GROUPS_MAX].count) /* only when every group is taken: "other errors" joins them */
        ng = GROUPS_MAX + 1;
    qsort(g, (size_t)ng, sizeof(*g), by_count);
    char nb[32];
    grouped(failed > seen ? failed : seen, nb, sizeof(nb));
    fprintf(f, "failed: %s object%s, by error code", nb,
            (failed > seen ? failed : seen) == 1 ? "" : "s");
    if (seen < failed) {
        char sb_[32];
        grouped(seen, sb_, sizeof(sb_));
        fprintf(f, " (the first %s)", sb_);
    }
    fputs(":\n", f);
    for (int k = 0; k < ng; k++) {
        grouped(g[k].count, nb, sizeof(nb));
        fprintf(f, "  %s × ", nb);
        cli_puts_escaped(f, g[k].text);
        fputc('\n', f);
        for (int i = 0; i < g[k].nkeys; i++) {
            fputs("      ", f);
            cli_puts_escaped(f, g[k].keys[i]);
            fputc('\n', f);
        }
        if (g[k].count > g[k].nkeys) {
            grouped(g[k].count - g[k].nkeys, nb, sizeof(nb));
            fprintf(f, "      … and %s more\n", nb);
        }
    }
    /* the commands, pasteable: the name is a task name (no quoting needed) */
    fprintf(f, "every failed object with its error: ferry ls %s --state failed --format csv\n",
            task);
    fprintf(f, "retry them: ferry retry %s (one code: ferry retry %s --error CODE)\n", task, task);
    for (int k = 0; k <= GROUPS_MAX; k++)
        for (int i = 0; i < g[k].nkeys; i++)
            free(g[k].keys[i]);
    free(g);
    if (rc != FERRY_OK)
        cli_error(0, "could not list every failed object: %s", ferry_redis_error(r)->msg);
    return rc;
}
