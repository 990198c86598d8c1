/* fakes3 fault rules and per-operation counters. */
#include "fakes3.h"

#include "ferry/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
#define FAKES3_OP_NAME_(e, s) s,
    FAKES3_OPS(FAKES3_OP_NAME_)
#undef FAKES3_OP_NAME_
};

const char *fakes3_op_name(fakes3_op_t op)
{
    return op < FAKES3_OP_COUNT ? op_names[op] : "Unknown";
}

/* ---- faults ------------------------------------------------------------------------------ */

#define FAULTS_MAX 256

void fakes3_faults_init(fakes3_faults_t *f, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->rng = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (f->rng == 0)
        f->rng = 1;
}

static void rules_free(fakes3_fault_rule_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].key_prefix);
    free(r);
}

void fakes3_faults_free(fakes3_faults_t *f)
{
    rules_free(f->rules, f->n);
    f->rules = NULL;
    f->n = 0;
    pthread_mutex_destroy(&f->mu);
}

static int known_op(const char *op)
{
    if (strcmp(op, "*") == 0)
        return 1;
    for (int i = 0; i < FAKES3_OP_COUNT; i++)
        if (strcmp(op, op_names[i]) == 0)
            return 1;
    return 0;
}

static int parse_rule(json_t *j, fakes3_fault_rule_t *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->rate = 1.0;
    r->count = -1;
    r->reset_after = -1;
    r->range_start = -1;
    strcpy(r->op, "*");
    if (!json_is_object(j)) {
        snprintf(err, errlen, "a rule must be a JSON object");
        return FERRY_EPARSE;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "op") == 0 && json_is_string(v)) {
            if (!known_op(json_string_value(v)) || strlen(json_string_value(v)) >= sizeof(r->op)) {
                snprintf(err, errlen, "unknown op \"%s\"", json_string_value(v));
                return FERRY_EPARSE;
            }
            strcpy(r->op, json_string_value(v));
        } else if (strcmp(k, "key_prefix") == 0 && json_is_string(v)) {
            r->key_prefix = strdup(json_string_value(v));
            if (r->key_prefix == NULL)
                return FERRY_ENOMEM;
        } else if (strcmp(k, "rate") == 0 && json_is_number(v)) {
            r->rate = json_number_value(v);
            if (!(r->rate >= 0.0 && r->rate <= 1.0)) {
                snprintf(err, errlen, "rate must be within 0..1");
                return FERRY_EPARSE;
            }
        } else if (strcmp(k, "count") == 0 && json_is_integer(v) && json_integer_value(v) >= 0) {
            r->count = json_integer_value(v);
        } else if (strcmp(k, "error") == 0 && json_is_integer(v)) {
            json_int_t e = json_integer_value(v);
            if (e != 0 && (e < 400 || e > 599)) {
                snprintf(err, errlen, "error must be an HTTP status 400..599");
                return FERRY_EPARSE;
            }
            r->error = (int)e;
        } else if (strcmp(k, "reset_after") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= 0) {
            r->reset_after = json_integer_value(v);
        } else if (strcmp(k, "latency_ms") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= 0 && json_integer_value(v) <= 600000) {
            r->latency_ms = (int)json_integer_value(v);
        } else if (strcmp(k, "bandwidth") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= 0) {
            r->bandwidth = (uint64_t)json_integer_value(v);
        } else if (strcmp(k, "error_body") == 0 && json_is_boolean(v)) {
            r->error_body = json_is_true(v);
        } else if (strcmp(k, "flip_byte") == 0 && json_is_boolean(v)) {
            r->flip_byte = json_is_true(v);
        } else if (strcmp(k, "wrong_etag") == 0 && json_is_boolean(v)) {
            r->wrong_etag = json_is_true(v);
        } else if (strcmp(k, "no_etag") == 0 && json_is_boolean(v)) {
            r->no_etag = json_is_true(v);
        } else if (strcmp(k, "wrong_crc32c") == 0 && json_is_boolean(v)) {
            r->wrong_crc32c = json_is_true(v);
        } else if (strcmp(k, "sse_kms") == 0 && json_is_boolean(v)) {
            r->sse_kms = json_is_true(v);
        } else if (strcmp(k, "list_omit") == 0 && json_is_string(v) && json_string_length(v) >= 1 &&
                   json_string_length(v) <= 256) {
            snprintf(r->list_omit, sizeof(r->list_omit), "%s", json_string_value(v));
        } else if (strcmp(k, "list_repeat") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= 1 && json_integer_value(v) <= 1000) {
            r->list_repeat = (int)json_integer_value(v);
        } else if (strcmp(k, "skip") == 0 && json_is_integer(v) && json_integer_value(v) >= 0) {
            r->skip = json_integer_value(v);
        } else if (strcmp(k, "range_start") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= 0) {
            r->range_start = json_integer_value(v);
        } else if (strcmp(k, "upload_id_len") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= 1 && json_integer_value(v) <= 4096) {
            r->upload_id_len = (int)json_integer_value(v);
        } else {
            snprintf(err, errlen, "bad or unknown field \"%s\" in a fault rule", k);
            return FERRY_EPARSE;
        }
    }
    return FERRY_OK;
}

int fakes3_faults_set(fakes3_faults_t *f, const char *text, size_t n, char *err, size_t errlen)
{
    int rc = FERRY_OK;
    json_error_t jerr;
    fakes3_fault_rule_t *rules = NULL;
    size_t nr = 0;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    json_t *arr = root;
    if (root == NULL) {
        snprintf(err, errlen, "fault rules: %s (line %d)", jerr.text, jerr.line);
        rc = FERRY_EPARSE;
        goto out;
    }
    if (json_is_object(root))
        arr = json_object_get(root, "rules");
    if (!json_is_array(arr) || json_array_size(arr) > FAULTS_MAX) {
        snprintf(err, errlen, "fault rules: want a JSON array of at most %d rules", FAULTS_MAX);
        rc = FERRY_EPARSE;
        goto out;
    }
    nr = json_array_size(arr);
    rules = calloc(nr ? nr : 1, sizeof(*rules));
    if (rules == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nr; i++) {
        rc = parse_rule(json_array_get(arr, i), &rules[i], err, errlen);
        if (rc != FERRY_OK)
            goto out;
    }
    pthread_mutex_lock(&f->mu);
    fakes3_fault_rule_t *old = f->rules;
    size_t nold = f->n;
    f->rules = rules;
    f->n = nr;
    pthread_mutex_unlock(&f->mu);
    rules = old;
    nr = nold;
out:
    rules_free(rules, nr);
    json_decref(root);
    return rc;
}

int fakes3_faults_dump(fakes3_faults_t *f, ferry_buf_t *out)
{
    int rc = FERRY_OK;
    json_t *arr = json_array();
    char *s = NULL;
    if (arr == NULL)
        return FERRY_ENOMEM;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n && rc == FERRY_OK; i++) {
        const fakes3_fault_rule_t *r = &f->rules[i];
        json_t *o = json_pack("{s:s, s:f, s:I, s:I}", "op", r->op, "rate", r->rate, "count",
                              (json_int_t)r->count, "fired", (json_int_t)r->fired);
        if (o == NULL) {
            rc = FERRY_ENOMEM;
            break;
        }
        if (r->key_prefix)
            json_object_set_new(o, "key_prefix", json_string(r->key_prefix));
        if (r->error)
            json_object_set_new(o, "error", json_integer(r->error));
        if (r->reset_after >= 0)
            json_object_set_new(o, "reset_after", json_integer(r->reset_after));
        if (r->latency_ms)
            json_object_set_new(o, "latency_ms", json_integer(r->latency_ms));
        if (r->bandwidth)
            json_object_set_new(o, "bandwidth", json_integer((json_int_t)r->bandwidth));
        if (r->error_body)
            json_object_set_new(o, "error_body", json_true());
        if (r->flip_byte)
            json_object_set_new(o, "flip_byte", json_true());
        if (r->wrong_etag)
            json_object_set_new(o, "wrong_etag", json_true());
        if (r->no_etag)
            json_object_set_new(o, "no_etag", json_true());
        if (r->wrong_crc32c)
            json_object_set_new(o, "wrong_crc32c", json_true());
        if (r->list_omit[0])
            json_object_set_new(o, "list_omit", json_string(r->list_omit));
        if (r->list_repeat)
            json_object_set_new(o, "list_repeat", json_integer(r->list_repeat));
        if (r->upload_id_len)
            json_object_set_new(o, "upload_id_len", json_integer(r->upload_id_len));
        if (r->sse_kms)
            json_object_set_new(o, "sse_kms", json_true());
        if (r->range_start >= 0)
            json_object_set_new(o, "range_start", json_integer((json_int_t)r->range_start));
        if (r->skip > 0)
            json_object_set_new(o, "skip", json_integer((json_int_t)r->skip));
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&f->mu);
    if (rc == FERRY_OK) {
        s = json_dumps(arr, JSON_COMPACT);
        rc = s ? ferry_buf_adds(out, s) : FERRY_ENOMEM;
    }
    free(s);
    json_decref(arr);
    return rc;
}

static double next_unit(fakes3_faults_t *f)
{
    uint64_t x = f->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f->rng = x;
    return (double)(x >> 11) / 9007199254740992.0;
}

void fakes3_faults_match(fakes3_faults_t *f, const char *op, const char *key, size_t klen,
                         int64_t range_start, fakes3_fault_hit_t *hit)
{
    memset(hit, 0, sizeof(*hit));
    hit->reset_after = -1;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        fakes3_fault_rule_t *r = &f->rules[i];
        if (strcmp(r->op, "*") != 0 && strcmp(r->op, op) != 0)
            continue;
        if (r->key_prefix != NULL) {
            size_t pl = strlen(r->key_prefix);
            if (key == NULL || klen < pl || memcmp(key, r->key_prefix, pl) != 0)
                continue;
        }
        if (r->range_start >= 0 && r->range_start != range_start)
            continue;
        if (r->count >= 0 && r->fired >= r->count)
            continue;
        if (r->rate < 1.0 && next_unit(f) >= r->rate)
            continue;
        if (r->skipped < r->skip) {
            r->skipped++;
            continue;
        }
        r->fired++;
        hit->fired = 1;
        if (!hit->error)
            hit->error = r->error;
        if (hit->reset_after < 0)
            hit->reset_after = r->reset_after;
        if (!hit->latency_ms)
            hit->latency_ms = r->latency_ms;
        if (!hit->bandwidth)
            hit->bandwidth = r->bandwidth;
        hit->error_body |= r->error_body;
        hit->flip_byte |= r->flip_byte;
        hit->wrong_etag |= r->wrong_etag;
        hit->no_etag |= r->no_etag;
        hit->wrong_crc32c |= r->wrong_crc32c;
        if (!hit->upload_id_len)
            hit->upload_id_len = r->upload_id_len;
        hit->sse_kms |= r->sse_kms;
        if (!hit->list_omit[0] && r->list_omit[0])
            memcpy(hit->list_omit, r->list_omit, sizeof(hit->list_omit));
        if (!hit->list_repeat)
            hit->list_repeat = r->list_repeat;
    }
    pthread_mutex_unlock(&f->mu);
}

/* ---- stats ------------------------------------------------------------------------------- */

int fakes3_stats_dump(fakes3_stats_t *st, ferry_buf_t *out)
{
    int rc = ferry_buf_adds(out, "{");
    int first = 1;
    for (int i = 0; i < FAKES3_OP_COUNT && rc == FERRY_OK; i++) {
        fakes3_opstat_t *o = &st->op[i];
        unsigned long long c = atomic_load(&o->count);
        if (c == 0 && atomic_load(&o->faults) == 0)
            continue;
        rc = ferry_buf_addf(out,
                            "%s\"%s\":{\"count\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                            "\"errors\":%llu,\"faults\":%llu}",
                            first ? "" : ",", op_names[i], c,
                            (unsigned long long)atomic_load(&o->bytes_in),
                            (unsigned long long)atomic_load(&o->bytes_out),
                            (unsigned long long)atomic_load(&o->errors),
                            (unsigned long long)atomic_load(&o->faults));
        first = 0;
    }
    const fakes3_chunkstat_t *a = &st->aws_chunked;
    if (rc == FERRY_OK && atomic_load(&a->count) != 0)
        rc = ferry_buf_addf(out,
                            "%s\"aws_chunked\":{\"count\":%llu,\"errors\":%llu,"
                            "\"bytes_decoded\":%llu}",
                            first ? "" : ",", (unsigned long long)atomic_load(&a->count),
                            (unsigned long long)atomic_load(&a->errors),
                            (unsigned long long)atomic_load(&a->bytes_decoded));
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(out, "}");
    return rc;
}

void fakes3_stats_reset(fakes3_stats_t *st)
{
    for (int i = 0; i < FAKES3_OP_COUNT; i++) {
        atomic_store(&st->op[i].count, 0);
        atomic_store(&st->op[i].bytes_in, 0);
        atomic_store(&st->op[i].bytes_out, 0);
        atomic_store(&st->op[i].errors, 0);
        atomic_store(&st->op[i].faults, 0);
    }
    atomic_store(&st->aws_chunked.count, 0);
    atomic_store(&st->aws_chunked.errors, 0);
    atomic_store(&st->aws_chunked.bytes_decoded, 0);
}
