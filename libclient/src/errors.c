/*
 * The error table's strings. Both functions are generated from
 * IPCQ_ERRNO_MAP so that a row added there needs nothing here.
 */
#include "ipcqi_client.h"

const char *
ipcq_strerror(int err)
{
	switch (err) {
#define ERR_MSG_(name, num, msg) \
	case IPCQ_##name:        \
		return (msg);
		IPCQ_ERRNO_MAP(ERR_MSG_)
#undef ERR_MSG_
	}
	return ("unknown error");
}

const char *
ipcq_err_name(int err)
{
	switch (err) {
#define ERR_NAME_(name, num, msg) \
	case IPCQ_##name:         \
		return (#name);
		IPCQ_ERRNO_MAP(ERR_NAME_)
#undef ERR_NAME_
	}
	return ("UNKNOWN");
}

/* Errors seen outside a round trip: dialing, context and aio set-up.
 * Anything that means "nobody answered the dial" is IPCQ_ENOBROKER. */
int
ipcqi_nng_err(int rv)
{
	switch (rv) {
	case 0:
		return (IPCQ_OK);
	case NNG_ENOMEM:
		return (IPCQ_ENOMEM);
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_EINVAL:
		return (IPCQ_EINVAL);
	case NNG_EPERM:
		return (IPCQ_EPERM);
	case NNG_ECONNREFUSED: /* ipc socket file without a listener */
	case NNG_ENOENT:       /* no ipc socket file */
	case NNG_ETIMEDOUT:
	case NNG_EUNREACHABLE:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECONNABORTED:
		return (IPCQ_ENOBROKER);
	default:
		return (IPCQ_ECONNLOST);
	}
}
