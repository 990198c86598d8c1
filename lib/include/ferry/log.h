/* ferry — structured logs: one line per event, logfmt, never a secret.
 *
 *   ts=2026-11-22T02:50:01.123Z level=info event=copy.done task=t1 key="a b.jpg" bytes=12
 *
 * Fields are given as NULL-terminated pairs of strings. Values are quoted and escaped when
 * they need it (spaces, quotes, control bytes, non-ASCII stays as UTF-8 bytes). A field whose
 * name contains "secret", "token", "password", "authorization", "signature" or "credential"
 * is written as "[redacted]" whatever the caller passes, so a mistake cannot leak a key.
 *
 * The sink is process-wide configuration set once at start-up (like curl_global_init), before
 * threads start; logging itself is thread-safe (one write(2) per line).
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FERRY_LOG_DEBUG = 0,
    FERRY_LOG_INFO = 1,
    FERRY_LOG_WARN = 2,
    FERRY_LOG_ERROR = 3,
    FERRY_LOG_OFF = 4
} ferry_log_level_t;

/* Set the minimum level and the file descriptor (default: INFO, 2). Call before threads. */
void ferry_log_setup(ferry_log_level_t min, int fd);

/* The line format: text (logfmt, above; the default) or JSON, one object a line:
 *
 *   {"ts":"2026-11-22T02:50:01.123Z","level":"info","event":"copy.done","task":"t1","key":"a b"}
 *
 * Every value is a JSON string. Control characters (C1 ones too) are \u escapes; a byte that is
 * not valid UTF-8 is written as the four characters \xHH (JSON cannot carry it). A line that
 * would pass 8 KiB keeps ts, level and event and gains "cut". Call before threads. */
typedef enum { FERRY_LOG_TEXT = 0, FERRY_LOG_JSON = 1 } ferry_log_format_t;
void ferry_log_set_format(ferry_log_format_t f);

/* Parse "text|json"; FERRY_OK or FERRY_EINVAL. */
int ferry_log_format_parse(const char *s, ferry_log_format_t *out);

/* Parse "debug|info|warn|error|off"; FERRY_OK or FERRY_EINVAL. */
int ferry_log_level_parse(const char *s, ferry_log_level_t *out);

/* Write one line: ferry_log(FERRY_LOG_INFO, "copy.done", "task", t, "key", k, NULL).
 * A NULL value is written as an empty string. Lines longer than 8 KiB are cut with "…". The
 * list ends with a null pointer (the compiler checks it: sentinel). */
void ferry_log(ferry_log_level_t level, const char *event, ...) __attribute__((sentinel));

/* True when a line at this level would be written (to skip costly formatting). */
int ferry_log_enabled(ferry_log_level_t level);

#ifdef __cplusplus
}
#endif
#endif
