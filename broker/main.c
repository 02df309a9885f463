/*
 * ipcqd: parse the command line, run a broker until SIGTERM, SIGINT or
 * SIGQUIT; SIGHUP reopens the log file and the broker keeps serving.
 *
 * Exit codes (docs/broker.md):
 *   0  clean shutdown after SIGTERM, SIGINT or SIGQUIT
 *   1  runtime error (cannot listen, out of memory, ...)
 *   2  usage error
 *   3  address in use: another live broker serves it
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdint.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "ipcq.h"
#include "ipcqi_sigbus.h"
#include "log.h"

enum {
	EXIT_CLEAN     = 0,
	EXIT_RUNTIME   = 1,
	EXIT_USAGE     = 2,
	EXIT_ADDRINUSE = 3,
};

/* Long-only options, numbered clear of the one-letter ones. */
enum {
	OPT_LOG_FILE = 0x4c00,
	OPT_SOCKET_GROUP,
	OPT_DISCARD_ON_EXIT,
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ipcqd [options]\n"
	    "  -l, --listen URL       listen on URL (ipc:///path or "
	    "tcp://host:port);\n"
	    "                         repeatable; default $IPCQ_URL or\n"
	    "                         ipc://$XDG_RUNTIME_DIR/ipcq/ipcqd.sock\n"
	    "      --ready-fd N       write \"READY\\n\" to fd N once listening\n"
	    "      --log-level L      error, warn, info (default), debug\n"
	    "      --log-file PATH    log to PATH (appended) instead of stderr;\n"
	    "                         SIGHUP reopens it\n"
	    "      --max-frame BYTES  largest request accepted (default %u)\n"
	    "      --contexts N       requests received concurrently "
	    "(default 8)\n"
	    "      --max-parked N     blocked requests held at once "
	    "(default 10000)\n"
	    "      --max-parked-bytes B  payload bytes blocked sends may hold "
	    "(default 256 MiB)\n"
	    "      --max-unread-bytes B  reply bytes one connection may leave "
	    "unread\n"
	    "                         before it is dropped (default 64 MiB)\n"
	    "      --max-unread-replies N  replies one connection may leave "
	    "unread\n"
	    "                         before it is dropped (default 1024)\n"
	    "      --drain-ms MS      drop a connection that takes no reply "
	    "for MS ms\n"
	    "                         (default 10000)\n"
	    "      --socket-mode MODE ipc socket file mode, octal (default "
	    "0600)\n"
	    "      --socket-group G   group (name or number) the socket, its\n"
	    "                         runtime directory and the segments are\n"
	    "                         shared with (mode 0660 unless "
	    "--socket-mode)\n"
	    "      --state-dir DIR    where durable queues keep their files "
	    "(default: none,\n"
	    "                         durable queues are refused)\n"
	    "      --sync POLICY      durable queues: none, batch (default), "
	    "always\n"
	    "      --sync-ms MS       batch: sync every MS ms (default 1000)\n"
	    "      --discard-on-exit  a clean stop removes every queue, also\n"
	    "                         those holding messages (default: kept\n"
	    "                         for the next start)\n"
	    "      --max-queues N     queues at once (default and most %u)\n"
	    "      --max-memory BYTES bytes all queue segments may commit, "
	    "suffix K, M,\n"
	    "                         G or T (powers of 1024; default half "
	    "of RAM)\n"
	    "  -V, --version          print the version\n"
	    "  -h, --help             this help\n"
	    "exit codes: 0 clean shutdown, 1 runtime error, 2 usage, "
	    "3 address in use\n",
	    IPCQI_DEFAULT_MAX_FRAME, (unsigned) IPCQI_SIGBUS_SLOTS);
}

/* "64M", "1G", "4096": bytes, with an optional K/M/G/T suffix (powers of
 * 1024, "KiB" and "KB" alike). */
static int
parse_bytes(const char *s, uint64_t *out)
{
	char              *end;
	unsigned long long v;
	unsigned           shift = 0;

	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *s == '-') {
		return -1;
	}
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift != 0 && *end == 'i') {
		end++;
	}
	if (*end == 'B' || *end == 'b') {
		end++;
	}
	if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift)) {
		return -1;
	}
	*out = (uint64_t) v << shift;
	return 0;
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long  v;

	errno = 0;
	v     = strtol(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		return -1;
	}
	*out = v;
	return 0;
}

/* A group name, or a number: the gid, or -1. */
static int
parse_group(const char *s)
{
	struct group *g = getgrnam(s);
	char         *end;
	long          v;

	if (g != NULL) {
		return (int) g->gr_gid;
	}
	errno = 0;
	v     = strtol(s, &end, 10); /* a gid is decimal, "010" too */
	if (errno != 0 || end == s || *end != '\0' || v < 0 ||
	    v >= INT32_MAX) {
		return -1;
	}
	return (int) v;
}

static int
parse_args(int argc, char **argv, ipcqd_config *cfg, int *ready_fd,
    const char **log_file)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "max-frame", required_argument, NULL, 'F' },
		{ "contexts", required_argument, NULL, 'C' },
		{ "max-parked", required_argument, NULL, 'P' },
		{ "max-parked-bytes", required_argument, NULL, 'B' },
		{ "max-unread-bytes", required_argument, NULL, 'U' },
		{ "max-unread-replies", required_argument, NULL, 'N' },
		{ "drain-ms", required_argument, NULL, 'D' },
		{ "socket-mode", required_argument, NULL, 'M' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "sync", required_argument, NULL, 'Y' },
		{ "sync-ms", required_argument, NULL, 'T' },
		{ "log-file", required_argument, NULL, OPT_LOG_FILE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "discard-on-exit", no_argument, NULL, OPT_DISCARD_ON_EXIT },
		{ "max-queues", required_argument, NULL, 'Q' },
		{ "max-memory", required_argument, NULL, 'm' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int  c, lvl, mode_set = 0;

	while ((c = getopt_long(argc, argv, "l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cfg->nlisten == IPCQD_MAX_LISTEN) {
				fprintf(stderr, "ipcqd: at most %d --listen\n",
				    IPCQD_MAX_LISTEN);
				return -1;
			}
			cfg->listen[cfg->nlisten++] = optarg;
			break;
		case 'r':
			if (parse_long(optarg, 0, 65535, &v) != 0) {
				goto bad;
			}
			*ready_fd = (int) v;
			break;
		case 'L':
			if ((lvl = ipcqd_log_parse_level(optarg)) < 0) {
				goto bad;
			}
			ipcqd_log_set_level((ipcqd_log_level) lvl);
			break;
		case 'F':
			if (parse_long(optarg, 1024, 1L << 30, &v) != 0) {
				goto bad;
			}
			cfg->max_frame = (size_t) v;
			break;
		case 'C':
			if (parse_long(optarg, 1, 1024, &v) != 0) {
				goto bad;
			}
			cfg->recv_contexts = (int) v;
			break;
		case 'P':
			if (parse_long(optarg, 1, 1000000, &v) != 0) {
				goto bad;
			}
			cfg->max_parked = (int) v;
			break;
		case 'B':
			if (parse_long(optarg, 1024, 1L << 40, &v) != 0) {
				goto bad;
			}
			cfg->max_parked_bytes = (size_t) v;
			break;
		case 'U':
			if (parse_long(optarg, 1024, 1L << 40, &v) != 0) {
				goto bad;
			}
			cfg->max_unread_bytes = (size_t) v;
			break;
		case 'N':
			if (parse_long(optarg, 1, 1000000, &v) != 0) {
				goto bad;
			}
			cfg->max_unread_replies = (int) v;
			break;
		case 'D':
			if (parse_long(optarg, 1, 3600000, &v) != 0) {
				goto bad;
			}
			cfg->drain_ms = (int) v;
			break;
		case 'M':
			errno = 0;
			v     = strtol(optarg, NULL, 8);
			if (errno != 0 || v <= 0 || v > 0777) {
				goto bad;
			}
			cfg->socket_mode = (int) v;
			mode_set         = 1;
			break;
		case 'S':
			cfg->state_dir = optarg;
			break;
		case 'Y':
			if (strcmp(optarg, "none") == 0) {
				cfg->sync_mode = IPCQI_SYNC_NONE;
			} else if (strcmp(optarg, "batch") == 0) {
				cfg->sync_mode = IPCQI_SYNC_BATCH;
			} else if (strcmp(optarg, "always") == 0) {
				cfg->sync_mode = IPCQI_SYNC_ALWAYS;
			} else {
				goto bad;
			}
			break;
		case 'T':
			if (parse_long(optarg, 1, 3600000, &v) != 0) {
				goto bad;
			}
			cfg->sync_ms = (int) v;
			break;
		case OPT_LOG_FILE:
			*log_file = optarg;
			break;
		case OPT_SOCKET_GROUP:
			if ((cfg->socket_gid = parse_group(optarg)) < 0) {
				fprintf(stderr, "ipcqd: --socket-group: no group "
				                "named '%s' (and not a number)\n",
				    optarg);
				return -1;
			}
			break;
		case OPT_DISCARD_ON_EXIT:
			cfg->discard_on_exit = 1;
			break;
		case 'Q':
			if (parse_long(optarg, 1, IPCQI_SIGBUS_SLOTS, &v) != 0) {
				goto bad;
			}
			cfg->max_queues = (uint32_t) v;
			break;
		case 'm':
			if (parse_bytes(optarg, &cfg->max_memory) != 0) {
				goto bad;
			}
			break;
		case 'V':
			printf("ipcqd %d.%d.%d (protocol %d)\n", IPCQ_VERSION_MAJOR,
			    IPCQ_VERSION_MINOR, IPCQ_VERSION_PATCH,
			    IPCQ_PROTOCOL_VERSION);
			exit(EXIT_CLEAN);
		case 'h':
			usage(stdout);
			exit(EXIT_CLEAN);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcqd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (cfg->socket_gid >= 0 && !mode_set) {
		cfg->socket_mode = 0660; /* naming a group means admitting it */
	} else if (cfg->socket_gid >= 0 && (cfg->socket_mode & 0060) != 0060) {
		fprintf(stderr, "ipcqd: --socket-group needs a --socket-mode "
		                "that lets the group read and write (e.g. "
		                "0660)\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "ipcqd: invalid option value '%s'\n", optarg);
	return -1;
}

static void
signal_ready(int fd)
{
	static const char msg[] = "READY\n";

	if (fd < 0) {
		return;
	}
	if (write(fd, msg, sizeof(msg) - 1) != (ssize_t) sizeof(msg) - 1) {
		ipcqd_warn("cannot write to --ready-fd %d: %s", fd,
		    strerror(errno));
	}
	close(fd);
}

/* SIGHUP (a closed terminal, a supervisor's reload): never a stop. The
 * only state read from outside is the log file; the rest of the
 * configuration is the command line, which a reload cannot change. */
static void
reload(void)
{
	switch (ipcqd_log_reopen()) {
	case 0:
		ipcqd_info("SIGHUP: log file reopened");
		break;
	case 1:
		ipcqd_info("SIGHUP: nothing to reload (no --log-file; options "
		           "come from the command line only)");
		break;
	default:
		ipcqd_error("SIGHUP: cannot reopen the log file: %s; still "
		            "logging to the old one", strerror(errno));
		break;
	}
}

static const char *
sig_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGQUIT:
		return "SIGQUIT";
	default:
		return "SIGTERM";
	}
}

int
main(int argc, char **argv)
{
	ipcqd_config  cfg;
	ipcqd_broker *b;
	sigset_t      set;
	char          err[512] = "";
	const char   *log_file = NULL;
	int           ready_fd = -1, sig = 0, rv;

	ipcqd_config_init(&cfg);
	if (parse_args(argc, argv, &cfg, &ready_fd, &log_file) != 0) {
		return EXIT_USAGE;
	}
	if (log_file != NULL && ipcqd_log_open(log_file) != 0) {
		fprintf(stderr, "ipcqd: cannot open --log-file %s: %s\n",
		    log_file, strerror(errno));
		return EXIT_RUNTIME;
	}
	/* Block the signals we handle before nng starts its threads, so
	 * that they inherit the mask and only sigwait below sees them.
	 * SIGHUP's default (and nohup's ignore) is reset: blocked and
	 * handled, it reaches sigwait and means reload, never a stop. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	signal(SIGHUP, SIG_DFL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Before any segment is mapped: a client that truncates a segment
	 * file must not kill us with SIGBUS (proto/ipcqi_sigbus.h). */
	if (ipcqi_sigbus_install() != 0) {
		fprintf(stderr, "ipcqd: cannot install the SIGBUS handler\n");
		return EXIT_RUNTIME;
	}

	if (ipcqd_broker_new(&b, &cfg) != 0) {
		fprintf(stderr, "ipcqd: out of memory\n");
		return EXIT_RUNTIME;
	}
	if ((rv = ipcqd_broker_start(b, err, sizeof(err))) != 0) {
		ipcqd_error("%s", err[0] ? err : ipcq_strerror(rv));
		ipcqd_broker_free(b);
		return rv == IPCQD_START_ADDRINUSE ? EXIT_ADDRINUSE : EXIT_RUNTIME;
	}
	ipcqd_info("ready (pid %d)", (int) getpid());
	signal_ready(ready_fd);
	for (;;) {
		if (sigwait(&set, &sig) != 0) {
			continue;
		}
		if (sig != SIGHUP) {
			break;
		}
		reload();
	}
	ipcqd_info("%s: shutting down", sig_name(sig));
	ipcqd_broker_stop(b);
	if (b->leak) {
		/* nng's threads are stuck closing (see ipcqd_broker_stop):
		 * everything is already unreachable for clients; leave
		 * without running exit handlers that would wait on them. */
		ipcqd_info("stopped (nng close abandoned)");
		fflush(stderr);
		_exit(EXIT_CLEAN);
	}
	ipcqd_broker_free(b);
	ipcqd_info("stopped");
	return EXIT_CLEAN;
}
