/* SPDX-License-Identifier: MIT */
#ifndef OTK_CLI_H
#define OTK_CLI_H

#include <stdbool.h>

#define OTK_VERSION_STR "0.1.0"

/* Exit codes shared by all subcommands; `otakit upload` adds its own (docs/CLI.md). */
#define OTK_EXIT_OK    0
#define OTK_EXIT_FAIL  1
#define OTK_EXIT_USAGE 2

/* "--name value", "--name=value" or "-x value" (shrt may be NULL) at argv[*i]: the value, with
 * *i moved past it; NULL if argv[*i] is another option, or with *missing set if the value is
 * missing. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *lng, const char *shrt,
                          bool *missing);

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
/* "otakit CMD: error: ..." and the pointer to --help on stderr. @return OTK_EXIT_USAGE. */
int
cli_usage_error(const char *cmd, const char *fmt, ...);

int cmd_upload(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_list(int argc, char **argv);

#endif
