/* SPDX-License-Identifier: MIT */
/* Network fault injection for the emulator (`otakit device --fault KIND[:ARG]`): the specs and
 * the decisions, datagram by datagram and span by span of the TCP stream. The stage that applies
 * them between the device's sockets and the link model is sim/fault_stage.h. Every fault is
 * seeded and fires a fixed number of times (once by default), so a run is reproducible and an
 * uploader that retries can get through:
 *
 *   lose-invite[:K]     the first K invitations never reach the device
 *   lose-auth[:K]       the first K "AUTH <nonce>" challenges never reach the host
 *   lose-answer[:K]     the first K authentication answers ("200 ...") never reach the device
 *   lose-ok[:K]         the first K UDP "OK" replies never reach the host
 *   dup[:K]             the first K datagrams each way arrive twice (default: all of them)
 *   drop[:N]            the TCP connection is reset when its byte N arrives (the device got N
 *                       bytes); default N: a seeded random byte of the announced image
 *   stall[:S[:N]]       the link goes silent both ways for S seconds (default 3) from byte N
 *   refuse-connect[:K]  the first K connections back to the uploader are refused
 *   corrupt[:N]         byte N of the TCP stream is flipped (0x5A XOR), so the MD5 check fails
 *
 * drop, stall and corrupt fire on the first connection that reaches byte N. */
#ifndef OTK_FAULTS_H
#define OTK_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum otk_fault_kind {
    OTK_FAULT_LOSE_INVITE = 0,
    OTK_FAULT_LOSE_AUTH,
    OTK_FAULT_LOSE_ANSWER,
    OTK_FAULT_LOSE_OK,
    OTK_FAULT_DUP,
    OTK_FAULT_DROP,
    OTK_FAULT_STALL,
    OTK_FAULT_REFUSE_CONNECT,
    OTK_FAULT_CORRUPT,
    OTK_FAULT_KINDS
};

#define OTK_FAULTS_MAX        16
#define OTK_FAULT_CORRUPT_XOR 0x5Au /* what "corrupt" does to its byte */

struct otk_fault {
    enum otk_fault_kind kind;
    uint32_t left;     /* firings left (UINT32_MAX = unlimited) */
    bool at_random;    /* N not given: drawn from the seed once the image size is known */
    uint64_t at;       /* byte offset N (drop, stall, corrupt) */
    uint32_t stall_ms; /* stall */
    uint32_t fired;    /* times it fired */
};

struct otk_faults {
    struct otk_fault f[OTK_FAULTS_MAX];
    size_t n;
    uint64_t rng;
    uint32_t image_size; /* from the last invitation seen (0: none yet) */
    char last[160];      /* what the last firing did, for the log */
};

/** Start with no faults and a seed for the random byte offsets. */
void otk_faults_init(struct otk_faults *fs, uint64_t seed);

/** Re-seed the random byte offsets (keeps the faults added). */
void otk_faults_seed(struct otk_faults *fs, uint64_t seed);

/** Add one "KIND[:ARG[:ARG]]" spec. @return 0, or -1 with a message in err. */
int otk_faults_add(struct otk_faults *fs, const char *spec, char *err, size_t errcap);

/** The spec syntax, for --help. */
const char *otk_faults_help(void);

/** What to do with a datagram: how many copies arrive (0 = lost, 1, 2). Incoming (host to
 *  device) when `in`. Also learns the image size from invitations. */
int otk_faults_datagram(struct otk_faults *fs, bool in, const uint8_t *data, size_t len);

/** Whether the next connection back to the host is refused. */
bool otk_faults_refuse_connect(struct otk_faults *fs);

/** A span of the TCP stream: bytes [off, off + len) are about to arrive. */
struct otk_fault_span {
    size_t take;  /* bytes to let through now (<= len); then the event below */
    bool corrupt; /* flip the byte at corrupt_index (< take) */
    size_t corrupt_index;
    bool drop;  /* after `take` bytes: reset the connection */
    bool stall; /* after `take` bytes: the link goes silent for stall_ms */
    uint32_t stall_ms;
    /* private */
    struct otk_fault *cut;         /* the drop or stall that ends the span */
    struct otk_fault *corrupt_one; /* the corrupt fault inside it */
};

/** What the faults do to bytes [off, off + len) of the connection, if they get through; nothing
 *  counts as fired yet (the next stage may take fewer bytes than offered). */
void otk_faults_tcp(struct otk_faults *fs, uint64_t off, size_t len, struct otk_fault_span *out);

/** Bytes [off, off + used) of the span went on: count the faults that fired in them.
 *  @return true if the span's drop or stall fires now (all `take` bytes went on). */
bool otk_faults_tcp_passed(struct otk_faults *fs, uint64_t off, size_t used,
                           const struct otk_fault_span *sp);

/** A fault fired since the last call: copy its description to out. @return false if none. */
bool otk_faults_take_log(struct otk_faults *fs, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
