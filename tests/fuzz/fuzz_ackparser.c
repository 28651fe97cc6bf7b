/* SPDX-License-Identifier: MIT */
/* The uploader's parser of the device's TCP replies (acks, "OK", error text), fed the input
 * whole and then split where the first byte says: the outcome (OK, error, its text) must not
 * depend on how TCP cut the stream, and the text must stay bounded and NUL-terminated. */
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
    FUZZ_CHECK(strlen(p->text) <= p->text_len);
    FUZZ_CHECK(!(p->ok && p->error));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct otk_ack_parser whole, split;
    size_t step;

    if (size == 0)
        return 0;
    step = (size_t)data[0] % 17u + 1u;
    data++;
    size--;
    otk_ack_parser_init(&whole);
    otk_ack_parser_feed(&whole, data, size);
    check(&whole);
    otk_ack_parser_init(&split);
    for (size_t off = 0; off < size; off += step) {
        otk_ack_parser_feed(&split, data + off, size - off < step ? size - off : step);
        check(&split);
    }
    otk_ack_parser_feed(&split, data, 0);
    FUZZ_CHECK(whole.ok == split.ok && whole.error == split.error);
    FUZZ_CHECK(whole.pending_o == split.pending_o);
    FUZZ_CHECK(whole.text_len == split.text_len);
    FUZZ_CHECK(memcmp(whole.text, split.text, whole.text_len) == 0);
    /* a run of digits cut by TCP may count twice, never less */
    FUZZ_CHECK(split.ack_count >= whole.ack_count);
    return 0;
}
