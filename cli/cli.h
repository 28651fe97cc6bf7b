/* SPDX-License-Identifier: MIT */
#ifndef OTK_CLI_H
#define OTK_CLI_H

#define OTK_VERSION_STR "0.1.0"

/* Exit codes shared by all subcommands; `otakit upload` adds its own (docs/CLI.md). */
#define OTK_EXIT_OK    0
#define OTK_EXIT_FAIL  1
#define OTK_EXIT_USAGE 2

int cmd_upload(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_list(int argc, char **argv);

#endif
