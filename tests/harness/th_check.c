/*
 * th_check.c — count, don't guess: parse what consumer peers printed and
 * assert exact totals, no duplicates, no loss, per-producer order.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
consumed_push(th_consumed *c, const th_rec *r, size_t *cap)
{
	if (c->n == *cap) {
		*cap     = *cap ? *cap * 2 : 256;
		c->recs = realloc(c->recs, *cap * sizeof(th_rec));
		ck_assert_ptr_nonnull(c->recs);
	}
	c->recs[c->n++] = *r;
}

/* "M p<prod>-<seq> <dc> <redelivered>" */
static void
parse_msg_line(const char *line, th_consumed *c, size_t *cap)
{
	th_rec r;
	int    used = 0;

	ck_assert_msg(sscanf(line, "M p%d-%ld %u %d%n", &r.prod, &r.seq,
	                  &r.dc, &r.redelivered, &used) == 4 &&
	        (line[used] == '\0' || line[used] == '\n'),
	    "bad consumer line: %.80s", line);
	consumed_push(c, &r, cap);
}

/* "EOF count=N", "DONE count=N", "HOLD count=N", "RELEASED count=N",
 * "ERR <NAME> count=N"; "REPEAT ..." lines are checked by the tests. */
static void
parse_final_line(const char *line, th_consumed *c)
{
	if (strncmp(line, "REPEAT", 6) == 0) {
		return;
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		ck_assert_msg(sscanf(line, "ERR %31s count=%ld", c->err,
		                  &c->final_count) == 2,
		    "bad consumer line: %.80s", line);
		snprintf(c->final, sizeof(c->final), "ERR");
		return;
	}
	ck_assert_msg(sscanf(line, "%31[A-Z] count=%ld", c->final,
	                  &c->final_count) == 2,
	    "bad consumer line: %.80s", line);
	if (strcmp(c->final, "EOF") == 0) {
		c->n_eof++;
	}
}

void
th_parse_consumer(const char *text, th_consumed *c)
{
	size_t cap = 0;

	memset(c, 0, sizeof(*c));
	for (const char *line = text; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		if (line[0] == 'M' && line[1] == ' ') {
			parse_msg_line(line, c, &cap);
		} else {
			parse_final_line(line, c);
		}
		if (nl == NULL) {
			break;
		}
		line = nl + 1;
	}
	ck_assert_msg(c->final[0] != '\0', "consumer printed no final line");
	ck_assert_msg(c->final_count == (long) c->n,
	    "consumer says count=%ld but printed %zu messages",
	    c->final_count, c->n);
}

void
th_consumed_free(th_consumed *c)
{
	free(c->recs);
	c->recs = NULL;
	c->n    = 0;
}

/* Within one consumer, each producer's sequence numbers must rise: the
 * queue is FIFO and one consumer's receives are ordered. */
static void
check_order(const th_consumed *c, size_t ci, int nprod)
{
	long *last = malloc(((size_t) nprod + 1) * sizeof(long));

	ck_assert_ptr_nonnull(last);
	for (int k = 0; k <= nprod; k++) {
		last[k] = -1;
	}
	for (size_t i = 0; i < c->n; i++) {
		const th_rec *r = &c->recs[i];
		ck_assert_msg(r->seq > last[r->prod],
		    "consumer %zu: p%d-%ld after p%d-%ld (FIFO broken)", ci,
		    r->prod, r->seq, r->prod, last[r->prod]);
		last[r->prod] = r->seq;
	}
	free(last);
}

static void
exactly_once(const th_consumed *cs, size_t ncons, int nprod, long per_prod,
    int ordered)
{
	size_t         total = (size_t) nprod * (size_t) per_prod;
	unsigned char *seen  = calloc(total ? total : 1, 1);
	size_t         got   = 0;

	ck_assert_ptr_nonnull(seen);
	for (size_t ci = 0; ci < ncons; ci++) {
		for (size_t i = 0; i < cs[ci].n; i++) {
			const th_rec *r = &cs[ci].recs[i];
			ck_assert_msg(r->prod >= 1 && r->prod <= nprod &&
			        r->seq >= 0 && r->seq < per_prod,
			    "unexpected message p%d-%ld", r->prod, r->seq);
			size_t idx = (size_t) (r->prod - 1) * per_prod + r->seq;
			ck_assert_msg(!seen[idx], "duplicate p%d-%ld", r->prod,
			    r->seq);
			seen[idx] = 1;
			got++;
		}
		if (ordered) {
			check_order(&cs[ci], ci, nprod);
		}
	}
	for (size_t idx = 0; idx < total; idx++) {
		ck_assert_msg(seen[idx], "lost p%zu-%zu (%zu of %zu arrived)",
		    idx / per_prod + 1, idx % per_prod, got, total);
	}
	ck_assert_uint_eq(got, total);
	free(seen);
}

void
th_assert_exactly_once(const th_consumed *cs, size_t ncons, int nprod,
    long per_prod)
{
	exactly_once(cs, ncons, nprod, per_prod, 1);
}

void
th_assert_exactly_once_any_order(const th_consumed *cs, size_t ncons,
    int nprod, long per_prod)
{
	exactly_once(cs, ncons, nprod, per_prod, 0);
}

void
th_collect_consumers(th_proc **ps, size_t n, th_consumed *cs)
{
	for (size_t i = 0; i < n; i++) {
		th_proc_expect_exit(ps[i], 0);
		th_parse_consumer(th_proc_output(ps[i]), &cs[i]);
	}
}
