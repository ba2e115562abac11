/*
 * Legacy blocking C code that knows nothing of greenshim: a client that connects, pauses,
 * sends a request, waits for the answer with select() and poll(), and reads it with read()
 * and recv(). Built with FORTIFY, so the reads and the poll go through glibc's __*_chk forms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fail(int fd) {
    int e = errno;
    if (fd >= 0)
        close(fd);
    return e ? -e : -EIO;
}

/*
 * Talks to the server at 127.0.0.1:port. `part` is how many bytes each of the two reads asks
 * for (at most 64) and `nfds` how many pollfds poll() gets (at most 4). Copies what was read into `out` and returns its length,
 * or -errno.
 */
int legacy_exchange(unsigned short port, size_t part, unsigned nfds, char *out, size_t out_len) {
    char buf[128];
    char tail[64];
    struct pollfd pfd[4];
    struct sockaddr_in sa;
    struct timespec pause = {0, 20 * 1000 * 1000};
    struct timeval tv = {10, 0};
    fd_set rs;
    ssize_t n, m;
    int fd;

    /* Loose bounds on purpose: the compiler must not be able to prove the buffer sizes
       suffice, or it drops the FORTIFY checks (and calls the plain functions). */
    if (part == 0 || part > 4096 || nfds == 0 || nfds > 64)
        return -EINVAL;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return fail(fd);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return fail(fd);
    if (nanosleep(&pause, NULL) != 0)
        return fail(fd);
    if (send(fd, "ping\n", 5, 0) != 5)
        return fail(fd);

    FD_ZERO(&rs);
    FD_SET(fd, &rs);
    if (select(fd + 1, &rs, NULL, NULL, &tv) != 1)
        return fail(fd);
    n = read(fd, buf, part);
    if (n <= 0)
        return fail(fd);

    for (unsigned i = 0; i < 4; i++) {
        pfd[i].fd = i == 0 ? fd : -1;
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    if (poll(pfd, nfds, 10000) != 1)
        return fail(fd);
    m = recv(fd, tail, part, 0);
    if (m < 0)
        return fail(fd);
    close(fd);
    memcpy(buf + n, tail, (size_t)m);
    n += m;
    if ((size_t)n > out_len)
        n = (ssize_t)out_len;
    memcpy(out, buf, (size_t)n);
    return (int)n;
}
