/*
 * The end of a run: each case's median over the rounds, then issue 2's
 * targets as ratios and, with the peers or --only, issue 3's (against
 * the shared-memory cases ipcq.shm.*). A ratio is taken per round, from two cases that
 * ran next to each other, and the median of those is the verdict: on a
 * shared machine the load drifts between rounds far more than it does
 * between two neighbouring cases.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

enum rp_field { RP_TPUT, RP_P50, RP_P99, RP_P999, RP_VALUE };

static double
rp_get(const bench_fig *f, enum rp_field which)
{
	switch (which) {
	case RP_TPUT: return (f->msg_per_s);
	case RP_P50: return (f->p50_us);
	case RP_P99: return (f->p99_us);
	case RP_P999: return (f->p999_us);
	default: return (f->value);
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
		if (bc->kind == BENCH_IPCQ_SEGBYTES) {
			printf("median case=%s size=%zu bytes_per_msg=%.2f "
			       "rounds_ok=%d\n", bc->name, bc->size,
			    rp_case_median(bc, o->rounds, RP_VALUE, NULL), nok);
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

/* A target: "OPx" with OP one of >=, <=, >, <. */
typedef struct rp_target {
	enum { RP_NONE, RP_GE, RP_GT, RP_LE, RP_LT } op;
	double x;
} rp_target;

static rp_target
rp_target_parse(const char *t)
{
	rp_target r = { RP_NONE, 0 };

	if (t == NULL) {
		return (r);
	}
	if (t[0] == '>' || t[0] == '<') {
		int eq = t[1] == '=';

		r.op = t[0] == '>' ? (eq ? RP_GE : RP_GT) : (eq ? RP_LE : RP_LT);
		r.x  = atof(t + 1 + eq);
	}
	return (r);
}

static int
rp_target_met(rp_target t, double v)
{
	switch (t.op) {
	case RP_GE: return (v >= t.x);
	case RP_GT: return (v > t.x);
	case RP_LE: return (v <= t.x);
	default: return (v < t.x);
	}
}

/* One line of the report: num / den per round, or num's own figure per
 * round when den is NULL (a target on an absolute value); the median of
 * those held against target (">=x", "<=x", ">x", "<x"; NULL:
 * information only). note, if any, is appended. */
typedef struct rp_line {
	const char   *name;
	const char   *num, *den; /* case ids */
	enum rp_field which;
	const char   *target;
	const char   *note;
} rp_line;

static void
rp_ratio(const rp_line *l, const bench_case *cases, int n, int rounds)
{
	const bench_case *num = rp_find(cases, n, l->num);
	const bench_case *den = l->den ? rp_find(cases, n, l->den) : NULL;
	rp_target         t   = rp_target_parse(l->target);
	const char       *sp  = l->note ? " " : "", *note = l->note ? l->note : "";
	double            v[BENCH_MAX_ROUNDS], med;
	char              list[256] = "", dfig[96] = "";
	size_t            off       = 0;
	int               k         = 0;

	for (int r = 0; r < rounds && num != NULL &&
	     (den != NULL || l->den == NULL); r++) {
		if (num->fig[r].ok && (den == NULL || den->fig[r].ok)) {
			v[k] = rp_get(&num->fig[r], l->which) /
			    (den ? rp_get(&den->fig[r], l->which) : 1.0);
			off += (size_t) snprintf(list + off, sizeof(list) - off,
			    "%s%.2f", k ? "," : "", v[k]);
			k++;
		}
	}
	if (k == 0) {
		if (l->den != NULL) {
			printf("ratio=%s status=n/a (needs %s and %s)%s%s\n",
			    l->name, l->num, l->den, sp, note);
		} else {
			printf("ratio=%s status=n/a (needs %s)%s%s\n", l->name,
			    l->num, sp, note);
		}
		return;
	}
	med = rp_median(v, k);
	if (t.op != RP_NONE) {
		printf("ratio=%s value=%.2f target=%s status=%s", l->name, med,
		    l->target, rp_target_met(t, med) ? "met" : "NOT_MET");
	} else {
		printf("ratio=%s value=%.2f target=none status=info", l->name,
		    med);
	}
	if (den != NULL) {
		snprintf(dfig, sizeof(dfig), " %s=%.1f", den->id,
		    rp_case_median(den, rounds, l->which, NULL));
	}
	printf(" per_round=%s %s=%.1f%s%s%s\n", list, num->id,
	    rp_case_median(num, rounds, l->which, NULL), dfig, sp, note);
}

/* Issue 3's targets, for the shared-memory path (ipcq.shm.*). */
static const rp_line rp_i3[] = {
	{ "i3.batched_vs_zmq_64_1x1", "ipcq.shm.batched/64/1x1",
	    "zmq.pushpull/64/1x1", RP_TPUT, ">=1.5", NULL },
	{ "i3.batched_vs_ring_spin_64_1x1", "ipcq.shm.batched/64/1x1",
	    "ring.spin/64/1x1", RP_TPUT, ">=0.35", NULL },
	{ "i3.batched_vs_zmq_64_4x4", "ipcq.shm.batched/64/4x4",
	    "zmq.pushpull/64/4x4", RP_TPUT, ">=1.5", NULL },
	{ "i3.batched_vs_zmq_4096_1x1", "ipcq.shm.batched/4096/1x1",
	    "zmq.pushpull/4096/1x1", RP_TPUT, ">=1.5", NULL },
	{ "i3.batched_vs_ring_spin_4096_1x1", "ipcq.shm.batched/4096/1x1",
	    "ring.spin/4096/1x1", RP_TPUT, ">=0.60", NULL },
	{ "i3.unbatched_vs_ring_spin_1MiB_1x1",
	    "ipcq.shm.unbatched/1048576/1x1", "ring.spin/1048576/1x1", RP_TPUT,
	    ">=0.50", NULL },
	{ "i3.zerocopy_vs_ring_spin_1MiB_1x1",
	    "ipcq.shm.zerocopy/1048576/1x1", "ring.spin/1048576/1x1", RP_TPUT,
	    ">=0.90", NULL },
	{ "i3.batched_vs_mpqueue_64_1x1", "ipcq.shm.batched/64/1x1",
	    "py.mpqueue/64/1x1", RP_TPUT, ">=30", NULL },
	{ "i3.pingpong_p50_vs_ring_futex_p50", "ipcq.shm.pingpong/64",
	    "ring.futex/64", RP_P50, "<=1.2", NULL },
	/* No peer needed for these: */
	{ "i3.acked_vs_autoack_64_1x1", "ipcq.shm.acked/64/1x1",
	    "ipcq.shm.batched/64/1x1", RP_TPUT, ">=0.5", NULL },
	{ "i3.batched_4x4_vs_1x1_64", "ipcq.shm.batched/64/4x4",
	    "ipcq.shm.batched/64/1x1", RP_TPUT, ">=1", NULL },
	{ "i3.pingpong_spin_p50_us", "ipcq.shm.pingpong.spin/64", NULL,
	    RP_P50, "<1", NULL },
	{ "i3.segment_bytes_per_64B_msg", "ipcq.shm.segbytes/64", NULL,
	    RP_VALUE, "<=96", NULL },
};

static void
rp_issue3(const bench_opts *o, const bench_case *cases, int n)
{
	char note[96];

	printf("issue-3 ratios (shared-memory path ipcq.shm.*; status against "
	       "shm_target):\n");
	for (size_t i = 0; i < sizeof(rp_i3) / sizeof(rp_i3[0]); i++) {
		rp_line l = rp_i3[i];

		snprintf(note, sizeof(note), "shm_target=%s", l.target);
		l.note = note;
		rp_ratio(&l, cases, n, o->rounds);
	}
}

void
bench_report_ratios(const bench_opts *o, const bench_case *cases, int n)
{
	/* (a) msg/s: batched ipcq against plain one-at-a-time nng. */
	static const rp_line i2[] = {
		{ "batched_vs_pushpull", "ipcq.batched/64/1x1",
		    "nng.pushpull/64/1x1", RP_TPUT, ">=20.0", NULL },
		/* (b) p50 in us: one ipcq send against one plain REQ/REP
		 * trip. */
		{ "send_p50_vs_reqrep_p50", "ipcq.send/64", "nng.reqrep/64",
		    RP_P50, "<=1.2", NULL },
		/* Not a target: against a REP server in the broker's own
		 * shape. */
		{ "send_p50_vs_reqrep_aio_p50", "ipcq.send/64",
		    "nng.reqrep.aio/64", RP_P50, NULL, NULL },
	};

	printf("ratios:\n");
	for (size_t i = 0; i < sizeof(i2) / sizeof(i2[0]); i++) {
		rp_ratio(&i2[i], cases, n, o->rounds);
	}
	if (o->peers > 0 || o->only != NULL) {
		rp_issue3(o, cases, n);
	}
	/* Issue 8: a fresh queue runs at full speed from its first message
	 * (its 10 000-message rate within 1.2x of its 100 000-message one). */
	static const rp_line i8 = { "i8.fresh_10k_vs_100k_4096",
		"ipcq.shm.fresh10k/4096/1x1", "ipcq.shm.fresh100k/4096/1x1",
		RP_TPUT, ">=0.83", NULL };
	rp_ratio(&i8, cases, n, o->rounds);
}
