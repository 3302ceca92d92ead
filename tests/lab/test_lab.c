/* The lab itself: namespaces made and removed, sysctls per namespace. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/lab.h"
#include "need_root.h"

static bool ns_exists(const char *name)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof(path), "/run/netns/%s", name);
    return stat(path, &st) == 0;
}

Test(lab, create_and_destroy_leave_nothing, .timeout = 30)
{
    struct tw_lab a, b;
    char na[2][48];

    NEED_ROOT();
    cr_assert_eq(tw_lab_create(&a), 0, "%s", a.err);
    cr_assert_eq(tw_lab_create(&b), 0, "%s", b.err);
    cr_assert_str_neq(a.ns[0], b.ns[0], "two labs share a name");
    cr_assert(ns_exists(a.ns[0]) && ns_exists(a.ns[1]));
    memcpy(na, a.ns, sizeof(na));
    tw_lab_destroy(&a);
    tw_lab_destroy(&a); /* twice is fine */
    cr_assert(!ns_exists(na[0]) && !ns_exists(na[1]));
    cr_assert(ns_exists(b.ns[0]));
    tw_lab_destroy(&b);
}

Test(lab, sysctls_are_per_namespace, .timeout = 30)
{
    struct tw_lab lab;
    char c[32], s[32], host[32];
    FILE *f;

    NEED_ROOT();
    cr_assert_eq(tw_lab_create(&lab), 0, "%s", lab.err);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range",
                                   "40000 40999"), 0);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", "0"), 0);
    cr_assert_eq(tw_lab_sysctl_get(&lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", c,
                                   sizeof(c)), 0);
    cr_assert_eq(tw_lab_sysctl_get(&lab, TW_LAB_SERVER, "net.ipv4.ip_local_port_range", s,
                                   sizeof(s)), 0);
    cr_assert_str_eq(c, "40000\t40999");
    cr_assert_str_neq(s, c);
    f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    cr_assert(f && fgets(host, sizeof(host), f));
    fclose(f);
    cr_assert(strncmp(host, "40000\t40999", 11) != 0, "the host's sysctl changed");
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.no_such_knob", "1"), -ENOENT);
    tw_lab_destroy(&lab);
}

Test(lab, spawn_runs_inside_and_counts_are_per_side, .timeout = 30)
{
    struct tw_lab lab;
    struct tw_tcp_states st;
    char *argv[] = {"sh", "-c", "ip -o addr show dev tw0 | grep -q 10.201.0.2/24", NULL};
    int status;
    pid_t pid;

    NEED_ROOT();
    cr_assert_eq(tw_lab_create(&lab), 0, "%s", lab.err);
    pid = tw_lab_spawn(&lab, TW_LAB_SERVER, argv);
    cr_assert_gt(pid, 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "not in the server namespace");
    cr_assert_eq(tw_lab_count(&lab, TW_LAB_CLIENT, &st), 0);
    cr_assert_eq(st.total, 0, "a fresh namespace has sockets");
    tw_lab_destroy(&lab);
}

Test(lab, stale_labs_of_dead_processes_are_reaped, .timeout = 30)
{
    char name[64] = "";
    int status, p[2];
    pid_t pid;

    NEED_ROOT();
    cr_assert_eq(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        /* A creator that dies without cleaning up. */
        struct tw_lab lab;
        if (tw_lab_create(&lab) < 0)
            _exit(1);
        if (write(p[1], lab.ns[0], strlen(lab.ns[0])) < 0)
            _exit(1);
        _exit(0); /* no atexit, no destroy */
    }
    cr_assert_gt(pid, 0);
    close(p[1]);
    cr_assert_gt(read(p[0], name, sizeof(name) - 1), 0);
    close(p[0]);
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert(ns_exists(name), "the dead child's lab should still be there");
    cr_assert_geq(tw_lab_reap_stale(), 2);
    cr_assert(!ns_exists(name));
}

Test(lab, bad_arguments)
{
    struct tw_lab lab;
    struct tw_tcp_states st;

    memset(&lab, 0, sizeof(lab));
    lab.nsfd[0] = lab.nsfd[1] = lab.saved_ns = -1;
    cr_assert_eq(tw_lab_create(NULL), -EINVAL);
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), -EINVAL);
    cr_assert_eq(tw_lab_enter(&lab, (enum tw_lab_side)7), -EINVAL);
    cr_assert_eq(tw_lab_leave(&lab), -EINVAL);
    cr_assert_eq(tw_lab_count(&lab, TW_LAB_SERVER, &st), -EINVAL);
    cr_assert_eq(tw_lab_churn(&lab, NULL), -EINVAL);
    tw_lab_destroy(&lab);
}
