/* SPDX-License-Identifier: MIT */
/* ESPHome's Noise key as users hold it: the base64 text of 32 bytes (`api: encryption: key:`). */
#ifndef OTK_CLI_NOISE_KEY_H
#define OTK_CLI_NOISE_KEY_H

#include <stdint.h>

/** Decode `text` (standard base64, padding required, no spaces) into the 32-byte key.
 *  @return 0, or -1 when it is not base64 of exactly 32 bytes, or is the all-zero key that
 *  ESPHome reserves for "unprovisioned". */
int cli_noise_key(const char *text, uint8_t key[32]);

#endif
