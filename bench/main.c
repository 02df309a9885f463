/*
 * ipcq-bench: the socket path's throughput and latency, next to plain nng
 * in the same run. docs/bench.md says how to run it and read it.
 *
 * Exit codes: 0 every selected case ran and verified (whether or not the
 * ratio targets are met), 1 a case failed (lost, duplicated or broken),
 * 2 usage, 3 the broker would not start or stop cleanly, 130 interrupted.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"

#define MAIN_MAX_CASES 128

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: ipcq-bench [--quick] [--duration SECS] [--count N] "
	    "[--rtt N]\n"
	    "                  [--rounds N]"
	    "                  [--only PATTERN[,PATTERN...]] [--ipcqd PATH] "
	    "[--list]\n"
	    "                  [--peers | --no-peers]\n"
	    "  --quick         small run (< 20 s), for smoke tests\n"
	    "  --duration SECS length of each throughput case (default 1)\n"
	    "  --count N       messages per throughput case instead\n"
	    "  --rtt N         timed round trips per latency case "
	    "(default 10000)\n"
	    "  --rounds N      run the case list N times (default 3); medians\n"
	    "                  and ratios are taken over the rounds\n"
	    "  --only PATTERN  run the cases whose id matches (fnmatch, or a\n"
	    "                  substring); ids: NAME/SIZE[/PxC], see --list\n"
	    "  --ipcqd PATH    broker binary (default: ../broker/ipcqd next "
	    "to this one)\n"
	    "  --peers         also run the comparison peers (ring, POSIX mq,\n"
	    "                  ZeroMQ, Redis, Python); the default except with\n"
	    "                  --quick, or when --only names them\n"
	    "  --no-peers      never run them\n");
}

/* Peers run by default in a full run, with --peers, or when --only
 * names them; never with --no-peers (o->peers < 0). Cases marked full
 * run except with --quick, unless --only names them. */
static int
main_selected(const bench_case *bc, const bench_opts *o)
{
	const char *only = o->only;
	char        pats[512], *save = NULL;

	if (bc->peer && (o->peers < 0 || (o->peers == 0 && only == NULL))) {
		return (0);
	}
	if (bc->full && o->quick && only == NULL) {
		return (0);
	}
	if (only == NULL) {
		return (1);
	}
	snprintf(pats, sizeof(pats), "%s", only);
	for (char *p = strtok_r(pats, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		if (strpbrk(p, "*?[") != NULL ? fnmatch(p, bc->id, 0) == 0
		                              : strstr(bc->id, p) != NULL) {
			return (1);
		}
	}
	return (0);
}

static int
main_paths(bench_env *env, const char *ipcqd)
{
	ssize_t n = readlink("/proc/self/exe", env->self, sizeof(env->self) - 1);
	char    dir[PATH_MAX];

	if (n <= 0) {
		return (-1);
	}
	env->self[n] = '\0';
	if (ipcqd != NULL) {
		snprintf(env->ipcqd, sizeof(env->ipcqd), "%s", ipcqd);
	} else {
		snprintf(dir, sizeof(dir), "%s", env->self);
		snprintf(env->ipcqd, sizeof(env->ipcqd), "%s/../broker/ipcqd",
		    dirname(dir));
	}
	return (0);
}

static int
main_opts(int argc, char **argv, bench_opts *o, const char **ipcqd, int *list)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "rtt", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "only", required_argument, NULL, 'o' },
		{ "ipcqd", required_argument, NULL, 'b' },
		{ "list", no_argument, NULL, 'l' },
		{ "peers", no_argument, NULL, 'p' },
		{ "no-peers", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double dur = -1;
	int    ch, rtt = -1, peers = 0;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'q': o->quick = 1; break;
		case 'd': dur = atof(optarg); break;
		case 'n': o->count = strtoull(optarg, NULL, 10); break;
		case 'r': rtt = atoi(optarg); break;
		case 'R': o->rounds = atoi(optarg); break;
		case 'o': o->only = optarg; break;
		case 'b': *ipcqd = optarg; break;
		case 'l': *list = 1; break;
		case 'p': peers = 1; break;
		case 'P': peers = -1; break;
		case 'h': main_usage(stdout); exit(0);
		default: return (-1);
		}
	}
	if (optind != argc || (dur != -1 && dur <= 0) || rtt == 0 ||
	    o->rounds < 0 || o->rounds > BENCH_MAX_ROUNDS) {
		return (-1);
	}
	/* Full run: 3 rounds of about 30 s on 2 cores. */
	o->dur_ms = (uint64_t) ((dur > 0 ? dur : o->quick ? 0.25 : 1.0) * 1000);
	o->rtt    = (uint64_t) (rtt > 0 ? rtt : o->quick ? 1000 : 10000);
	if (o->rounds == 0) {
		o->rounds = o->quick ? 1 : 3;
	}
	o->peers = peers != 0 ? peers : !o->quick;
	return (0);
}

static int
main_need_broker(const bench_case *cases, int n, const bench_opts *o)
{
	for (int i = 0; i < n; i++) {
		if (cases[i].kind != BENCH_NNG_TPUT &&
		    cases[i].kind != BENCH_NNG_RTT &&
		    cases[i].kind != BENCH_NNG_RTT_AIO && !cases[i].peer &&
		    main_selected(&cases[i], o)) {
			return (1);
		}
	}
	return (0);
}

static void
main_on_signal(int sig)
{
	(void) sig;
	bench_interrupted = 1;
}

/* SIGINT/SIGTERM interrupt the driver's waits (no SA_RESTART) so that it
 * kills its workers, stops the broker and removes its directory. */
static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a dead worker is a FAIL, not our death */
}

static void
main_header(const bench_opts *o)
{
	char      date[32];
	time_t    now = time(NULL);
	struct tm tm;

	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z",
	    localtime_r(&now, &tm));
	printf("# ipcq-bench %s mode=%s rounds=%d duration_s=%.2f count=%llu "
	       "rtt=%llu cpus=%ld peers=%s\n", date,
	    o->quick ? "quick" : "full",
	    o->rounds, (double) o->dur_ms / 1000.0,
	    (unsigned long long) o->count, (unsigned long long) o->rtt,
	    sysconf(_SC_NPROCESSORS_ONLN), o->peers > 0 ? "yes" : "no");
}

static int
main_run(bench_env *env, const bench_opts *o, bench_case *cases, int n)
{
	int failed = 0, st;

	if (main_need_broker(cases, n, o) &&
	    bench_broker_start(env) != 0) {
		fprintf(stderr, "ipcq-bench: broker %s did not start (try "
		                "--ipcqd PATH)\n", env->ipcqd);
		return (3);
	}
	for (int r = 0; r < o->rounds; r++) {
		for (int i = 0; i < n && !bench_interrupted; i++) {
			cases[i].round = r;
			if (main_selected(&cases[i], o) &&
			    bench_case_run(env, o, &cases[i], r * n + i) < 0) {
				failed = 1;
			}
		}
	}
	bench_peers_stop();
	if (env->broker > 0 && (st = bench_broker_stop(env)) != 0) {
		printf("broker: FAIL exit status %d after SIGTERM\n", st);
		return (3);
	}
	if (bench_interrupted) {
		printf("interrupted\n");
		return (130);
	}
	bench_report_medians(o, cases, n);
	bench_report_ratios(o, cases, n);
	return (failed ? 1 : 0);
}

int
main(int argc, char **argv)
{
	static bench_env  env; /* large: keep these off the stack */
	static bench_case cases[MAIN_MAX_CASES];
	bench_opts        o;
	const char       *ipcqd = NULL;
	int               n, list = 0, rv;

	if (argc > 1 && strcmp(argv[1], "__worker") == 0) {
		return (bench_worker_main(argc - 2, argv + 2));
	}
	if (main_opts(argc, argv, &o, &ipcqd, &list) != 0) {
		main_usage(stderr);
		return (2);
	}
	n = bench_cases_build(cases, MAIN_MAX_CASES);
	if (list) {
		for (int i = 0; i < n; i++) {
			printf("%s\n", cases[i].id);
		}
		return (0);
	}
	for (rv = 0; rv < n && !main_selected(&cases[rv], &o); rv++) {
	}
	if (rv == n) {
		fprintf(stderr, "ipcq-bench: no case matches --only %s "
		                "(see --list)\n", o.only);
		return (2);
	}
	main_signals();
	if (main_paths(&env, ipcqd) != 0 || bench_dir_create(&env) != 0) {
		fprintf(stderr, "ipcq-bench: cannot set up the run directory\n");
		return (3);
	}
	main_header(&o);
	rv = main_run(&env, &o, cases, n);
	bench_dir_remove(&env);
	return (rv);
}
