/* twkit stat --who: active closes by process and destination, from the
 * tracepoint sock:inet_sock_set_state (include/stat/who.h).
 *
 * The event's field offsets are read from its tracefs format file, never
 * assumed; the kernel filters the events down to ESTABLISHED -> FIN_WAIT1
 * (checked again here, in case the filter was refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stat/internal.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "stat/who.h"

#define EVENT "events/sock/inet_sock_set_state"
#define EXIT_EVENT "events/sched/sched_process_exit"
#define RING_PAGES 128 /* per CPU; a power of two */
#define MAX_CPUS 1024
#define TCP_ESTABLISHED 1
#define TCP_FIN_WAIT1 4
/* What is known of processes, in tables of fixed size (direct-mapped by
 * pid: a newcomer takes the slot), so a long life with pids coming and
 * going stays in bounded memory. A slot costs a re-read of /proc at worst. */
#define PID_SLOTS 4096
#define EXIT_SLOTS 8192
#define PINDEX_SLOTS (2 * TW_WHO_LIVE_MAX) /* (comm, cgroup) -> row + 1 */

/* A process as /proc named it when its first close was seen. */
struct pidinfo { int pid; char comm[16]; char cgroup[TW_WHO_CGROUP_LEN]; };

/* A process that exited: its name, for the closes of processes that were
 * gone before /proc could be asked. */
struct exited { int pid; char comm[16]; };

struct ring { int fd; void *map; bool exits; };

struct tw_who_live {
    struct tw__field f[TW__WHO_NFIELDS];
    int comm_off;                /* of sched_process_exit's comm; -1: none */
    struct ring *rings;          /* the closes' on each CPU, then the exits' */
    int n, nclose;
    size_t page, maplen;
    char dir[256];
    bool mounted;                /* tracefs still mounted by us */
    uint64_t events, lost;
    struct pidinfo *cache;       /* PID_SLOTS; pid 0: empty */
    struct exited *exits;        /* EXIT_SLOTS, NULL without the exit event */
    /* where each active close goes: rows (tw_who_record) or totals (live) */
    int (*on_close)(struct tw_who_live *l, const struct pidinfo *who, const tw_addr *dst);
    void *ctx;
    struct tw_who_proc *procs;   /* live: TW_WHO_LIVE_MAX */
    size_t nprocs;
    uint16_t *pindex;            /* live: PINDEX_SLOTS */
};

static int fail(char *err, size_t len, int r, const char *fmt, const char *a, const char *b)
{
    snprintf(err, len, fmt, a, b);
    return r;
}

/* ---- tracefs ----------------------------------------------------------- */

/* 0 when dir has the tracepoint, -ENOENT when it has not, or the error
 * that kept us from reading it (-EACCES...). */
static int has_event(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/" EVENT "/id", dir);
    return access(path, R_OK) == 0 ? 0 : errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
}

/* The tracepoint could not be read for want of rights. */
static int denied(char *err, size_t len, int r, const char *dir)
{
    return fail(err, len, r,
                "cannot read the tracepoint sock:inet_sock_set_state under %s: %s (--who needs "
                "root, or CAP_PERFMON and read access to tracefs)", dir, tw_strerror(r));
}

/* Find (or mount) tracefs; *mounted says whether to unmount it after. */
static int find_tracefs(const char *want, char *dir, size_t len, bool *mounted, char *err,
                        size_t errlen)
{
    static const char *const known[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

    *mounted = false;
    if (want) {
        int r;
        snprintf(dir, len, "%s", want);
        if ((r = has_event(dir)) == -ENOENT)
            return fail(err, errlen, -ENOENT,
                        "no tracepoint sock:inet_sock_set_state under %s (%s missing: is it "
                        "tracefs?)", dir, EVENT "/id");
        return r < 0 ? denied(err, errlen, r, dir) : 0;
    }
    for (size_t i = 0; i < 2; i++) {
        int r = has_event(known[i]);
        snprintf(dir, len, "%s", known[i]);
        if (r == 0)
            return 0;
        if (r != -ENOENT)
            return denied(err, errlen, r, dir);
    }
    snprintf(dir, len, "%s", known[0]);
    if (mount("nodev", dir, "tracefs", 0, NULL) < 0) {
        int r = -errno;
        return fail(err, errlen, r,
                    "tracefs is not mounted and mounting it on %s failed: %s (needs root and a "
                    "kernel with tracing; try: mount -t tracefs nodev /sys/kernel/tracing)",
                    dir, tw_strerror(r));
    }
    *mounted = true;
    if (has_event(dir) < 0)
        return fail(err, errlen, -ENOENT,
                    "this kernel has no tracepoint sock:inet_sock_set_state (%s/%s missing; "
                    "Linux 4.16 or later has it)", dir, EVENT "/id");
    return 0;
}

static int read_small(const char *dir, const char *event, const char *file, char *buf,
                      size_t cap)
{
    char path[512];
    int fd, n;

    snprintf(path, sizeof(path), "%s/%s/%s", dir, event, file);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    n = (int)read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    return n;
}

/* The number after key ("offset:") in line, up to its ';': false if
 * none, or not in 0..65535 (a record's size is a u16: nothing lies past). */
static bool format_number(const char *line, const char *key, int *v)
{
    const char *k = strstr(line, key);
    char *end;
    long n;

    if (!k || k[strlen(key)] < '0' || k[strlen(key)] > '9')
        return false;
    errno = 0;
    n = strtol(k + strlen(key), &end, 10);
    if (errno || *end != ';' || n > 65535)
        return false;
    *v = (int)n;
    return true;
}

/* "\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;" -> offsets by name,
 * each from its own line, and only fields that fit in a record. */
int tw__who_parse_format(const char *fmt, struct tw__field *f, int nf)
{
    for (const char *line = fmt; *line;) {
        size_t len = strcspn(line, "\n");
        char buf[512];
        const char *p, *semi, *name;
        int off, size;

        if (len < sizeof(buf)) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            if ((p = strstr(buf, "field:")) && (semi = strchr(p, ';')) &&
                format_number(semi, "offset:", &off) && format_number(semi, "size:", &size) &&
                size > 0 && off <= 65535 - size) {
                for (name = semi; name > p + 6 && name[-1] != ' '; name--)
                    ;
                size_t nlen = strcspn(name, "[;");
                for (int i = 0; i < nf; i++)
                    if (strlen(f[i].name) == nlen && !strncmp(name, f[i].name, nlen)) {
                        f[i].off = off;
                        f[i].size = size;
                    }
            }
        }
        line += len + (line[len] == '\n');
    }
    for (int i = 0; i < nf; i++)
        if (f[i].off < 0)
            return -ENOENT;
    return 0;
}

/* ---- who a pid is ------------------------------------------------------ */

/* A small /proc file, NUL-terminated: its length, or -1. */
static int read_proc(int pid, const char *file, char *buf, size_t cap)
{
    char path[64];
    int fd, n = -1;

    snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        n = (int)read(fd, buf, cap - 1);
        close(fd);
    }
    if (n < 0)
        return -1;
    buf[n] = 0;
    return n;
}

void tw__who_cgroup_of(const char *text, char *out, size_t cap)
{
    const char *p = text;

    while (p && strncmp(p, "0::", 3) != 0)
        p = (p = strchr(p, '\n')) ? p + 1 : NULL;
    if (!p) {
        snprintf(out, cap, "-");
        return;
    }
    p += 3;
    snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
}

/* comm and cgroup from /proc: false if the process is gone. */
static bool from_proc(int pid, struct pidinfo *pi)
{
    char buf[4096];

    if (pid <= 0 || read_proc(pid, "comm", pi->comm, sizeof(pi->comm)) <= 0)
        return false;
    pi->comm[strcspn(pi->comm, "\n")] = 0;
    if (read_proc(pid, "cgroup", buf, sizeof(buf)) <= 0)
        return false;
    tw__who_cgroup_of(buf, pi->cgroup, sizeof(pi->cgroup));
    pi->pid = pid;
    return true;
}

/* Who pid is: asked of /proc once and kept; a process already gone gets
 * its exit's name (or "?") and cgroup "?", never kept, as its pid will be
 * someone else's. */
static const struct pidinfo *who_is(struct tw_who_live *l, int pid, struct pidinfo *tmp)
{
    struct pidinfo *c = &l->cache[(unsigned)pid % PID_SLOTS];
    const struct exited *e = l->exits ? &l->exits[(unsigned)pid % EXIT_SLOTS] : NULL;

    if (pid > 0 && c->pid == pid)
        return c;
    if (from_proc(pid, tmp)) {
        *c = *tmp;
        return c;
    }
    tmp->pid = pid;
    snprintf(tmp->comm, sizeof(tmp->comm), "%s", e && e->pid == pid ? e->comm : "?");
    snprintf(tmp->cgroup, sizeof(tmp->cgroup), "?");
    return tmp;
}

/* ---- rows per pid and destination (tw_who_record) ---------------------- */

struct rec {
    struct tw_who *w;
    uint32_t *index; /* open addressing: row + 1, 0 empty */
    size_t index_cap;
};

static uint32_t hash_key(int pid, const tw_addr *a)
{
    uint32_t h = 2166136261u ^ (uint32_t)pid;
    const uint8_t *p = (const uint8_t *)&a->u;

    for (socklen_t i = 0; i < a->len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int grow_index(struct rec *r)
{
    size_t cap = r->index_cap ? r->index_cap * 2 : 256;
    uint32_t *ix = calloc(cap, sizeof(*ix));

    if (!ix)
        return -ENOMEM;
    for (size_t i = 0; i < r->w->nrows; i++) {
        size_t k = hash_key(r->w->rows[i].pid, &r->w->rows[i].dst) & (cap - 1);
        while (ix[k])
            k = (k + 1) & (cap - 1);
        ix[k] = (uint32_t)i + 1;
    }
    free(r->index);
    r->index = ix;
    r->index_cap = cap;
    return 0;
}

static int record_close(struct tw_who_live *l, const struct pidinfo *who, const tw_addr *dst)
{
    struct rec *r = l->ctx;
    struct tw_who *w = r->w;
    size_t k;

    if (w->nrows * 2 >= r->index_cap && grow_index(r) < 0)
        return -ENOMEM;
    for (k = hash_key(who->pid, dst) & (r->index_cap - 1); r->index[k];
         k = (k + 1) & (r->index_cap - 1)) {
        struct tw_who_row *row = &w->rows[r->index[k] - 1];
        if (row->pid == who->pid && tw_addr_equal(&row->dst, dst)) {
            row->active_closes++;
            return 0;
        }
    }
    if (w->nrows == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct tw_who_row *rows = realloc(w->rows, cap * sizeof(*rows));
        if (!rows)
            return -ENOMEM;
        w->rows = rows;
        w->cap = cap;
    }
    struct tw_who_row *row = &w->rows[w->nrows];
    *row = (struct tw_who_row){.pid = who->pid, .dst = *dst, .active_closes = 1};
    memcpy(row->comm, who->comm, sizeof(row->comm));
    memcpy(row->cgroup, who->cgroup, sizeof(row->cgroup));
    r->index[k] = (uint32_t)++w->nrows;
    return 0;
}

/* ---- totals per (comm, cgroup) (live) ---------------------------------- */

static uint32_t hash_str2(const char *a, const char *b)
{
    uint32_t h = 2166136261u;

    for (; *a; a++)
        h = (h ^ (uint8_t)*a) * 16777619u;
    h = (h ^ 0xff) * 16777619u; /* ("ab", "c") is not ("a", "bc") */
    for (; *b; b++)
        h = (h ^ (uint8_t)*b) * 16777619u;
    return h;
}

/* The row for (comm, cgroup); once TW_WHO_LIVE_MAX - 1 are taken, every
 * newcomer shares the last: "other". */
static struct tw_who_proc *proc_row(struct tw_who_live *l, const char *comm, const char *cg)
{
    size_t k = hash_str2(comm, cg) & (PINDEX_SLOTS - 1);
    struct tw_who_proc *p;

    for (; l->pindex[k]; k = (k + 1) & (PINDEX_SLOTS - 1)) {
        p = &l->procs[l->pindex[k] - 1];
        if (!strcmp(p->comm, comm) && !strcmp(p->cgroup, cg))
            return p;
    }
    if (l->nprocs == TW_WHO_LIVE_MAX)
        return &l->procs[TW_WHO_LIVE_MAX - 1];
    if (l->nprocs == TW_WHO_LIVE_MAX - 1 && (strcmp(comm, "other") || strcmp(cg, "other")))
        return proc_row(l, "other", "other");
    p = &l->procs[l->nprocs];
    snprintf(p->comm, sizeof(p->comm), "%s", comm);
    snprintf(p->cgroup, sizeof(p->cgroup), "%s", cg);
    p->active_closes = 0;
    l->pindex[k] = (uint16_t)++l->nprocs;
    return p;
}

static int live_close(struct tw_who_live *l, const struct pidinfo *who, const tw_addr *dst)
{
    (void)dst;
    proc_row(l, who->comm, who->cgroup)->active_closes++;
    return 0;
}

/* ---- the records ------------------------------------------------------- */

/* A field of the record as a number (sizes 1, 2 and 4; memcpy: the record
 * sits wherever the ring put it). */
static uint32_t field_u(const uint8_t *raw, const struct tw__field *f)
{
    uint16_t v16;
    uint32_t v32;

    if (f->size == 1)
        return raw[f->off];
    if (f->size == 2) {
        memcpy(&v16, raw + f->off, 2);
        return v16;
    }
    memcpy(&v32, raw + f->off, 4);
    return v32;
}

/* Whether every field fits in rawlen bytes and is of a size it is read
 * with: numbers of 1, 2 or 4 bytes, the addresses 4 and 16 bytes. */
static bool fields_fit(const struct tw__field *f, uint32_t rawlen)
{
    for (int i = 0; i < TW__WHO_NFIELDS; i++) {
        int want = i == TW__WHO_DADDR ? 4 : i == TW__WHO_DADDR6 ? 16 : 0;
        if (f[i].off < 0 || f[i].size <= 0 || (uint32_t)f[i].off + (uint32_t)f[i].size > rawlen)
            return false;
        if (want ? f[i].size != want : f[i].size != 1 && f[i].size != 2 && f[i].size != 4)
            return false;
    }
    return true;
}

int tw__who_close_dst(const struct tw__field *f, const uint8_t *raw, uint32_t rawlen,
                      tw_addr *dst)
{
    memset(dst, 0, sizeof(*dst));
    if (!fields_fit(f, rawlen))
        return 0;
    if (field_u(raw, &f[TW__WHO_OLD]) != TCP_ESTABLISHED ||
        field_u(raw, &f[TW__WHO_NEW]) != TCP_FIN_WAIT1)
        return 0;
    /* the ports are stored in host order by the tracepoint */
    uint16_t dport = (uint16_t)field_u(raw, &f[TW__WHO_DPORT]);
    uint32_t family = field_u(raw, &f[TW__WHO_FAMILY]);
    if (family != AF_INET && family != AF_INET6)
        return 0;
    if (family == AF_INET6) {
        dst->len = sizeof(dst->u.in6);
        dst->u.in6.sin6_family = AF_INET6;
        memcpy(&dst->u.in6.sin6_addr, raw + f[TW__WHO_DADDR6].off, 16);
    } else {
        dst->len = sizeof(dst->u.in);
        dst->u.in.sin_family = AF_INET;
        memcpy(&dst->u.in.sin_addr, raw + f[TW__WHO_DADDR].off, 4);
    }
    tw_addr_set_port(dst, dport);
    return 1;
}

/* A process leader's exit: remember its name, forget what /proc said (its
 * pid will be someone else's). */
static void on_exit_sample(struct tw_who_live *l, uint32_t pid, uint32_t tid,
                           const uint8_t *raw, uint32_t rawlen)
{
    struct pidinfo *c = &l->cache[pid % PID_SLOTS];

    if (pid != tid || !l->exits || rawlen < (uint32_t)l->comm_off + 16)
        return;
    if (c->pid == (int)pid)
        c->pid = 0;
    struct exited *e = &l->exits[pid % EXIT_SLOTS];
    e->pid = (int)pid;
    memcpy(e->comm, raw + l->comm_off, 15);
    e->comm[15] = 0;
}

/* One sample: u32 pid, tid; u32 size; raw tracepoint record. */
static int on_sample(struct tw_who_live *l, bool exits, const uint8_t *p, size_t len)
{
    uint32_t pid, tid, rawlen;
    const uint8_t *raw;
    struct pidinfo tmp;
    tw_addr dst;

    if (len < 12)
        return 0;
    memcpy(&pid, p, 4);
    memcpy(&tid, p + 4, 4);
    memcpy(&rawlen, p + 8, 4);
    raw = p + 12;
    if (rawlen > len - 12)
        return 0;
    if (exits) {
        on_exit_sample(l, pid, tid, raw, rawlen);
        return 0;
    }
    if (!tw__who_close_dst(l->f, raw, rawlen, &dst))
        return 0;
    l->events++;
    return l->on_close(l, who_is(l, (int)pid, &tmp), &dst);
}

/* Consume one CPU's ring. */
static int drain(struct tw_who_live *l, const struct ring *ring)
{
    struct perf_event_mmap_page *m = ring->map;
    const uint8_t *data = (const uint8_t *)ring->map + l->page;
    const uint64_t size = (uint64_t)RING_PAGES * l->page;
    uint64_t head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE), tail = m->data_tail;
    uint8_t rec[512];
    int err = 0;

    while (tail < head && !err) {
        struct perf_event_header h;
        for (size_t i = 0; i < sizeof(h); i++)
            ((uint8_t *)&h)[i] = data[(tail + i) % size];
        if (h.size < sizeof(h))
            break; /* cannot happen; do not loop on it */
        if (h.size <= sizeof(rec)) {
            for (size_t i = 0; i < h.size; i++)
                rec[i] = data[(tail + i) % size];
            if (h.type == PERF_RECORD_SAMPLE)
                err = on_sample(l, ring->exits, rec + sizeof(h), h.size - sizeof(h));
            else if (h.type == PERF_RECORD_LOST && h.size >= sizeof(h) + 16) {
                uint64_t lost;
                memcpy(&lost, rec + sizeof(h) + 8, 8);
                l->lost += lost;
            }
        }
        tail += h.size;
    }
    __atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
    return err;
}

/* The closes' rings first, then the exits': a close is handled before the
 * exit that came after it, whenever both are there to read. */
int tw_who_live_drain(struct tw_who_live *l)
{
    int err = 0;

    for (int i = 0; i < l->n && !err; i++)
        err = drain(l, &l->rings[i]);
    return err;
}

/* One perf event per CPU for a tracepoint, appended to rings. */
static int open_rings(long id, const char *filter, bool exits, int ncpus, size_t maplen,
                      struct ring *rings, int *n, char *err, size_t errlen)
{
    for (int cpu = 0; cpu < ncpus; cpu++) {
        struct perf_event_attr a = {
            .type = PERF_TYPE_TRACEPOINT, .size = sizeof(a), .config = (uint64_t)id,
            .sample_period = 1, .sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_RAW,
            .disabled = 1, .watermark = 1, .wakeup_watermark = (uint32_t)(maplen / 8),
        };
        int fd = (int)syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
            int r = -errno;
            if (r == -ENODEV || r == -EINVAL) /* an offline CPU */
                continue;
            return fail(err, errlen, r, "perf_event_open on the tracepoint failed: %s%s",
                        tw_strerror(r),
                        r == -EACCES || r == -EPERM ? " (needs root or CAP_PERFMON; see "
                                                      "kernel.perf_event_paranoid)" : "");
        }
        /* let the kernel drop what is not wanted; on refusal, filter here */
        if (filter)
            (void)ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter);
        void *m = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            int r = -errno;
            close(fd);
            return fail(err, errlen, r, "mmap of a perf ring failed: %s%s", tw_strerror(r), "");
        }
        rings[(*n)++] = (struct ring){.fd = fd, .map = m, .exits = exits};
    }
    return 0;
}

/* The id of an event under tracefs, or -errno. */
static long event_id(const char *dir, const char *event)
{
    char buf[32];
    int r = read_small(dir, event, "id", buf, sizeof(buf));
    long id;

    if (r < 0)
        return r;
    return (id = strtol(buf, NULL, 10)) > 0 ? id : -EINVAL;
}

static void disable(struct tw_who_live *l)
{
    for (int i = 0; i < l->n; i++)
        ioctl(l->rings[i].fd, PERF_EVENT_IOC_DISABLE, 0);
}

void tw_who_live_stop(struct tw_who_live *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++) {
        munmap(l->rings[i].map, l->maplen);
        close(l->rings[i].fd);
    }
    if (l->mounted)
        umount2(l->dir, MNT_DETACH);
    free(l->rings);
    free(l->cache);
    free(l->exits);
    free(l->procs);
    free(l->pindex);
    free(l);
}

static int nomem(char *err, size_t errlen)
{
    return fail(err, errlen, -ENOMEM, "out of memory%s%s", "", "");
}

/* The field offsets of both events; the exit's are optional (without them
 * the names of the gone stay "?"). */
static int read_formats(struct tw_who_live *l, long *exit_id, char *err, size_t errlen)
{
    struct tw__field comm = {"comm", -1, 0};
    char buf[8192];
    int res;

    if ((res = read_small(l->dir, EVENT, "format", buf, sizeof(buf))) < 0 ||
        (res = tw__who_parse_format(buf, l->f, TW__WHO_NFIELDS)) < 0)
        return fail(err, errlen, res, "%s/%s lacks a field twkit needs (oldstate, newstate, "
                    "dport, family, daddr, daddr_v6)", l->dir, EVENT "/format");
    *exit_id = event_id(l->dir, EXIT_EVENT);
    if (*exit_id > 0 && read_small(l->dir, EXIT_EVENT, "format", buf, sizeof(buf)) > 0 &&
        tw__who_parse_format(buf, &comm, 1) == 0 && comm.size == 16)
        l->comm_off = comm.off;
    return 0;
}

/* Find or mount tracefs, open both events on every CPU, let go of
 * tracefs, enable. */
static int live_open(struct tw_who_live *l, const char *tracefs, char *err, size_t errlen)
{
    int ncpus = (int)sysconf(_SC_NPROCESSORS_CONF), res;
    char buf[256];
    long id, exit_id;

    if (ncpus < 1 || ncpus > MAX_CPUS)
        ncpus = ncpus < 1 ? 1 : MAX_CPUS;
    if ((res = find_tracefs(tracefs, l->dir, sizeof(l->dir), &l->mounted, err, errlen)) < 0)
        return res;
    if ((id = event_id(l->dir, EVENT)) < 0)
        return fail(err, errlen, (int)id, "cannot read %s/%s", l->dir, EVENT "/id");
    if ((res = read_formats(l, &exit_id, err, errlen)) < 0)
        return res;
    if (!(l->rings = calloc(2 * (size_t)ncpus, sizeof(*l->rings))) ||
        !(l->cache = calloc(PID_SLOTS, sizeof(*l->cache))))
        return nomem(err, errlen);
    if (l->comm_off >= 0 && !(l->exits = calloc(EXIT_SLOTS, sizeof(*l->exits))))
        l->comm_off = -1;
    if ((res = open_rings(id, "oldstate == 1 && newstate == 4", false, ncpus, l->maplen,
                          l->rings, &l->n, err, errlen)) < 0)
        return res;
    if (!(l->nclose = l->n))
        return fail(err, errlen, -ENODEV, "no CPU accepted the perf event%s%s", "", "");
    if (l->comm_off >= 0 &&
        open_rings(exit_id, NULL, true, ncpus, l->maplen, l->rings, &l->n, buf, sizeof(buf)) < 0)
        l->comm_off = -1; /* names of the gone stay "?" */
    /* the events are open: tracefs is no longer needed */
    if (l->mounted && umount2(l->dir, MNT_DETACH) == 0)
        l->mounted = false;
    for (int i = 0; i < l->n; i++)
        ioctl(l->rings[i].fd, PERF_EVENT_IOC_ENABLE, 0);
    return 0;
}

/* A new recorder, opened, its closes going to on_close; NULL on failure
 * (err says why, *res the error). */
static struct tw_who_live *live_new(const char *tracefs, char *err, size_t errlen, int *res)
{
    struct tw_who_live *l = calloc(1, sizeof(*l));
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);

    err[0] = 0;
    if (!l) {
        *res = nomem(err, errlen);
        return NULL;
    }
    l->comm_off = -1;
    l->page = page;
    l->maplen = (RING_PAGES + 1) * page;
    memcpy(l->f, (struct tw__field[TW__WHO_NFIELDS]){{"oldstate", -1, 0}, {"newstate", -1, 0},
                                                     {"dport", -1, 0}, {"family", -1, 0},
                                                     {"daddr", -1, 0}, {"daddr_v6", -1, 0}},
           sizeof(l->f));
    if ((*res = live_open(l, tracefs, err, errlen)) < 0) {
        tw_who_live_stop(l);
        return NULL;
    }
    return l;
}

int tw_who_live_start(struct tw_who_live **out, const char *tracefs, char *err, size_t errlen)
{
    int res;
    struct tw_who_live *l = live_new(tracefs, err, errlen, &res);

    *out = NULL;
    if (!l)
        return res;
    if (!(l->procs = calloc(TW_WHO_LIVE_MAX, sizeof(*l->procs))) ||
        !(l->pindex = calloc(PINDEX_SLOTS, sizeof(*l->pindex)))) {
        tw_who_live_stop(l);
        return nomem(err, errlen);
    }
    l->on_close = live_close;
    *out = l;
    return 0;
}

const struct tw_who_proc *tw_who_live_procs(const struct tw_who_live *l, size_t *n)
{
    *n = l->nprocs;
    return l->procs;
}

uint64_t tw_who_live_events(const struct tw_who_live *l) { return l->events; }
uint64_t tw_who_live_lost(const struct tw_who_live *l) { return l->lost; }

/* ---- one recording ------------------------------------------------------ */

static int by_closes(const void *a, const void *b)
{
    const struct tw_who_row *x = a, *y = b;
    if (x->active_closes != y->active_closes)
        return x->active_closes < y->active_closes ? 1 : -1;
    return x->pid - y->pid;
}

static int by_pid(const void *a, const void *b)
{
    const struct tw_who_row *x = a, *y = b;
    return x->pid != y->pid ? (x->pid < y->pid ? -1 : 1) : by_closes(a, b);
}

static int pid_by_closes(const void *a, const void *b)
{
    const struct tw_who_pid *x = a, *y = b;
    if (x->active_closes != y->active_closes)
        return x->active_closes < y->active_closes ? 1 : -1;
    return x->pid - y->pid;
}

/* Rows of processes gone before /proc could name them: the exit's name
 * when it came after their closes were read. */
static void name_the_gone(struct tw_who *w, const struct tw_who_live *l)
{
    for (size_t i = 0; i < w->nrows && l->exits; i++) {
        struct tw_who_row *row = &w->rows[i];
        const struct exited *e = &l->exits[(unsigned)row->pid % EXIT_SLOTS];
        if (!strcmp(row->comm, "?") && e->pid == row->pid)
            memcpy(row->comm, e->comm, sizeof(row->comm));
    }
}

/* Per process: its rows summed (rows sorted by pid on the way). */
static int totals(struct tw_who *w)
{
    if (!w->nrows)
        return 0;
    if (!(w->procs = calloc(w->nrows, sizeof(*w->procs))))
        return -ENOMEM;
    qsort(w->rows, w->nrows, sizeof(*w->rows), by_pid);
    struct tw_who_pid *p = NULL;
    for (size_t i = 0; i < w->nrows; i++) {
        const struct tw_who_row *r = &w->rows[i];
        if (!i || r->pid != r[-1].pid) {
            p = &w->procs[w->nprocs];
            *p = (struct tw_who_pid){.pid = r->pid};
            memcpy(p->comm, r->comm, sizeof(p->comm));
            memcpy(p->cgroup, r->cgroup, sizeof(p->cgroup));
            w->nprocs++;
        }
        p->active_closes += r->active_closes;
        p->destinations++;
    }
    qsort(w->procs, w->nprocs, sizeof(*w->procs), pid_by_closes);
    return 0;
}

/* Wait up to ms for a ring to fill past its watermark. */
static void wait_rings(const struct tw_who_live *l, uint64_t ms)
{
    struct pollfd pfd[2 * MAX_CPUS];

    for (int i = 0; i < l->n; i++)
        pfd[i] = (struct pollfd){.fd = l->rings[i].fd, .events = POLLIN};
    poll(pfd, (nfds_t)l->n, (int)ms);
}

int tw_who_record(struct tw_who *w, uint64_t ms, const char *tracefs,
                  volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    struct rec r = {.w = w};
    struct tw_who_live *l;
    int res;

    memset(w, 0, sizeof(*w));
    if (!(l = live_new(tracefs, err, errlen, &res)))
        return res;
    l->on_close = record_close;
    l->ctx = &r;
    w->ncpus = l->nclose;
    uint64_t start = tw_now_ms(), now = start;
    while (now - start < ms && !(stop && *stop) && res == 0) {
        uint64_t left = ms - (now - start);
        wait_rings(l, left < 100 ? left : 100);
        res = tw_who_live_drain(l);
        now = tw_now_ms();
    }
    disable(l);
    if (res == 0)
        res = tw_who_live_drain(l);
    name_the_gone(w, l);
    if (res == 0)
        res = totals(w);
    if (res < 0)
        fail(err, errlen, res, "recording stopped: %s%s", tw_strerror(res), "");
    w->events = l->events;
    w->lost = l->lost;
    w->ms = now - start;
    if (w->nrows)
        qsort(w->rows, w->nrows, sizeof(*w->rows), by_closes);
    tw_who_live_stop(l);
    free(r.index);
    return res;
}

void tw_who_free(struct tw_who *w)
{
    free(w->rows);
    free(w->procs);
    memset(w, 0, sizeof(*w));
}
