/*
 * The end of a run: each case's median over the rounds, then the issue's
 * two targets as ratios. A ratio is taken per round, from two cases that
 * ran next to each other, and the median of those is the verdict: on a
 * shared machine the load drifts between rounds far more than it does
 * between two neighbouring cases.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

enum rp_field { RP_TPUT, RP_P50, RP_P99, RP_P999 };

static double
rp_get(const bench_fig *f, enum rp_field which)
{
	switch (which) {
	case RP_TPUT: return (f->msg_per_s);
	case RP_P50: return (f->p50_us);
	case RP_P99: return (f->p99_us);
	default: return (f->p999_us);
	}
}

static int
rp_cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x < y ? -1 : x > y);
}

static double
rp_median(double *v, int n)
{
	if (n == 0) {
		return (NAN);
	}
	qsort(v, (size_t) n, sizeof(double), rp_cmp);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0);
}

/* Median of one figure over the rounds in which the case verified. */
static double
rp_case_median(const bench_case *bc, int rounds, enum rp_field which,
    int *nok)
{
	double v[BENCH_MAX_ROUNDS];
	int    n = 0;

	for (int r = 0; r < rounds; r++) {
		if (bc->fig[r].ok) {
			v[n++] = rp_get(&bc->fig[r], which);
		}
	}
	if (nok != NULL) {
		*nok = n;
	}
	return (rp_median(v, n));
}

void
bench_report_medians(const bench_opts *o, const bench_case *cases, int n)
{
	if (o->rounds < 2) {
		return; /* the case lines are the figures */
	}
	printf("medians over %d rounds:\n", o->rounds);
	for (int i = 0; i < n; i++) {
		const bench_case *bc = &cases[i];
		int               nok;
		double            m = rp_case_median(bc, o->rounds, RP_TPUT, &nok);

		if (nok == 0) {
			continue;
		}
		if (bc->kind == BENCH_NNG_TPUT || bc->kind == BENCH_IPCQ_TPUT ||
		    bc->kind == BENCH_PEER_TPUT) {
			printf("median case=%s size=%zu p=%u c=%u batch=%u "
			       "msg_per_s=%.0f MiB_per_s=%.1f rounds_ok=%d\n",
			    bc->name, bc->size, bc->p, bc->c, bc->batch, m,
			    m * (double) bc->size / (1024.0 * 1024.0), nok);
			continue;
		}
		printf("median case=%s size=%zu p50_us=%.1f p99_us=%.1f "
		       "p999_us=%.1f rounds_ok=%d\n",
		    bc->name, bc->size,
		    rp_case_median(bc, o->rounds, RP_P50, NULL),
		    rp_case_median(bc, o->rounds, RP_P99, NULL),
		    rp_case_median(bc, o->rounds, RP_P999, NULL), nok);
	}
}

static const bench_case *
rp_find(const bench_case *cases, int n, const char *id)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(cases[i].id, id) == 0) {
			return (&cases[i]);
		}
	}
	return (NULL);
}

/* One ratio line: num / den per round, the median of those against the
 * target (at_least: ratio >= target, else ratio <= target; target 0:
 * information only). */
static void
rp_ratio(const char *name, const bench_case *num, const bench_case *den,
    enum rp_field which, int rounds, double target, int at_least,
    const char *note)
{
	double v[BENCH_MAX_ROUNDS], med;
	char   list[256] = "";
	size_t off       = 0;
	int    k         = 0;

	for (int r = 0; r < rounds && num != NULL && den != NULL; r++) {
		if (num->fig[r].ok && den->fig[r].ok) {
			v[k] = rp_get(&num->fig[r], which) /
			    rp_get(&den->fig[r], which);
			off += (size_t) snprintf(list + off, sizeof(list) - off,
			    "%s%.2f", k ? "," : "", v[k]);
			k++;
		}
	}
	if (k == 0) {
		printf("ratio=%s status=n/a (needs %s and %s)%s%s\n", name,
		    num ? num->id : "?", den ? den->id : "?",
		    note ? " " : "", note ? note : "");
		return;
	}
	med = rp_median(v, k);
	if (target > 0) {
		printf("ratio=%s value=%.2f target=%s%.1f status=%s", name, med,
		    at_least ? ">=" : "<=", target,
		    (at_least ? med >= target : med <= target) ? "met"
		                                               : "NOT_MET");
	} else {
		printf("ratio=%s value=%.2f target=none status=info", name, med);
	}
	printf(" per_round=%s %s=%.1f %s=%.1f%s%s\n", list, num->id,
	    rp_case_median(num, rounds, which, NULL), den->id,
	    rp_case_median(den, rounds, which, NULL), note ? " " : "",
	    note ? note : "");
}

/* Issue 3's targets, for the shared-memory path (ipcq.shm.*). */
static const struct {
	const char *name, *num, *den, *target;
	int         p50;
} rp_i3[] = {
	{ "i3.batched_vs_zmq_64_1x1", "ipcq.shm.batched/64/1x1",
	    "zmq.pushpull/64/1x1", ">=1.5", 0 },
	{ "i3.batched_vs_ring_spin_64_1x1", "ipcq.shm.batched/64/1x1",
	    "ring.spin/64/1x1", ">=0.35", 0 },
	{ "i3.batched_vs_zmq_64_4x4", "ipcq.shm.batched/64/4x4",
	    "zmq.pushpull/64/4x4", ">=1.5", 0 },
	{ "i3.batched_vs_zmq_4096_1x1", "ipcq.shm.batched/4096/1x1",
	    "zmq.pushpull/4096/1x1", ">=1.5", 0 },
	{ "i3.batched_vs_ring_spin_4096_1x1", "ipcq.shm.batched/4096/1x1",
	    "ring.spin/4096/1x1", ">=0.60", 0 },
	{ "i3.unbatched_vs_ring_spin_1MiB_1x1", "ipcq.shm.unbatched/1048576/1x1",
	    "ring.spin/1048576/1x1", ">=0.50", 0 },
	{ "i3.batched_vs_mpqueue_64_1x1", "ipcq.shm.batched/64/1x1",
	    "py.mpqueue/64/1x1", ">=30", 0 },
	{ "i3.pingpong_p50_vs_ring_futex_p50", "ipcq.shm.pingpong/64",
	    "ring.futex/64", "<=1.2", 1 },
};

static void
rp_issue3(const bench_opts *o, const bench_case *cases, int n)
{
	char note[96];

	printf("issue-3 ratios (shared-memory path ipcq.shm.*; compare value "
	       "with shm_target):\n");
	for (size_t i = 0; i < sizeof(rp_i3) / sizeof(rp_i3[0]); i++) {
		snprintf(note, sizeof(note), "shm_target=%s", rp_i3[i].target);
		rp_ratio(rp_i3[i].name, rp_find(cases, n, rp_i3[i].num),
		    rp_find(cases, n, rp_i3[i].den),
		    rp_i3[i].p50 ? RP_P50 : RP_TPUT, o->rounds, 0, 0, note);
	}
}

void
bench_report_ratios(const bench_opts *o, const bench_case *cases, int n)
{
	const bench_case *send = rp_find(cases, n, "ipcq.send/64");

	printf("ratios:\n");
	/* (a) msg/s: batched ipcq against plain one-at-a-time nng. */
	rp_ratio("batched_vs_pushpull",
	    rp_find(cases, n, "ipcq.batched/64/1x1"),
	    rp_find(cases, n, "nng.pushpull/64/1x1"), RP_TPUT, o->rounds, 20.0,
	    1, NULL);
	/* (b) p50 in us: one ipcq send against one plain REQ/REP trip. */
	rp_ratio("send_p50_vs_reqrep_p50", send,
	    rp_find(cases, n, "nng.reqrep/64"), RP_P50, o->rounds, 1.2, 0,
	    NULL);
	/* Not a target: against a REP server in the broker's own shape. */
	rp_ratio("send_p50_vs_reqrep_aio_p50", send,
	    rp_find(cases, n, "nng.reqrep.aio/64"), RP_P50, o->rounds, 0, 0,
	    NULL);
	if (o->peers > 0 || o->only != NULL) {
		rp_issue3(o, cases, n);
	}
}
