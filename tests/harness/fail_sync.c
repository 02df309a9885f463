/*
 * fail_sync.c — an LD_PRELOAD library for tests: msync, fsync and
 * fdatasync fail with EIO while the file named by $IPCQ_TEST_FAIL_SYNC
 * exists, and behave as usual otherwise. A test starts the real broker
 * (or a peer) with it preloaded and creates or removes that file to make
 * the disk "fail" and "recover" at the moment it chooses: the only way
 * to see what the broker and libipcq do with a failed sync without a
 * failing disk.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int
fs_failing(void)
{
	const char *path = getenv("IPCQ_TEST_FAIL_SYNC");
	int         saved = errno;
	int         fail  = path != NULL && access(path, F_OK) == 0;

	errno = saved;
	return fail;
}

int
msync(void *addr, size_t len, int flags)
{
	static int (*real)(void *, size_t, int);

	if (fs_failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "msync");
	}
	return real(addr, len, flags);
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	if (fs_failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "fdatasync");
	}
	return real(fd);
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (fs_failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "fsync");
	}
	return real(fd);
}
