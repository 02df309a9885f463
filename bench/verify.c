/*
 * Payloads and their verification: every message carries its producer and
 * sequence number, every consumer tallies what it got, and the driver adds
 * the tallies up against what the producers say they sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec);
}

/* splitmix64 of (producer, seq): summing these instead of the plain
 * numbers means a lost message and a duplicate cannot cancel out. */
uint64_t
bench_mix(uint32_t prod, uint64_t seq)
{
	uint64_t z = seq + ((uint64_t) prod << 48) + 0x9e3779b97f4a7c15u;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return (z ^ (z >> 31));
}

void
bench_fill(void *buf, size_t size)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < size; i++) {
		p[i] = (unsigned char) (i * 31u + 7u);
	}
}

void
bench_stamp(void *buf, uint32_t prod, uint64_t seq)
{
	uint32_t hdr[2] = { BENCH_MAGIC, prod };

	memcpy(buf, hdr, sizeof(hdr));
	memcpy((char *) buf + 8, &seq, sizeof(seq));
}

uint64_t
bench_seq_of(const void *buf)
{
	uint64_t seq;

	memcpy(&seq, (const char *) buf + 8, sizeof(seq));
	return (seq);
}

void
bench_tally_init(bench_tally *t, uint32_t nprod, size_t size)
{
	memset(t, 0, sizeof(*t));
	t->nprod = nprod;
	t->size  = size;
}

static int
tally_fail(bench_tally *t, const char *why, uint32_t prod, uint64_t seq)
{
	if (t->err[0] == '\0') {
		snprintf(t->err, sizeof(t->err), "%s(prod=%" PRIu32
		    ",seq=%" PRIu64 ",after=%" PRIu64 ")", why, prod, seq,
		    t->total);
	}
	return (-1);
}

int
bench_tally_add(bench_tally *t, const void *data, size_t len)
{
	uint32_t       hdr[2];
	uint64_t       seq;
	const unsigned char *p = data;

	if (len != t->size || len < BENCH_HDR_SIZE) {
		return (tally_fail(t, "bad_length", 0, len));
	}
	memcpy(hdr, p, sizeof(hdr));
	seq = bench_seq_of(p);
	if (hdr[0] != BENCH_MAGIC || hdr[1] >= t->nprod) {
		return (tally_fail(t, "bad_header", hdr[1], seq));
	}
	/* The last byte is never stamped: it checks the copy reached the end. */
	if (p[len - 1] != (unsigned char) ((len - 1) * 31u + 7u)) {
		return (tally_fail(t, "bad_payload", hdr[1], seq));
	}
	if (seq < t->next[hdr[1]]) {
		return (tally_fail(t, "out_of_order_or_duplicate", hdr[1], seq));
	}
	t->next[hdr[1]] = seq + 1;
	t->count[hdr[1]]++;
	t->hsum[hdr[1]] += bench_mix(hdr[1], seq);
	t->total++;
	return (0);
}

void
bench_tally_format(const bench_tally *t, char *buf, size_t len)
{
	size_t off;

	off = (size_t) snprintf(buf, len, "recv=%" PRIu64 " calls=%" PRIu64
	    " tl=%" PRIu64, t->total, t->calls, t->t_last);
	for (uint32_t i = 0; i < t->nprod && off < len; i++) {
		off += (size_t) snprintf(buf + off, len - off,
		    " v%" PRIu32 "=%" PRIu64 ":%" PRIu64, i, t->count[i],
		    t->hsum[i]);
	}
	if (t->err[0] != '\0' && off < len) {
		snprintf(buf + off, len - off, " err=%s", t->err);
	}
}
