/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* The tail every unit test's main() shares. */
#ifndef IH_TEST_UNIT_RUN_H
#define IH_TEST_UNIT_RUN_H

#include <stdlib.h>

#include <check.h>

/* Run the suite, free it, and turn the result into an exit status. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
