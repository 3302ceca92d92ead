/* twkit probe: GET /report (report_http.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe/gzip.h"
#include "probe/report_http.h"
#include "probe/store.h"

struct job {
    struct tp_report_srv *rs;
    tw_sconn *c;                /* NULL once the client went */
    struct tp_report_opts o;
    bool gzip;
    int status;
    char *body;
    size_t len;
    pthread_t tid;
    struct job *next;
};

struct tp_report_srv {
    char *path, *zone;
    int pipe[2];                /* a finished job's pointer, to the loop */
    tw_io io;
    struct job *jobs;           /* being built */
    unsigned njobs;
};

static const char *ctype(enum tp_report_format f)
{
    return f == TP_REPORT_JSON ? "application/json"
           : f == TP_REPORT_HTML ? "text/html; charset=utf-8"
                                 : "text/plain; charset=utf-8";
}

static void *build(void *arg)
{
    struct job *j = arg;
    char err[512] = "";
    FILE *f = open_memstream(&j->body, &j->len);
    int rc = f ? tp_report_write(&j->o, f, err, sizeof(err)) : -ENOMEM;

    if (f && fclose(f) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc < 0) { /* the body is the error's line */
        free(j->body);
        j->body = NULL;
        j->status = rc == -ENOENT ? 404 : rc == -ENOMEM ? 503 : 500;
        if (!err[0])
            snprintf(err, sizeof(err), "%s", strerror(-rc));
        j->len = (size_t)asprintf(&j->body, "%s\n", err);
        if (!j->body)
            j->len = 0;
        j->o.format = TP_REPORT_TEXT;
    }
    /* a pointer is less than PIPE_BUF: the write is whole (and a
     * blocking one, though a pipe holds 8,192 of them and there are 2) */
    while (write(j->rs->pipe[1], &j, sizeof(j)) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void finished(struct tp_report_srv *rs, struct job *j)
{
    pthread_join(j->tid, NULL);
    for (struct job **p = &rs->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    rs->njobs--;
    if (j->c) {
        if (j->status == 200)
            tp_respond_gzip_if(j->c, j->gzip, 200, ctype(j->o.format), j->body, j->len);
        else
            tw_sconn_respond(j->c, j->status, "text/plain; charset=utf-8", NULL, j->body,
                             j->len);
    }
    free(j->body);
    free(j);
}

static void on_pipe(tw_io *io, unsigned events)
{
    struct tp_report_srv *rs = io->data;
    struct job *j;

    (void)events;
    while (read(rs->pipe[0], &j, sizeof(j)) == (ssize_t)sizeof(j))
        finished(rs, j);
}

int tp_report_srv_new(tw_loop *loop, const char *path, const char *zone,
                      struct tp_report_srv **out)
{
    struct tp_report_srv *rs = calloc(1, sizeof(*rs));
    int rc;

    if (!rs)
        return -ENOMEM;
    rs->pipe[0] = rs->pipe[1] = -1;
    if (!(rs->path = strdup(path)) || (zone && !(rs->zone = strdup(zone)))) {
        tp_report_srv_free(rs);
        return -ENOMEM;
    }
    if (pipe2(rs->pipe, O_CLOEXEC) < 0 || fcntl(rs->pipe[0], F_SETFL, O_NONBLOCK) < 0) {
        rc = -errno;
        tp_report_srv_free(rs);
        return rc;
    }
    tw_io_init(&rs->io, rs->pipe[0], on_pipe, rs);
    if ((rc = tw_io_start(loop, &rs->io, TW_IO_READ)) < 0) {
        tp_report_srv_free(rs);
        return rc;
    }
    *out = rs;
    return 0;
}

void tp_report_srv_handle(struct tp_report_srv *rs, tw_sconn *c, const struct tw_http_req *req)
{
    const char *q = memchr(req->target, '?', req->target_len);
    size_t qlen = q ? req->target_len - (size_t)(q - req->target) - 1 : 0;
    struct timespec ts;
    char err[400];
    struct job *j;
    int n;

    if (rs->njobs >= TP_REPORT_JOBS) {
        tw_sconn_respond(c, 503, "text/plain; charset=utf-8", "Retry-After: 5\r\n",
                         "reports are being built already: try again later\n", 49);
        return;
    }
    if (!(j = calloc(1, sizeof(*j)))) {
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    j->o.path = rs->path;
    j->o.timezone = rs->zone;
    j->o.now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (tp_report_query(q ? q + 1 : "", qlen, j->o.now, &j->o, err, sizeof(err)) < 0) {
        n = (int)strlen(err);
        err[n++] = '\n';
        tw_sconn_respond(c, 400, "text/plain; charset=utf-8", NULL, err, (size_t)n);
        free(j);
        return;
    }
    j->rs = rs;
    j->c = c;
    j->status = 200;
    j->gzip = tp_accepts_gzip(req);
    if ((n = pthread_create(&j->tid, NULL, build, j)) != 0) {
        tw_sconn_respond(c, 503, "text/plain", NULL, "cannot start a thread\n", 22);
        free(j);
        return;
    }
    tw_sconn_defer(c);
    j->next = rs->jobs;
    rs->jobs = j;
    rs->njobs++;
}

void tp_report_srv_conn_closed(struct tp_report_srv *rs, tw_sconn *c)
{
    for (struct job *j = rs ? rs->jobs : NULL; j; j = j->next)
        if (j->c == c)
            j->c = NULL;
}

void tp_report_srv_free(struct tp_report_srv *rs)
{
    if (!rs)
        return;
    for (struct job *j = rs->jobs; j; j = j->next) /* the server is gone: no answers */
        j->c = NULL;
    while (rs->jobs) { /* each ends with a write to the pipe */
        struct job *j;
        if (read(rs->pipe[0], &j, sizeof(j)) == (ssize_t)sizeof(j))
            finished(rs, j);
        else
            usleep(10000);
    }
    if (rs->pipe[0] >= 0)
        tw_io_close(&rs->io);
    if (rs->pipe[1] >= 0)
        close(rs->pipe[1]);
    free(rs->path);
    free(rs->zone);
    free(rs);
}
