/* SPDX-License-Identifier: MIT */
/* JSON output shared by the subcommands: string escaping and the stable keys the --json
 * outputs use for image checks and otadata states. */
#ifndef OTK_CLI_JSON_H
#define OTK_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "otakit/image.h"

/** A JSON string from arbitrary bytes: valid UTF-8 passes, other bytes become U+FFFD. */
void cli_json_bytes(FILE *f, const uint8_t *s, size_t n);

/** A JSON string from a C string (NULL gives ""). */
void cli_json_str(FILE *f, const char *s);

/** Stable key of an image check result: "ok", "bad_magic", "wrong_chip", ... */
const char *cli_image_result_key(enum otk_image_result r);

/** Stable key of an otadata state: "new", "pending-verify", "valid", ... */
const char *cli_ota_state_key(uint32_t state);

#endif
