/*
 * th_seg.c — a test broker's segments (th_seg.h).
 */
#include "th_seg.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

void
th_seg_prefix(const char *url, char *buf, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *s = url; *s != '\0'; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ull;
	}
	snprintf(buf, len, "ipcq-%u-%016" PRIx64 "-", (unsigned) geteuid(), h);
}

int
th_seg_count(const char *url, int *bells)
{
	char           prefix[64];
	DIR           *d = opendir("/dev/shm");
	struct dirent *e;
	size_t         plen;
	int            n = 0, b = 0;

	th_seg_prefix(url, prefix, sizeof(prefix));
	plen = strlen(prefix);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, plen) != 0) {
			continue;
		}
		if (strncmp(e->d_name + plen, "bell-", 5) == 0) {
			b++;
		} else {
			n++;
		}
	}
	closedir(d);
	if (bells != NULL) {
		*bells = b;
	}
	return n;
}

int
th_seg_files(const char *url)
{
	int bells, n = th_seg_count(url, &bells);

	return n + bells;
}

void
th_seg_map(const char *queue, ipcqi_seg *seg, char *path, size_t len)
{
	char           prefix[64], file[600];
	DIR           *d = opendir("/dev/shm");
	struct dirent *e;
	int            found = 0;

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	ck_assert_ptr_nonnull(d);
	while (!found && (e = readdir(d)) != NULL) {
		int fd;
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    strncmp(e->d_name + strlen(prefix), "bell", 4) == 0) {
			continue;
		}
		snprintf(file, sizeof(file), "/dev/shm/%s", e->d_name);
		if ((fd = open(file, O_RDWR | O_CLOEXEC)) < 0) {
			continue;
		}
		found = ipcqi_seg_map(seg, fd, queue) == 0;
		close(fd);
	}
	closedir(d);
	ck_assert_msg(found, "no segment of queue %s", queue);
	if (path != NULL) {
		snprintf(path, len, "%s", file);
	}
}

int
th_seg_file_holds_messages(const char *file)
{
	char      path[600];
	ipcqi_seg seg;
	int       fd, holds = 0;

	snprintf(path, sizeof(path), "/dev/shm/%s", file);
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		return 0;
	}
	if (ipcqi_seg_map(&seg, fd, NULL) == 0) {
		/* The broker is gone: nobody else writes the counters. */
		holds = (seg.hdr->qstate & IPCQI_QS_DELETED) == 0 &&
		    seg.hdr->ready + seg.hdr->leased > 0;
		ipcqi_seg_unmap(&seg);
	}
	close(fd);
	return holds;
}
