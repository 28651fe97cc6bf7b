/* SPDX-License-Identifier: MIT */
/* The uploader's parser of the device's TCP replies (acks, "OK", error text), fed the input
 * whole and then split where the first byte says: the outcome (OK, error, garbage, its text,
 * what the acks stand for) must not depend on how TCP cut the stream, and the text must stay
 * bounded, printable and NUL-terminated. A third pass ends a run of digits at every split, as
 * the uploader does when a read empties the socket, with the room the second byte gives: the
 * least reading (over-acknowledgement) must not move. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct otk_ack_parser *p)
{
    FUZZ_CHECK(p->text_len < sizeof p->text);
    FUZZ_CHECK(p->text[p->text_len] == '\0');
    FUZZ_CHECK(strlen(p->text) == p->text_len);
    for (size_t i = 0; i < p->text_len; i++)
        FUZZ_CHECK(p->text[i] >= 0x20 && p->text[i] < 0x7f);
    FUZZ_CHECK(!(p->ok && p->error));
}

static void
feed_in_steps(struct otk_ack_parser *p, const uint8_t *data, size_t size, size_t step,
              bool end_runs)
{
    for (size_t off = 0; off < size; off += step) {
        otk_ack_parser_feed(p, data + off, size - off < step ? size - off : step);
        if (end_runs)
            otk_ack_parser_end_run(p);
        check(p);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct otk_ack_parser whole, split, runs;
    size_t step;
    uint32_t room;

    if (size < 2)
        return 0;
    step = (size_t)data[0] % 17u + 1u;
    room = (uint32_t)data[1] * 97u;
    data += 2;
    size -= 2;
    otk_ack_parser_init(&whole);
    otk_ack_parser_feed(&whole, data, size);
    check(&whole);
    otk_ack_parser_init(&split);
    feed_in_steps(&split, data, size, step, false);
    otk_ack_parser_feed(&split, data, 0);
    FUZZ_CHECK(whole.ok == split.ok && whole.error == split.error);
    FUZZ_CHECK(whole.garbage == split.garbage);
    FUZZ_CHECK(whole.pending_o == split.pending_o);
    FUZZ_CHECK(whole.text_len == split.text_len);
    FUZZ_CHECK(memcmp(whole.text, split.text, whole.text_len) == 0);
    FUZZ_CHECK(whole.text_total == split.text_total);
    FUZZ_CHECK(whole.digits == split.digits);
    FUZZ_CHECK(whole.claimed_min == split.claimed_min);
    FUZZ_CHECK(whole.claimed == split.claimed);
    /* a run of digits cut by TCP may count twice, never less */
    FUZZ_CHECK(split.ack_count >= whole.ack_count);
    /* the reading for progress never falls below the least reading once its run ended */
    otk_ack_parser_end_run(&whole);
    FUZZ_CHECK(whole.claimed >= whole.claimed_min);
    /* runs ended at every cut, with some room: the least reading does not move */
    otk_ack_parser_init(&runs);
    runs.room = room;
    feed_in_steps(&runs, data, size, step, true);
    FUZZ_CHECK(runs.claimed_min == whole.claimed_min);
    FUZZ_CHECK(runs.digits == whole.digits);
    FUZZ_CHECK(runs.ok == whole.ok && runs.error == whole.error);
    return 0;
}
