/* The floor for twkit probe's tls kind with tls_resumption (make
 * bench-probe): OpenSSL's own cost of a probe and nothing else, one
 * connection at a time — a nonblocking socket, connect, the handshake with
 * the chain and the name verified (a full one) or a session offered (a
 * resumed one), then SO_LINGER 0 and close (RST), as the prober ends. In
 * resume mode a full handshake (the first, or one whose offer was refused)
 * waits up to 100 ms for the TLS 1.3 tickets that follow it, as the prober
 * does, and later connections offer that session again; a session below
 * TLS 1.3 is offered with no newer version. No config, no results kept, no
 * event loop: what twkit's tls kind costs above this is its own.
 *
 *   twkit-bench-bare-tls IPV4:PORT SERVER_NAME CA_FILE SECONDS full|resume
 *
 * Prints one JSON line: conns, resumed, failed, cpu_s (user + system),
 * us_per_conn.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* wait for what OpenSSL asked for; false on a timeout */
static bool wait_fd(int fd, int ssl_err, int ms)
{
    struct pollfd p = {.fd = fd, .events = ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};

    return poll(&p, 1, ms) == 1;
}

static void rst_close(int fd)
{
    struct linger l = {1, 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

/* the chain's expiries, as a full probe reads them */
static void read_chain(SSL *ssl)
{
    STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
    volatile int sink = 0;

    for (int i = 0; chain && i < sk_X509_num(chain); i++)
        sink += X509_get0_notAfter(sk_X509_value(chain, i)) != NULL;
    (void)sink;
}

/* One probe: 1 full, 2 resumed, 0 failed. *sess: the session to offer
 * (resume mode), replaced by a full handshake's. */
static int one(SSL_CTX *ctx, const struct sockaddr_in *sa, const char *name, bool resume,
               SSL_SESSION **sess)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc = 0, e;
    SSL *ssl = NULL;

    if (fd < 0)
        return 0;
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS)
        goto out;
    if (!wait_fd(fd, SSL_ERROR_WANT_WRITE, 1000))
        goto out;
    if (!(ssl = SSL_new(ctx)))
        goto out;
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, name);
    SSL_set1_host(ssl, name);
    if (resume && *sess && SSL_set_session(ssl, *sess) == 1) {
        int v = SSL_SESSION_get_protocol_version(*sess);
        if (v > 0 && v < TLS1_3_VERSION)
            SSL_set_max_proto_version(ssl, v);
    }
    while ((e = SSL_connect(ssl)) != 1) {
        e = SSL_get_error(ssl, e);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || !wait_fd(fd, e, 1000))
            goto out;
    }
    if (SSL_session_reused(ssl)) {
        rc = 2;
        goto out;
    }
    if (SSL_get_verify_result(ssl) != X509_V_OK)
        goto out;
    read_chain(ssl);
    rc = 1;
    if (!resume)
        goto out;
    /* TLS 1.3: the tickets come after the handshake */
    double until = now_s() + 0.1;
    SSL_SESSION *s;
    char buf[256];
    while (!((s = SSL_get1_session(ssl)) && SSL_SESSION_is_resumable(s))) {
        SSL_SESSION_free(s);
        s = NULL;
        int n = SSL_read(ssl, buf, sizeof(buf)), left_ms = (int)((until - now_s()) * 1000);
        e = SSL_get_error(ssl, n);
        if (n > 0 || e != SSL_ERROR_WANT_READ || left_ms <= 0 || !wait_fd(fd, e, left_ms))
            break;
    }
    if (s) {
        SSL_SESSION_free(*sess);
        *sess = s;
    }
out:
    if (ssl) {
        SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN); /* an RST ends it: still resumable */
        SSL_free(ssl);
    }
    ERR_clear_error();
    rst_close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    const char *colon = argc == 6 ? strrchr(argv[1], ':') : NULL;
    double secs = argc == 6 ? strtod(argv[4], NULL) : 0;
    bool resume = argc == 6 && !strcmp(argv[5], "resume");

    if (!colon || (size_t)(colon - argv[1]) >= sizeof(host) || secs <= 0 ||
        (!resume && strcmp(argv[5], "full"))) {
        fprintf(stderr, "usage: twkit-bench-bare-tls IPV4:PORT SERVER_NAME CA_FILE SECONDS "
                        "full|resume\n");
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = 0;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "twkit-bench-bare-tls: %s: not an IPv4 address\n", host);
        return 2;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1) {
        fprintf(stderr, "twkit-bench-bare-tls: %s: cannot load\n", argv[3]);
        return 1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

    /* CPU from here: the context's setup is once per run in the prober too */
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    unsigned long long conns = 0, resumed = 0, failed = 0;
    SSL_SESSION *sess = NULL;
    for (double end = now_s() + secs; now_s() < end;) {
        int rc = one(ctx, &sa, argv[2], resume, &sess);
        conns++;
        resumed += rc == 2;
        failed += rc == 0;
    }
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
                 (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                 (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    printf("{\"conns\":%llu,\"resumed\":%llu,\"failed\":%llu,\"cpu_s\":%.3f,\"us_per_conn\":%.1f}\n",
           conns, resumed, failed, cpu, conns ? cpu / (double)conns * 1e6 : 0.0);
    SSL_SESSION_free(sess);
    SSL_CTX_free(ctx);
    return failed ? 1 : 0;
}
