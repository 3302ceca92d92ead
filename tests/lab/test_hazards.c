/* What TIME_WAIT protects against, on this kernel: the table `twkit
 * hazards` runs (src/lab/hazards.c), each hazard with its protection and
 * without it, asserting what Linux 6.18 does. When one fails, the message
 * is what this kernel did instead: a kernel that behaves differently is
 * information, not noise (docs/HAZARDS.md says what was measured). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/hazards.h"
#include "need_root.h"

TestSuite(hazards, .timeout = 60);

static double val(const struct tw_hazard_run *run, const char *key)
{
    for (int i = 0; i < run->nvals; i++)
        if (!strcmp(run->vals[i].key, key))
            return run->vals[i].v;
    cr_assert_fail("%s: no value %s", run->label, key);
    return 0;
}

/* Namespaces of pid's labs still in /run/netns. */
static int lab_namespaces(pid_t pid)
{
    char prefix[32];
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    int n = 0;

    snprintf(prefix, sizeof(prefix), "twlab-%d-", (int)pid);
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d)
        closedir(d);
    return n;
}

static void run(const char *name, struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    const struct tw_hazard *h = tw_hazard_find(name);

    NEED_ROOT();
    cr_assert_not_null(h, "no hazard %s", name);
    tw_hazard_run(h, r, o);
    cr_assert_str_empty(r->err, "%s: not measured: %s", h->title, r->err);
    for (int w = 0; w < TW_HZ_NRUNS; w++) {
        const struct tw_hazard_run *x = &r->run[w];
        if (w == TW_HZ_MIDDLE && !x->ran)
            continue; /* only some hazards have one; their Test asserts it ran */
        cr_assert(x->ran, "%s: the %s run did not run", h->title, tw_hazard_run_name(w));
        cr_expect(x->as_expected, "%s [%s]: this kernel did something else: %s (counters: %s)",
                  h->title, x->label, x->text, x->counters);
    }
    cr_expect_eq(lab_namespaces(getpid()), 0, "%s left a lab namespace behind", name);
}

Test(hazards, lost_ack_challenge_ack_without_time_wait_eaddrnotavail_with_it)
{
    struct tw_hazard_result r;

    run("lost-ack", &r, NULL);
    cr_expect_eq(val(&r.run[0], "connect_error"), EADDRNOTAVAIL, "with TIME_WAIT: %s",
                 r.run[0].text);
    cr_expect_geq(val(&r.run[0], "server_fins"), 2, "the FIN retransmission: %s", r.run[0].text);
    cr_expect_geq(val(&r.run[1], "challenge_acks"), 1, "without TIME_WAIT: %s", r.run[1].text);
}

Test(hazards, duplicate_in_window_accepted_without_timestamps_rejected_by_paws_with_them)
{
    struct tw_hazard_result r;

    run("duplicate", &r, NULL);
    cr_expect_eq(val(&r.run[1], "crafted_accepted"), 100,
                 "timestamps off: the in-window old segment should be accepted: %s", r.run[1].text);
    cr_expect_eq(val(&r.run[1], "corrupted"), 1,
                 "timestamps off: the server should read conn 1's bytes in conn 2: %s",
                 r.run[1].text);
    cr_expect_eq(val(&r.run[0], "crafted_accepted"), 0,
                 "timestamps on: PAWS should reject the old segment: %s", r.run[0].text);
    cr_expect_eq(val(&r.run[0], "corrupted"), 0, "timestamps on: %s", r.run[0].text);
    cr_expect_geq(val(&r.run[0], "paws_estab"), 1, "timestamps on: PAWSEstab: %s",
                  r.run[0].text);
    /* why the exact replay missed: Linux's ISN clock moved conn 2's
     * sequence space on (64 ns ticks, 15.6 M/s) */
    cr_expect(val(&r.run[1], "isn_clock_per_s") > 10e6 && val(&r.run[1], "isn_clock_per_s") < 20e6,
              "the ISN clock ran at %.0f/s, not about 15.6 M/s", val(&r.run[1], "isn_clock_per_s"));
}

/* The middle case: TIME_WAIT in place, tcp_tw_reuse=1 takes the 4-tuple
 * out of it early, and with timestamps PAWS still rejects the old
 * segment: why tcp_tw_reuse is safe only with them. */
Test(hazards, duplicate_tw_reuse_takes_time_wait_and_paws_rejects_the_old_segment)
{
    const struct tw_hazard_run *m;
    struct tw_hazard_result r;

    run("duplicate", &r, NULL);
    m = &r.run[TW_HZ_MIDDLE];
    cr_assert(m->ran, "the duplicate hazard has a middle run (tcp_tw_reuse=1)");
    cr_expect_eq(val(m, "time_wait_before"), 1, "the client's TIME_WAIT: %s", m->text);
    cr_expect_eq(val(m, "early_connect_error"), EADDRNOTAVAIL,
                 "within tcp_tw_reuse_delay connect() should be refused: %s", m->text);
    cr_expect_eq(val(m, "tw_recycled"), 1, "the 4-tuple taken out of TIME_WAIT: %s", m->text);
    /* tcp_twsk_unique: write_seq = the TIME_WAIT's snd_nxt + 65535 + 2 */
    cr_expect_eq(val(m, "isn_after_snd_nxt"), 65537, "conn 2's ISN: %s", m->text);
    cr_expect_geq(val(m, "paws_estab"), 1, "PAWS should reject the old segment: %s", m->text);
    cr_expect_eq(val(m, "crafted_accepted"), 0, "%s", m->text);
    cr_expect_eq(val(m, "natural_accepted"), 0, "%s", m->text);
    cr_expect_eq(val(m, "corrupted"), 0, "no corruption: %s", m->text);
    cr_expect_eq(val(m, "server_read"), val(m, "client_sent"), "the server reads what was sent: %s",
                 m->text);
}

Test(hazards, assassination_rst_kills_time_wait_unless_rfc1337)
{
    struct tw_hazard_result r;

    run("assassination", &r, NULL);
    cr_expect_eq(val(&r.run[0], "time_wait_after_rst"), 1, "tcp_rfc1337=1: %s", r.run[0].text);
    cr_expect_eq(val(&r.run[1], "time_wait_after_rst"), 0, "tcp_rfc1337=0: %s", r.run[1].text);
}

Test(hazards, overflow_no_time_wait_past_tcp_max_tw_buckets)
{
    struct tw_hazard_result r;

    run("overflow", &r, NULL);
    cr_expect_eq(val(&r.run[1], "client_time_wait"), 0, "%s", r.run[1].text);
    cr_expect_eq(val(&r.run[1], "tcp_time_wait_overflow"), 50, "%s", r.run[1].text);
}

Test(hazards, abort_with_unsent_data_loses_it_and_resets_the_peer)
{
    struct tw_hazard_result r;

    run("abort", &r, NULL);
    cr_expect_eq(val(&r.run[0], "server_read"), val(&r.run[0], "bytes_written"), "close(): %s",
                 r.run[0].text);
    cr_expect_lt(val(&r.run[1], "server_read"), val(&r.run[1], "bytes_written"),
                 "SO_LINGER {1,0}: %s", r.run[1].text);
    cr_expect_eq(val(&r.run[1], "server_read_error"), ECONNRESET, "SO_LINGER {1,0}: %s",
                 r.run[1].text);
}

Test(hazards, lost_rst_holds_the_client_port_until_a_fresh_rst)
{
    struct tw_hazard_result r;

    run("lost-rst", &r, NULL);
    cr_expect_eq(val(&r.run[0], "reconnect_error"), 0, "RST delivered: %s", r.run[0].text);
    cr_expect_eq(val(&r.run[1], "reconnect_error"), EADDRNOTAVAIL, "RST lost: %s", r.run[1].text);
    cr_expect_eq(val(&r.run[1], "goodbye_server_after_send_error"), ECONNRESET, "RST lost: %s",
                 r.run[1].text);
}

Test(hazards, every_hazard_has_a_test)
{
    cr_assert_eq(tw_nhazards, 6, "a hazard was added: give it a Test above");
}

/* --pcap: classic pcap files, one per run, with the run's packets. */
Test(hazards, pcap_files_per_run)
{
    char dir[] = "/tmp/twkit-hazards-XXXXXX", path[300];
    struct tw_hazard_opts o = {.pcap_dir = dir};
    struct tw_hazard_result r;
    unsigned char hdr[24];

    NEED_ROOT();
    cr_assert_not_null(mkdtemp(dir));
    run("assassination", &r, &o);
    for (int w = 0; w < 2; w++) {
        struct stat st;
        FILE *f;
        snprintf(path, sizeof(path), "%s/assassination-%s.pcap", dir, w ? "removed" : "kept");
        cr_assert_str_eq(r.run[w].pcap, path);
        cr_assert(stat(path, &st) == 0 && st.st_size > 24 + 16 * 8, "%s: too small", path);
        cr_assert_not_null(f = fopen(path, "r"));
        cr_assert_eq(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
        fclose(f);
        /* magic (µs), version 2.4, LINKTYPE_ETHERNET, in this host's order */
        uint32_t magic, link;
        uint16_t major;
        memcpy(&magic, hdr, 4);
        memcpy(&major, hdr + 4, 2);
        memcpy(&link, hdr + 20, 4);
        cr_expect(magic == 0xa1b2c3d4 && major == 2 && link == 1, "%s: not a classic pcap", path);
        unlink(path);
    }
    rmdir(dir);
}

/* SIGINT in the middle of a run: the lab's handler removes the
 * namespaces (and the nft rules and sysctls inside them). */
Test(hazards, interrupted_run_leaves_no_namespace)
{
    char *argv[] = {TWKIT_BIN, "hazards", NULL};
    struct timespec ms = {0, 1000000};
    int status, seen = 0;
    pid_t pid;

    NEED_ROOT();
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 5000 && !seen; i++) {
        nanosleep(&ms, NULL);
        seen = lab_namespaces(pid);
    }
    nanosleep(&ms, NULL);
    kill(pid, SIGINT);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(seen, "no lab namespace of twkit hazards appeared within 5 s");
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
              "twkit hazards should die of the SIGINT (status %#x)", status);
    cr_expect_eq(lab_namespaces(pid), 0, "the interrupted run left its namespaces behind");
}
