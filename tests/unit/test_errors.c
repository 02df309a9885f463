/*
 * unit.errors — the C error table (IPCQ_ERRNO_MAP) and the protocol's
 * Status enum agree name for name and number for number, and
 * ipcq_strerror/ipcq_err_name cover every row and nothing else.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ipcq.h"
#include "ipcq.pb-c.h"
#include "th_run.h"

struct err_row {
	const char *name;
	int         num;
	const char *msg;
};

static const struct err_row rows[] = {
#define ROW_(name, num, msg) { #name, num, msg },
	IPCQ_ERRNO_MAP(ROW_)
#undef ROW_
};
#define NROWS ((int) (sizeof(rows) / sizeof(rows[0])))

/* Compile-time: each C constant equals the generated protobuf constant. */
#define SAME_(name, num, msg)                                               \
	_Static_assert((int) IPCQ_##name ==                                 \
	        (int) IPCQ__V1__STATUS__STATUS_##name,                      \
	    "IPCQ_" #name " differs from STATUS_" #name);
IPCQ_ERRNO_MAP(SAME_)
#undef SAME_

START_TEST(every_row_has_a_status_with_the_same_number)
{
	const ProtobufCEnumDescriptor *d = &ipcq__v1__status__descriptor;

	for (int i = 0; i < NROWS; i++) {
		char                       pname[64];
		const ProtobufCEnumValue *v;

		snprintf(pname, sizeof(pname), "STATUS_%s", rows[i].name);
		v = protobuf_c_enum_descriptor_get_value_by_name(d, pname);
		ck_assert_msg(v != NULL, "Status has no %s", pname);
		ck_assert_msg(v->value == rows[i].num, "%s = %d, IPCQ_%s = %d",
		    pname, v->value, rows[i].name, rows[i].num);
		v = protobuf_c_enum_descriptor_get_value(d, rows[i].num);
		ck_assert_msg(v != NULL && strcmp(v->name, pname) == 0,
		    "Status %d is not %s", rows[i].num, pname);
	}
}
END_TEST

START_TEST(counts_agree)
{
	const ProtobufCEnumDescriptor *d = &ipcq__v1__status__descriptor;

	ck_assert_int_eq(NROWS, IPCQ_ERR_COUNT);
	ck_assert_int_eq((int) d->n_values, IPCQ_ERR_COUNT);
	/* Rows are numbered 0..N-1 in order (only ever appended). */
	for (int i = 0; i < NROWS; i++) {
		ck_assert_int_eq(rows[i].num, i);
	}
	/* And every Status value is one of the rows. */
	for (unsigned i = 0; i < d->n_values; i++) {
		int v = d->values[i].value;
		ck_assert_msg(v >= 0 && v < NROWS, "Status %s = %d has no row",
		    d->values[i].name, v);
		ck_assert_str_eq(d->values[i].name + strlen("STATUS_"),
		    rows[v].name);
	}
}
END_TEST

START_TEST(strerror_and_name_for_known_codes)
{
	for (int i = 0; i < NROWS; i++) {
		ck_assert_str_eq(ipcq_err_name(rows[i].num), rows[i].name);
		ck_assert_str_eq(ipcq_strerror(rows[i].num), rows[i].msg);
		/* Messages are distinct, so a user can tell errors apart. */
		for (int j = 0; j < i; j++) {
			ck_assert_str_ne(ipcq_strerror(rows[i].num),
			    ipcq_strerror(rows[j].num));
		}
	}
	ck_assert_str_eq(ipcq_err_name(IPCQ_ETIMEDOUT), "ETIMEDOUT");
	ck_assert_str_eq(ipcq_strerror(IPCQ_OK), "success");
	ck_assert_str_eq(ipcq_err_name(IPCQ_EOF), "EOF");
	ck_assert_str_eq(ipcq_err_name(IPCQ_EABANDONED), "EABANDONED");
}
END_TEST

START_TEST(strerror_and_name_for_unknown_codes)
{
	static const int unknown[] = { -1, IPCQ_ERR_COUNT, IPCQ_ERR_COUNT + 1,
		100, 1000, INT_MAX, INT_MIN };

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		ck_assert_ptr_nonnull(ipcq_strerror(unknown[i]));
		ck_assert_str_eq(ipcq_strerror(unknown[i]), "unknown error");
		ck_assert_str_eq(ipcq_err_name(unknown[i]), "UNKNOWN");
	}
}
END_TEST

START_TEST(strings_are_static)
{
	/* Same pointer on every call: static strings, no shared buffer. */
	ck_assert_ptr_eq(ipcq_strerror(IPCQ_EFULL), ipcq_strerror(IPCQ_EFULL));
	ck_assert_ptr_eq(ipcq_err_name(IPCQ_EFULL), ipcq_err_name(IPCQ_EFULL));
	ck_assert_ptr_ne(ipcq_strerror(IPCQ_EFULL), ipcq_strerror(IPCQ_EOF));
}
END_TEST

static Suite *
errors_suite(void)
{
	Suite *s  = suite_create("errors");
	TCase *tc = tcase_create("errors");

	tcase_add_test(tc, every_row_has_a_status_with_the_same_number);
	tcase_add_test(tc, counts_agree);
	tcase_add_test(tc, strerror_and_name_for_known_codes);
	tcase_add_test(tc, strerror_and_name_for_unknown_codes);
	tcase_add_test(tc, strings_are_static);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(errors_suite());
}
