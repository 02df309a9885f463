#include "ipcqi_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
name_char_ok(char ch, int first)
{
	if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9')) {
		return 1;
	}
	return !first && (ch == '.' || ch == '_' || ch == '-');
}

int
ipcqi_name_valid_n(const char *name, size_t len)
{
	if (name == NULL || len == 0 || len > IPCQI_NAME_MAX) {
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		if (!name_char_ok(name[i], i == 0)) {
			return 0;
		}
	}
	return 1;
}

int
ipcqi_name_valid(const char *name)
{
	if (name == NULL) {
		return 0;
	}
	/* strnlen: never read past the limit of a hostile string. */
	size_t len = strnlen(name, IPCQI_NAME_MAX + 1);
	return ipcqi_name_valid_n(name, len);
}

int
ipcqi_default_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int         n;

	if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(buf, len, "%s/ipcq", xdg);
	} else {
		n = snprintf(buf, len, "/tmp/ipcq-%u", (unsigned) getuid());
	}
	return (n < 0 || (size_t) n >= len) ? -1 : 0;
}

int
ipcqi_default_url(char *buf, size_t len)
{
	char dir[512];
	int  n;

	if (ipcqi_default_dir(dir, sizeof(dir)) != 0) {
		return -1;
	}
	n = snprintf(buf, len, "ipc://%s/ipcqd.sock", dir);
	return (n < 0 || (size_t) n >= len) ? -1 : 0;
}
