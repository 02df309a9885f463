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
