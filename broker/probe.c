#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A REQ0 peer's SP header: the broker answers with its REP0 header. */
static const unsigned char pr_req_header[8] = { 0, 'S', 'P', 0, 0, 0x30, 0,
	0 };

static int
pr_wait(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	return poll(&pfd, 1, timeout_ms) == 1 ? 0 : -1;
}

/* Connect fd to sa within timeout_ms: 0, or -1 with errno. */
static int
pr_connect(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int       err = 0;
	socklen_t el  = sizeof(err);

	if (connect(fd, sa, len) == 0) {
		return 0;
	}
	if (errno != EINPROGRESS && errno != EAGAIN) {
		return -1;
	}
	if (pr_wait(fd, POLLOUT, timeout_ms) != 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		errno = err != 0 ? err : errno;
		return -1;
	}
	return 0;
}

static int
pr_read_full(int fd, unsigned char *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;
		if (pr_wait(fd, POLLIN, timeout_ms) != 0 ||
		    (n = read(fd, buf + got, len - got)) <= 0) {
			return -1;
		}
		got += (size_t) n;
	}
	return 0;
}

/*
 * Exchange SP headers, then one request: an empty REQ frame (the broker
 * answers anything, here EVERSION). The round trip matters: a wedged
 * nng listener still answers the handshake in its transport, but never
 * hands the connection to the socket, so only a reply proves service.
 * ipc frames carry a message-type byte (1) before the 64-bit length.
 */
static int
pr_handshake(int fd, int timeout_ms, bool ipc)
{
	static const unsigned char req_id[4] = { 0x80, 0, 0x51, 0x9e };
	unsigned char              answer[8], frame[13], head[9];
	size_t                     off = ipc ? 1 : 0;
	uint64_t                   len = 0;

	if (write(fd, pr_req_header, sizeof(pr_req_header)) !=
	        (ssize_t) sizeof(pr_req_header) ||
	    pr_read_full(fd, answer, sizeof(answer), timeout_ms) != 0 ||
	    answer[0] != 0 || answer[1] != 'S' || answer[2] != 'P') {
		return IPCQD_PROBE_SILENT;
	}
	memset(frame, 0, sizeof(frame));
	frame[0]       = 1;
	frame[off + 7] = sizeof(req_id);
	memcpy(frame + off + 8, req_id, sizeof(req_id));
	if (write(fd, frame, off + 12) != (ssize_t) (off + 12) ||
	    pr_read_full(fd, head, off + 8, timeout_ms) != 0) {
		return IPCQD_PROBE_SILENT;
	}
	for (size_t i = 0; i < 8; i++) {
		len = (len << 8) | head[off + i];
	}
	/* The reply's first 4 bytes echo our request id; that is enough. */
	if (len < 4 || pr_read_full(fd, answer, 4, timeout_ms) != 0 ||
	    memcmp(answer, req_id, 4) != 0) {
		return IPCQD_PROBE_SILENT;
	}
	return IPCQD_PROBE_ANSWERED;
}

static int
pr_ipc(const char *path, int timeout_ms)
{
	struct sockaddr_un sa;
	int                fd, rv;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return IPCQD_PROBE_ERROR;
	}
	if (pr_connect(fd, (struct sockaddr *) &sa, sizeof(sa), timeout_ms) != 0) {
		rv = (errno == ECONNREFUSED || errno == ENOENT)
		    ? IPCQD_PROBE_REFUSED
		    : IPCQD_PROBE_ERROR;
	} else {
		rv = pr_handshake(fd, timeout_ms, true);
	}
	close(fd);
	return rv;
}

/* tcp://host:port; a wildcard host is probed on the loopback. */
static int
pr_tcp(const char *hostport, int timeout_ms)
{
	char             host[256];
	const char      *colon = strrchr(hostport, ':');
	struct addrinfo  hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	size_t           hl;
	int              fd, rv;

	if (colon == NULL || (hl = (size_t) (colon - hostport)) >= sizeof(host)) {
		errno = EINVAL;
		return IPCQD_PROBE_ERROR;
	}
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (host[0] == '\0' || strcmp(host, "*") == 0 ||
	    strcmp(host, "0.0.0.0") == 0) {
		snprintf(host, sizeof(host), "127.0.0.1");
	} else if (strcmp(host, "::") == 0) {
		snprintf(host, sizeof(host), "::1");
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		errno = EINVAL;
		return IPCQD_PROBE_ERROR;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return IPCQD_PROBE_ERROR;
	}
	if (pr_connect(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) != 0) {
		rv = errno == ECONNREFUSED ? IPCQD_PROBE_REFUSED
		                           : IPCQD_PROBE_ERROR;
	} else {
		rv = pr_handshake(fd, timeout_ms, false);
	}
	close(fd);
	freeaddrinfo(ai);
	return rv;
}

int
ipcqd_probe(const char *url, int timeout_ms)
{
	if (strncmp(url, "ipc://", 6) == 0) {
		return pr_ipc(url + 6, timeout_ms);
	}
	if (strncmp(url, "tcp://", 6) == 0) {
		return pr_tcp(url + 6, timeout_ms);
	}
	errno = EINVAL;
	return IPCQD_PROBE_ERROR;
}
