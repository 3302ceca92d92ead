/* The lab: namespaces, veth, sysctls, cleanup.
 *
 * Namespaces are made with iproute2 (`ip netns add`, a veth created with
 * each end directly inside its namespace, so interface names never clash
 * with the host's). They are removed the way `ip netns del` does it,
 * umount2(MNT_DETACH) + unlink of /run/netns/NAME, which is async-signal-
 * safe, so the SIGINT/SIGTERM handler can clean up too. The kernel frees a
 * namespace, its veth end and every socket in it (TIME_WAIT included) once
 * nothing refers to it any more.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/lab.h"

#define NETNS_DIR "/run/netns"
#define PREFIX "twlab-"
#define MAX_LIVE 32

/* Namespaces this process made and has not removed yet. Plain arrays and
 * flags: the signal handler reads them. */
static char live[MAX_LIVE][48];
static volatile sig_atomic_t live_used[MAX_LIVE];
static unsigned lab_seq;
static pid_t live_owner; /* forked children must not remove our namespaces */

static void ns_remove(const char *name)
{
    char path[300];

    snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
    umount2(path, MNT_DETACH);
    unlink(path);
}

static void remove_all_live(void)
{
    if (getpid() != live_owner)
        return;
    for (int i = 0; i < MAX_LIVE; i++)
        if (live_used[i]) {
            ns_remove(live[i]);
            live_used[i] = 0;
        }
}

static void on_fatal_signal(int sig)
{
    remove_all_live();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_cleanup(void)
{
    static bool done;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

    if (done)
        return;
    done = true;
    live_owner = getpid();
    atexit(remove_all_live);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;
        /* Only where nobody else handles it: the application's own
         * handler wins, and should call tw_lab_destroy. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            signal(sigs[i], on_fatal_signal);
    }
}

static void live_add(const char *name)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (!live_used[i]) {
            snprintf(live[i], sizeof(live[i]), "%s", name);
            live_used[i] = 1;
            return;
        }
}

static void live_del(const char *name)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live_used[i] && strcmp(live[i], name) == 0)
            live_used[i] = 0;
}

static int fail(struct tw_lab *lab, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(lab->err, sizeof(lab->err), fmt, ap);
    va_end(ap);
    return err;
}

/* Run `ip args...` with `input` on its standard input (for -batch). */
static int run_ip(struct tw_lab *lab, const char *input, const char *const argv[])
{
    int in[2], out[2], status;
    char msg[200] = "";
    ssize_t n;
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) < 0)
        return fail(lab, -errno, "pipe: %s", strerror(errno));
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return fail(lab, -errno, "pipe: %s", strerror(errno));
    }
    pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execvp("ip", (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* A failed write shows up as ip's own failure: no check needed here. */
    if (pid > 0 && input && write(in[1], input, strlen(input)) < 0)
        input = NULL;
    close(in[1]);
    n = pid > 0 ? read(out[0], msg, sizeof(msg) - 1) : 0;
    msg[n > 0 ? n : 0] = '\0';
    msg[strcspn(msg, "\n")] = '\0';
    close(out[0]);
    if (pid < 0)
        return fail(lab, -errno, "fork: %s", strerror(errno));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return fail(lab, -ENOENT, "iproute2's `ip` command was not found "
                                  "(apt-get install iproute2)");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(lab, -EIO, "`ip %s %s` failed: %s", argv[1], argv[2] ? argv[2] : "",
                    msg[0] ? msg : "no message");
    return 0;
}

int tw_lab_reap_stale(void)
{
    DIR *d = opendir(NETNS_DIR);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        long pid;
        if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        pid = strtol(e->d_name + strlen(PREFIX), NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            ns_remove(e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

static int set_addrs(struct tw_lab *lab, int side)
{
    char script[512];
    const char *argv[] = {"ip", "-n", lab->ns[side], "-batch", "-", NULL};

    snprintf(script, sizeof(script),
             "link set lo up\n"
             "addr add 10.201.0.%d/24 dev tw0\n"
             "addr add fd00:201::%d/64 dev tw0 nodad\n"
             "link set tw0 up\n",
             side + 1, side + 1);
    return run_ip(lab, script, argv);
}

int tw_lab_create(struct tw_lab *lab)
{
    char script[512];
    const char *batch[] = {"ip", "-batch", "-", NULL};
    int err;

    if (!lab)
        return -EINVAL;
    memset(lab, 0, sizeof(*lab));
    lab->nsfd[0] = lab->nsfd[1] = lab->saved_ns = -1;
    if (geteuid() != 0)
        return fail(lab, -EPERM, "the lab needs root: it creates network namespaces "
                                 "and a veth pair (run as root)");
    install_cleanup();
    tw_lab_reap_stale();
    snprintf(lab->ns[0], sizeof(lab->ns[0]), PREFIX "%d-%u-c", (int)getpid(), lab_seq);
    snprintf(lab->ns[1], sizeof(lab->ns[1]), PREFIX "%d-%u-s", (int)getpid(), lab_seq);
    lab_seq++;
    /* Register before creating, so an interruption half-way still cleans. */
    live_add(lab->ns[0]);
    live_add(lab->ns[1]);
    snprintf(script, sizeof(script),
             "netns add %s\nnetns add %s\n"
             "link add tw0 netns %s type veth peer name tw0 netns %s\n",
             lab->ns[0], lab->ns[1], lab->ns[0], lab->ns[1]);
    if ((err = run_ip(lab, script, batch)) < 0 || (err = set_addrs(lab, 0)) < 0 ||
        (err = set_addrs(lab, 1)) < 0)
        goto undo;
    for (int i = 0; i < 2; i++) {
        char path[300];
        snprintf(path, sizeof(path), NETNS_DIR "/%s", lab->ns[i]);
        if ((lab->nsfd[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            err = fail(lab, -errno, "open %s: %s", path, strerror(errno));
            goto undo;
        }
        tw_addr_parse(&lab->addr4[i], i ? "10.201.0.2" : "10.201.0.1", 0);
        tw_addr_parse(&lab->addr6[i], i ? "fd00:201::2" : "fd00:201::1", 0);
    }
    return 0;
undo:
    tw_lab_destroy(lab);
    return err;
}

void tw_lab_destroy(struct tw_lab *lab)
{
    if (!lab)
        return;
    if (lab->saved_ns >= 0)
        tw_lab_leave(lab);
    for (int i = 0; i < 2; i++) {
        if (lab->nsfd[i] >= 0)
            close(lab->nsfd[i]);
        lab->nsfd[i] = -1;
        if (lab->ns[i][0]) {
            ns_remove(lab->ns[i]);
            live_del(lab->ns[i]);
            lab->ns[i][0] = '\0';
        }
    }
}

int tw_lab_enter(struct tw_lab *lab, enum tw_lab_side side)
{
    if (!lab || (side != TW_LAB_CLIENT && side != TW_LAB_SERVER) || lab->nsfd[side] < 0)
        return -EINVAL;
    if (lab->saved_ns >= 0)
        return -EBUSY;
    lab->saved_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (lab->saved_ns < 0)
        return -errno;
    if (setns(lab->nsfd[side], CLONE_NEWNET) < 0) {
        int err = -errno;
        close(lab->saved_ns);
        lab->saved_ns = -1;
        return err;
    }
    return 0;
}

int tw_lab_leave(struct tw_lab *lab)
{
    int err = 0;

    if (!lab || lab->saved_ns < 0)
        return -EINVAL;
    if (setns(lab->saved_ns, CLONE_NEWNET) < 0)
        err = -errno;
    close(lab->saved_ns);
    lab->saved_ns = -1;
    return err;
}

/* Run fn inside a side's namespace and come back, whether or not the
 * thread is inside the lab already. */
static int in_side(struct tw_lab *lab, enum tw_lab_side side, int (*fn)(void *), void *arg)
{
    int self, r;

    if (!lab || (side != TW_LAB_CLIENT && side != TW_LAB_SERVER) || lab->nsfd[side] < 0)
        return -EINVAL;
    if ((self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if (setns(lab->nsfd[side], CLONE_NEWNET) < 0) {
        r = -errno;
    } else {
        r = fn(arg);
        if (setns(self, CLONE_NEWNET) < 0)
            r = -errno;
    }
    close(self);
    return r;
}

struct sysctl_op {
    const char *name;
    const char *value; /* NULL: read */
    char *buf;
    size_t len;
};

static int do_sysctl(void *arg)
{
    struct sysctl_op *op = arg;
    char path[256];
    ssize_t n;
    int fd, err = 0;

    n = snprintf(path, sizeof(path), "/proc/sys/%s", op->name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 10; *p; p++)
        if (*p == '.')
            *p = '/';
    fd = open(path, (op->value ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (op->value) {
        if (write(fd, op->value, strlen(op->value)) < 0)
            err = -errno;
    } else {
        n = read(fd, op->buf, op->len - 1);
        if (n < 0)
            err = -errno;
        else {
            op->buf[n] = '\0';
            op->buf[strcspn(op->buf, "\n")] = '\0';
        }
    }
    close(fd);
    return err;
}

int tw_lab_sysctl_set(struct tw_lab *lab, enum tw_lab_side side, const char *name,
                      const char *value)
{
    struct sysctl_op op = {.name = name, .value = value};

    if (!name || !value)
        return -EINVAL;
    return in_side(lab, side, do_sysctl, &op);
}

int tw_lab_sysctl_get(struct tw_lab *lab, enum tw_lab_side side, const char *name,
                      char *buf, size_t len)
{
    struct sysctl_op op = {.name = name, .buf = buf, .len = len};

    if (!name || !buf || len < 2)
        return -EINVAL;
    return in_side(lab, side, do_sysctl, &op);
}

static int do_count(void *arg) { return tw_diag_count(arg); }

int tw_lab_count(struct tw_lab *lab, enum tw_lab_side side, struct tw_tcp_states *out)
{
    if (!out)
        return -EINVAL;
    return in_side(lab, side, do_count, out);
}

int tw_lab_count_settled(struct tw_lab *lab, enum tw_lab_side side, struct tw_tcp_states *out)
{
    struct tw_tcp_states prev;
    int err = tw_lab_count(lab, side, &prev);

    for (int i = 0; i < 50 && err == 0; i++) {
        usleep(20000);
        if ((err = tw_lab_count(lab, side, out)) == 0 && !memcmp(&prev, out, sizeof(prev)))
            return 0;
        prev = *out;
    }
    return err;
}

struct counter_op {
    const char *section, *name;
    uint64_t *val;
};

static int do_counter(void *arg)
{
    struct counter_op *op = arg;
    return tw_proc_counter(op->section, op->name, op->val);
}

int tw_lab_counter(struct tw_lab *lab, enum tw_lab_side side, const char *section,
                   const char *name, uint64_t *val)
{
    struct counter_op op = {section, name, val};
    return in_side(lab, side, do_counter, &op);
}

pid_t tw_lab_spawn(struct tw_lab *lab, enum tw_lab_side side, char *const argv[])
{
    pid_t pid;

    if (!lab || !argv || !argv[0] || (side != TW_LAB_CLIENT && side != TW_LAB_SERVER) ||
        lab->nsfd[side] < 0)
        return -EINVAL;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        if (setns(lab->nsfd[side], CLONE_NEWNET) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}
