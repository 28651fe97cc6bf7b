/* SPDX-License-Identifier: MIT */
/* A firmware's own option file, as include/otakit/config.h reads it through OTK_CONFIG_FILE:
 * it names only what it changes. */
#define OTK_CFG_LOCK_PARTICIPANTS 3
#define OTK_CFG_PROTO_NATIVE      0
