/* The server's counters are written by its loop's thread and read by
 * others while it runs (twkit serve's /metrics). Built with
 * ThreadSanitizer (tests/CMakeLists.txt): a plain write on one side and a
 * load on the other is a data race, and TSan's report fails the test
 * (exit 66). No Criterion: its runner forks, which TSan dislikes.
 *
 * One server thread (tw_server_group, HTTP), a client thread doing
 * requests over loopback (keep-alive and one connection each), and this
 * thread reading every counter with tw_server_stats_load meanwhile; at the
 * end the counts must add up. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "twkit/error.h"
#include "twkit/server.h"

#define CONNS 200
#define PER_CONN 5

static tw_addr at;
static int client_done;

static void die(const char *what, int err)
{
    fprintf(stderr, "race_stats: %s: %s\n", what, tw_strerror(err));
    exit(1);
}

/* PER_CONN pipelined requests on one connection, then our FIN (a
 * half-close): the server answers them all, then closes second. Read to
 * EOF. */
static void one_conn(void)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[4096];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || connect(fd, &at.u.sa, at.len) < 0)
        die("connect", -errno);
    for (int i = 0; i < PER_CONN; i++)
        if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
            die("send", -errno);
    shutdown(fd, SHUT_WR);
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) != 0;)
        if (n < 0)
            die("recv", -errno);
    close(fd);
}

static void *client(void *arg)
{
    (void)arg;
    for (int i = 0; i < CONNS; i++)
        one_conn();
    __atomic_store_n(&client_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

int main(void)
{
    struct tw_server_group_opts o = {.threads = 1};
    struct tw_server_stats st;
    tw_server_group *g;
    tw_server *s;
    pthread_t t;
    unsigned long reads = 0;
    int err;

    o.server.proto = TW_PROTO_HTTP;
    if ((err = tw_addr_parse(&o.server.listen, "127.0.0.1:0", 0)) < 0)
        die("address", err);
    if ((err = tw_server_group_new(&o, &g)) < 0)
        die("server group", err);
    s = tw_server_group_server(g, 0);
    if ((err = tw_server_local(s, &at)) < 0)
        die("local address", err);
    if ((err = tw_server_group_start(g)) < 0)
        die("start", err);
    if ((err = pthread_create(&t, NULL, client, NULL)) != 0)
        die("client thread", -err);
    while (!__atomic_load_n(&client_done, __ATOMIC_ACQUIRE)) {
        tw_server_stats_load(s, &st);
        reads++;
        usleep(100);
    }
    pthread_join(t, NULL);
    if ((err = tw_server_group_shutdown(g)) < 0)
        die("shutdown", err);
    tw_server_group_join(g);
    tw_server_stats_load(s, &st);
    tw_server_group_free(g);
    printf("race_stats: %lu reads while %llu requests on %llu connections\n", reads,
           (unsigned long long)st.requests, (unsigned long long)st.accepted);
    if (st.requests != CONNS * PER_CONN || st.accepted != CONNS || st.closed_by_peer != CONNS ||
        st.active || reads < 10) {
        fprintf(stderr, "race_stats: counts do not add up (requests %llu, accepted %llu, "
                "closed by the client %llu, active %llu, reads %lu)\n",
                (unsigned long long)st.requests, (unsigned long long)st.accepted,
                (unsigned long long)st.closed_by_peer, (unsigned long long)st.active, reads);
        return 1;
    }
    return 0;
}
