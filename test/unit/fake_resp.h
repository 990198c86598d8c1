/* A small fake Redis for unit tests: a loopback listener and one thread that serves one client
 * at a time until fake_resp_stop. Each read is taken as whole commands (hiredis writes a
 * command in one go) and answered by the test's callback, which writes the raw RESP reply
 * into rep[cap] and returns 1 to close the connection after it (a reply cut short), else 0.
 * Header-only; the struct is the test's, zeroed before fake_resp_start. */
#ifndef FERRY_TEST_FAKE_RESP_H
#define FERRY_TEST_FAKE_RESP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

typedef struct fake_resp_s fake_resp_t;
typedef int (*fake_resp_answer_fn)(fake_resp_t *f, const char *cmds, char *rep, size_t cap);

struct fake_resp_s {
    int lfd;
    pthread_t th;
    int accepts; /* connections accepted so far */
    fake_resp_answer_fn answer;
    void *arg; /* the test's */
};

static void *fake_resp_serve(void *arg)
{
    fake_resp_t *f = arg;
    for (;;) {
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0)
            return NULL;
        f->accepts++;
        char buf[4096], rep[4096];
        ssize_t n;
        while ((n = read(c, buf, sizeof(buf) - 1)) > 0) {
            buf[n] = '\0';
            int drop = f->answer(f, buf, rep, sizeof(rep));
            if (write(c, rep, strlen(rep)) < 0 || drop)
                break;
        }
        close(c);
    }
}

/* Listen on a free loopback port and start serving; the URL to reach it into url[n]. */
static inline void fake_resp_start(fake_resp_t *f, fake_resp_answer_fn answer, void *arg, char *url,
                                   size_t n)
{
    f->answer = answer;
    f->arg = arg;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(f->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    REQUIRE(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(f->lfd, 8) == 0);
    socklen_t al = sizeof(a);
    REQUIRE(getsockname(f->lfd, (struct sockaddr *)&a, &al) == 0);
    snprintf(url, n, "redis://127.0.0.1:%d", ntohs(a.sin_port));
    REQUIRE(pthread_create(&f->th, NULL, fake_resp_serve, f) == 0);
}

static inline void fake_resp_stop(fake_resp_t *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->th, NULL);
}

#endif
