/* SPDX-License-Identifier: MIT */
/* `otakit`: dispatch to subcommands. Each lives in cmd_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "otakit/version.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"upload", cmd_upload, "upload a firmware or filesystem image (drop-in for espota.py)"},
    {"list", cmd_list, "find ArduinoOTA devices on the network (mDNS)"},
    {"device", cmd_device, "run an emulated ESP32/ESP8266 that accepts OTA updates"},
    {"image", cmd_image, "write a valid application image for tests and demos"},
    {"inspect", cmd_inspect, "show partitions, otadata and slot images of a flash file"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void
usage(FILE *to)
{
    fprintf(to, "usage: otakit <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(to, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(to, "\nRun 'otakit <command> --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return OTK_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("otakit %s\n", otk_version());
        return 0;
    }
    const char *names[NCOMMANDS + 2] = {"--help", "--version"};
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
        names[i + 2] = commands[i].name;
    }
    const char *hint = cli_closest_word(argv[1], names, NCOMMANDS + 2);
    fprintf(stderr, "otakit: error: unknown command '%s'", argv[1]);
    if (hint)
        fprintf(stderr, "; did you mean '%s'?", hint);
    fprintf(stderr, "\nTry 'otakit --help'.\n");
    return OTK_EXIT_USAGE;
}
