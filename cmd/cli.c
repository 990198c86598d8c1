/* ferry CLI: options and connection shared by every command. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/redisd.h"
#include "ferry/text.h"

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("ferry: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

void cli_put_escaped(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = ferry_utf8_seq_len(p + i, n - i);
        if (l && !ferry_utf8_is_control(p + i, l) && p[i] != '\\') {
            fwrite(p + i, 1, l, f);
            i += l;
        } else if (p[i] == '\\') {
            fputs("\\\\", f);
            i++;
        } else {
            /* an invalid byte, or every byte of a control character */
            size_t m = l ? l : 1;
            for (size_t k = 0; k < m; k++)
                fprintf(f, "\\x%02x", p[i + k]);
            i += m;
        }
    }
}

void cli_puts_escaped(FILE *f, const char *s)
{
    if (s == NULL)
        s = "-";
    cli_put_escaped(f, s, strlen(s));
}

int cli_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = ferry_utf8_seq_len(p + i, n - i);
        if (l == 0 || ferry_utf8_is_control(p + i, l))
            return 0;
        i += l;
    }
    return 1;
}

void cli_put_shell_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

int cli_global_opt(cli_t *g, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char **slot = NULL;
    if (strcmp(a, "--json") == 0) {
        g->json = 1;
        (*i)++;
        return 1;
    }
    if (strcmp(a, "--redis") == 0)
        slot = &g->redis_url;
    else if (strcmp(a, "--state-dir") == 0)
        slot = &g->state_dir;
    else if (strncmp(a, "--redis=", 8) == 0) {
        g->redis_url = a + 8;
        (*i)++;
        return 1;
    } else if (strncmp(a, "--state-dir=", 12) == 0) {
        g->state_dir = a + 12;
        (*i)++;
        return 1;
    } else
        return 0;
    if (*i + 1 >= argc) {
        cli_error(CLI_USAGE, "%s needs a value", a);
        return -1;
    }
    *slot = argv[*i + 1];
    *i += 2;
    return 1;
}

ferry_redis_t *cli_connect(cli_t *g)
{
    const char *url = g->redis_url;
    char priv[1200];
    ferry_error_t err;
    ferry_error_clear(&err);
    if (url == NULL || *url == '\0')
        url = getenv("FERRY_REDIS_URL");
    if (url == NULL || *url == '\0') {
        char dir[1024];
        if (ferry_redisd_state_dir(g->state_dir, dir, sizeof(dir)) != FERRY_OK) {
            cli_error(CLI_FAIL, "no state dir: set HOME, FERRY_STATE_DIR or --state-dir");
            return NULL;
        }
        if (ferry_redisd_ensure(dir, priv, sizeof(priv), NULL, &err) != FERRY_OK) {
            cli_error(CLI_FAIL, "%s", err.msg);
            return NULL;
        }
        url = priv;
    }
    ferry_redis_opts_t o = {.retry_ms = 3000};
    ferry_redis_t *r = NULL;
    if (ferry_redis_connect(url, &o, &r, &err) != FERRY_OK) {
        cli_error(CLI_FAIL, "%s", err.msg);
        return NULL;
    }
    return r;
}

int cli_redis_error(ferry_redis_t *r)
{
    const ferry_error_t *e = ferry_redis_error(r);
    int code = e->code;
    cli_error(0, "%s", e->msg[0] ? e->msg : ferry_strerror(code));
    if (code == FERRY_EINVAL)
        return CLI_USAGE;
    if (code == FERRY_ENOTFOUND)
        return CLI_UNKNOWN;
    return CLI_FAIL;
}

int cmd_not_yet(cli_t *g, int argc, char **argv)
{
    (void)g;
    (void)argc;
    return cli_error(CLI_USAGE, "%s: not implemented yet", argv[0]);
}

int cmd_down(cli_t *g, int argc, char **argv)
{
    for (int i = 1; i < argc;) {
        int r = cli_global_opt(g, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r == 0)
            return cli_error(CLI_USAGE, "down: unknown argument %s", argv[i]);
    }
    char dir[1024];
    if (ferry_redisd_state_dir(g->state_dir, dir, sizeof(dir)) != FERRY_OK)
        return cli_error(CLI_FAIL, "no state dir: set HOME, FERRY_STATE_DIR or --state-dir");
    ferry_error_t err;
    int was = 0;
    if (ferry_redisd_stop(dir, &was, &err) != FERRY_OK)
        return cli_error(CLI_FAIL, "%s", err.msg);
    printf(was ? "stopped the private redis-server in %s\n"
               : "no private redis-server running in %s\n",
           dir);
    return CLI_OK;
}
