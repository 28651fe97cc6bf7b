/* SPDX-License-Identifier: MIT */
#ifndef OTK_CLI_H
#define OTK_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes shared by all subcommands; `otakit upload` adds its own (docs/CLI.md). */
#define OTK_EXIT_OK    0
#define OTK_EXIT_FAIL  1
#define OTK_EXIT_USAGE 2

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
/* "otakit CMD: error: ..." and the pointer to --help on stderr. @return OTK_EXIT_USAGE. */
int
cli_usage_error(const char *cmd, const char *fmt, ...);

#define CLI_WORD_MAX 40 /* longest word a typo check compares */

/* The candidate that `word` looks like a typo of (1 edit away, 2 for words longer than 4;
 * a swap of neighbours counts 1), or NULL. */
const char *cli_closest_word(const char *word, const char *const *cands, size_t n);

/* A chip's name on the command line: "esp32", "esp32c3", ..., "esp8266" (case-insensitive)
 * -> its OTK_CHIP_* value, OTK_CHIP_UNKNOWN for another word; and back (NULL: no name). */
int cli_chip_parse(const char *name);
const char *cli_chip_str(int chip);

/* The option parser of the subcommands, its help and its typo guesses: opts.h. */

int cmd_upload(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_list(int argc, char **argv);

#endif
