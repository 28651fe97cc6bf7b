/* SPDX-License-Identifier: MIT */
/* Test data the repository does not carry: firmware images built by others, in
 * $OTK_TESTDATA/firmware, else in ../shared/testdata/firmware beside the repository (the
 * default CMake compiles in as OTK_TESTDATA_DEFAULT).
 *
 * A test program with cases that need it keeps them in a group of their own and ends with
 *     return testdata_main(argc, argv, tests, data_tests, files);
 * `prog` runs `tests`; `prog --testdata` (the ctest entry unit.NAME.testdata) runs `data_tests`
 * when every file named in `files` (NULL-terminated) is there, and otherwise prints one line
 * "skipped: <reason>" and exits with TESTDATA_SKIPPED, which ctest reports as skipped. */
#ifndef OTK_HELPER_TESTDATA_H
#define OTK_HELPER_TESTDATA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define TESTDATA_SKIPPED 77 /* ctest's SKIP_RETURN_CODE (tests/CMakeLists.txt) */

/* The contents of firmware image `name` (malloc'd; free it) and its length. A file that cannot
 * be read fails the running test. */
uint8_t *testdata_load(const char *name, size_t *len);

int testdata_main_(int argc, char **argv, const struct CMUnitTest *tests, size_t n,
                   const struct CMUnitTest *data_tests, size_t data_n, const char *const *files);
#define testdata_main(argc, argv, tests, data_tests, files)                                        \
    testdata_main_(argc, argv, tests, sizeof(tests) / sizeof((tests)[0]), data_tests,              \
                   sizeof(data_tests) / sizeof((data_tests)[0]), files)

#endif
