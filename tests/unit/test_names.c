/*
 * unit.names — queue names: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, nothing
 * else, so no name can ever reach the file system as a path.
 */
#include <stdlib.h>
#include <string.h>

#include "ipcqi_common.h"
#include "th_run.h"

/* A name of len characters, all 'a' (buf must hold len + 1). */
static const char *
name_of_len(char *buf, size_t len)
{
	memset(buf, 'a', len);
	buf[len] = '\0';
	return buf;
}

START_TEST(accepts_valid_names)
{
	static const char *ok[] = { "a", "Z", "0", "jobs", "Jobs.v2",
		"a-b_c.d", "9lives", "a..b", "a.", "x-", "A_", "results-2024.01",
		NULL };

	for (int i = 0; ok[i] != NULL; i++) {
		ck_assert_msg(ipcqi_name_valid(ok[i]), "rejected \"%s\"", ok[i]);
		ck_assert(ipcqi_name_valid_n(ok[i], strlen(ok[i])));
	}
}
END_TEST

START_TEST(rejects_bad_names)
{
	static const char *bad[] = { "", ".", "..", ".hidden", "../etc",
		"a/b", "/abs", "a b", " a", "a\tb", "a\n", "-a", "_a", "a:b",
		"a*", "a\\b", "caf\xc3\xa9", "%2e%2e", NULL };

	for (int i = 0; bad[i] != NULL; i++) {
		ck_assert_msg(!ipcqi_name_valid(bad[i]), "accepted \"%s\"",
		    bad[i]);
		ck_assert(!ipcqi_name_valid_n(bad[i], strlen(bad[i])));
	}
	ck_assert(!ipcqi_name_valid(NULL));
	ck_assert(!ipcqi_name_valid_n(NULL, 3));
}
END_TEST

START_TEST(length_limit_is_128)
{
	char buf[IPCQI_NAME_MAX + 64];

	ck_assert_int_eq(IPCQI_NAME_MAX, 128);
	ck_assert(ipcqi_name_valid(name_of_len(buf, 1)));
	ck_assert(ipcqi_name_valid(name_of_len(buf, 127)));
	ck_assert(ipcqi_name_valid(name_of_len(buf, 128)));
	ck_assert(!ipcqi_name_valid(name_of_len(buf, 129)));
	ck_assert(!ipcqi_name_valid(name_of_len(buf, 150)));
	ck_assert(ipcqi_name_valid_n(name_of_len(buf, 128), 128));
	ck_assert(!ipcqi_name_valid_n(name_of_len(buf, 129), 129));
	ck_assert(!ipcqi_name_valid_n("", 0));
}
END_TEST

START_TEST(embedded_nul_is_rejected)
{
	/* A counted string with a NUL inside must not pass as its prefix. */
	ck_assert(!ipcqi_name_valid_n("ab\0cd", 5));
	ck_assert(!ipcqi_name_valid_n("ab\0", 3));
	ck_assert(!ipcqi_name_valid_n("\0ab", 3));
	/* As a C string it is just "ab", which is valid. */
	ck_assert(ipcqi_name_valid("ab\0cd"));
}
END_TEST

START_TEST(counted_check_uses_only_len_bytes)
{
	/* Only the first len bytes count: a valid prefix of a longer,
	 * invalid buffer is valid, and the reverse is not. */
	ck_assert(ipcqi_name_valid_n("abc/def", 3));
	ck_assert(!ipcqi_name_valid_n("abc/def", 4));
	ck_assert(!ipcqi_name_valid_n("../x", 2));
}
END_TEST

START_TEST(never_reads_past_the_limit)
{
	/* An unterminated buffer of exactly NAME_MAX + 1 bytes: the check
	 * must stop there (ASan catches an overread). */
	char *buf = malloc(IPCQI_NAME_MAX + 1);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', IPCQI_NAME_MAX + 1);
	ck_assert(!ipcqi_name_valid(buf));
	free(buf);
}
END_TEST

static Suite *
names_suite(void)
{
	Suite *s  = suite_create("names");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, accepts_valid_names);
	tcase_add_test(tc, rejects_bad_names);
	tcase_add_test(tc, length_limit_is_128);
	tcase_add_test(tc, embedded_nul_is_rejected);
	tcase_add_test(tc, counted_check_uses_only_len_bytes);
	tcase_add_test(tc, never_reads_past_the_limit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(names_suite());
}
