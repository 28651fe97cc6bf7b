/* SPDX-License-Identifier: MIT */
/* Test data the repository does not carry (see helper_testdata.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_testdata.h"

#ifndef OTK_TESTDATA_DEFAULT
#define OTK_TESTDATA_DEFAULT "../shared/testdata"
#endif

static void
firmware_path(const char *name, char *path, size_t size)
{
    const char *dir = getenv("OTK_TESTDATA");

    if (dir == NULL || *dir == '\0') {
        dir = OTK_TESTDATA_DEFAULT;
    }
    snprintf(path, size, "%s/firmware/%s", dir, name);
}

uint8_t *
testdata_load(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    uint8_t *buf = NULL;
    long n = -1;

    firmware_path(name, path, sizeof path);
    f = fopen(path, "rb");
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0) {
        rewind(f);
        buf = malloc((size_t)n);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    if (buf == NULL) {
        fail_msg("cannot read %s", path);
    }
    *len = (size_t)n;
    return buf;
}

int
testdata_main_(int argc, char **argv, const struct CMUnitTest *tests, size_t n,
               const struct CMUnitTest *data_tests, size_t data_n, const char *const *files)
{
    char path[1024];

    if (argc < 2 || strcmp(argv[1], "--testdata") != 0) {
        return _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
    }
    for (; *files != NULL; files++) {
        firmware_path(*files, path, sizeof path);
        if (access(path, R_OK) != 0) {
            /* the same words as tests/e2e/otk.py's needs_firmware */
            printf("skipped: no test data: %s is missing (firmware built by others, not in the "
                   "repository: ../shared/testdata beside it, or set OTK_TESTDATA)\n",
                   path);
            return TESTDATA_SKIPPED;
        }
    }
    return _cmocka_run_group_tests("testdata", data_tests, data_n, NULL, NULL);
}
