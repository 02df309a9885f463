/*
 * unit.seg: the shared-memory segment of a queue (proto/ipcqi_seg*.c)
 * without a broker: mapping and header checks, the ring's records and
 * counters, the queue rules, lock recovery after a crash, defence against
 * scribbled segments, and the futex wake-up protocol.
 *
 * Every segment lives in a memfd (nothing is left in /dev/shm). A
 * fixture maps it twice, as the broker (create) and as a client (map):
 * operations go through the client's mapping, scribbles through the
 * broker's, so every test also shows that the two mappings share state.
 * Bounds are tiny (8 messages, 512 bytes, 200 per message: a 1280-byte
 * ring) so that the ring wraps and PAD records appear within a few
 * messages.
 */
#include "seg_fixture.h"

/* Each file adds its test cases: test_seg_map.c, test_seg_ring.c, test_seg_leases.c,
 * test_seg_crash.c, test_seg_wake.c; their fixtures are seg_fixture.h. */
void seg_add_map_tests(Suite *s);
void seg_add_ring_tests(Suite *s);
void seg_add_lease_tests(Suite *s);
void seg_add_crash_tests(Suite *s);
void seg_add_wake_tests(Suite *s);

static Suite *
seg_suite(void)
{
	Suite *s = suite_create("unit.seg");

	seg_add_map_tests(s);
	seg_add_ring_tests(s);
	seg_add_lease_tests(s);
	seg_add_crash_tests(s);
	seg_add_wake_tests(s);
	return s;
}

int
main(void)
{
	return th_run(seg_suite());
}
