/* RLIMIT_NOFILE for the tools that hold many descriptors at once: bench
 * and demo (both ends of every connection in one process), probe (a
 * socket per target in flight, and a closing one for graceful probes). */
#ifndef TW_UTIL_RLIMIT_H
#define TW_UTIL_RLIMIT_H

/* Raise the RLIMIT_NOFILE soft limit towards need (at most the hard
 * limit); returns the soft limit now in force (0 if unknown). */
unsigned long long tu_raise_nofile(unsigned long long need);

/* Raise RLIMIT_NOFILE for conns connections with both ends in this
 * process (2 descriptors each, 256 spare). 0, or -1 after saying on stderr
 * ("<cmd>: RLIMIT_NOFILE is ...") how to raise it or lower --concurrency
 * when the hard limit is too low. */
int tu_nofile_check(const char *cmd, unsigned conns);

#endif
