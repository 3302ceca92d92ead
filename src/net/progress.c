/* Bytes moved on a connection, from the kernel's struct tcp_info. glibc's
 * <netinet/tcp.h> stops before tcpi_bytes_acked (Linux 4.1) and
 * tcpi_bytes_received (4.1), so this file takes the kernel's own header
 * (the two cannot be included together). */
#include <errno.h>
#include <linux/tcp.h>
#include <stdint.h>
#include <sys/socket.h>

#include "twkit/sock.h"

#define STATE_CLOSE 7 /* TCP_CLOSE, from <netinet/tcp.h>, which this file cannot include */

int tw_sock_progress(int fd, uint64_t *moved, uint32_t *quiet_ms)
{
    struct tcp_info ti = {0};
    socklen_t len = sizeof(ti);

    if (fd < 0)
        return -EBADF;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return -errno;
    *moved = ti.tcpi_bytes_acked + ti.tcpi_bytes_received;
    if (quiet_ms) /* the peer's last data, or its last ACK of ours */
        *quiet_ms = ti.tcpi_last_data_recv < ti.tcpi_last_ack_recv ? ti.tcpi_last_data_recv
                                                                   : ti.tcpi_last_ack_recv;
    return ti.tcpi_state == STATE_CLOSE ? -ECONNRESET : 0;
}
