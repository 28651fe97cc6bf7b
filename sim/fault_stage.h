/* SPDX-License-Identifier: MIT */
/* Fault injection as a stage of the device's input (struct otk_dev_input): it sits between the
 * device's sockets and the link model and applies the --fault specs (sim/faults.h) to what goes
 * through it, both ways:
 *
 *   sockets (port) --input--> [fault stage] --input--> [link] --> ... --> engine
 *   engine --ops--> [link] --ops--> [fault stage] --ops--> sockets (port)
 *
 * Why there: every fault acts where the host's packets enter the air or the device's leave it,
 * so the air's timing applies to what the faults let through, as before they were a stage:
 *  - lost / duplicated datagrams: dropped or passed on twice, each copy then crosses the air;
 *  - refuse-connect: the connect the link releases is refused here (the op fails), and the link
 *    sends the refusal back across the air: the engine learns it one round trip after its SYN;
 *  - drop: the stage passes on the bytes before N, then the close (which crosses the air after
 *    them) and resets the host's connection through the ops it wraps (the port's tcp_abort;
 *    for the native protocol's accepted connection, which the port cannot reset, nat_close);
 *  - stall: the air going silent is the link's business: the stage says when (the silence hook,
 *    otk_link_silence in the emulator), the link holds both directions and stops pulling;
 *  - corrupt: the flipped byte goes on from the stage's own one-byte copy, the bytes around it
 *    where the port put them (the link's ring), so the image is still copied only twice.
 * Both TCP connections go through the same logic, each with its own offset: ArduinoOTA's
 * connection back to the uploader (on_tcp_data, tcp_* ops) and ESPHome's native connection the
 * port accepted (on_native_data, nat_* ops); byte N is counted from each connection's start.
 * The stage keeps no clock and no queue of its own. */
#ifndef OTK_FAULT_STAGE_H
#define OTK_FAULT_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "faults.h"
#include "otakit/device.h"
#include "otakit/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What the stage needs from its surroundings. */
struct otk_fault_stage_io {
    /** Towards the sockets: the port's ops (its tcp_abort, if any, resets for "drop"; a dropped
     *  native connection is closed with nat_close). */
    const struct otk_net_ops *down;
    /** "stall": make the air silent both ways for ms (NULL: the fault only stops the stream). */
    void (*silence)(void *user, uint32_t ms);
    /** One line about a fault that fired, for the emulator's log (may be NULL). */
    void (*log)(void *user, const char *text);
    void *user;
};

/* One connection's place in its stream. */
struct otk_fault_conn {
    uint64_t off; /* bytes of the current connection passed on */
    bool reset;   /* "drop" fired: the rest of this connection is gone */
};

struct otk_fault_stage {
    /* private */
    struct otk_faults *faults; /* the specs and their counts (the caller's) */
    struct otk_fault_stage_io io;
    struct otk_dev_input next; /* towards the engine */
    bool attached;
    struct otk_net_ops ops;    /* what the stage above sends through */
    struct otk_fault_conn tcp; /* ArduinoOTA's connection back to the uploader */
    struct otk_fault_conn nat; /* the native protocol's accepted connection */
};

/** A stage applying `faults` (kept by the caller, which may add specs before the first event). */
void otk_fault_stage_init(struct otk_fault_stage *st, struct otk_faults *faults,
                          const struct otk_fault_stage_io *io);

/** The ops the stage above (the link) sends through. */
const struct otk_net_ops *otk_fault_stage_ops(struct otk_fault_stage *st);

/** The stage's input table, for the port (user = st); with the native entries when io.down
 *  has nat_send / nat_close (a port serving ESPHome's native protocol). */
struct otk_dev_input otk_fault_stage_input(struct otk_fault_stage *st);

/** Where the stage delivers (the table is copied). */
void otk_fault_stage_attach(struct otk_fault_stage *st, const struct otk_dev_input *next);

#ifdef __cplusplus
}
#endif
#endif
