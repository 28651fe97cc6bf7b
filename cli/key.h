/* SPDX-License-Identifier: MIT */
/* The Noise key on the command line (`--key BASE64`): ESPHome writes the 32-byte key of
 * `api: encryption:` / `ota: encryption:` as standard base64 (44 characters). */
#ifndef OTK_CLI_KEY_H
#define OTK_CLI_KEY_H

#include <stddef.h>
#include <stdint.h>

/** Decode a base64 key into out (32 bytes). Refuses what is not standard base64 of exactly 32
 *  bytes, and the all-zero key (ESPHome's "not provisioned").
 *  @return 0, or -1 with the reason in why. */
int cli_parse_key(const char *text, uint8_t out[32], char *why, size_t cap);

#endif
