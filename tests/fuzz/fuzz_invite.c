/* SPDX-License-Identifier: MIT */
/* The UDP side of the protocol, both directions: invitations and auth answers (device side),
 * the first integer of a datagram, and the replies the uploader classifies. libFuzzer hands
 * the input in a heap block of exactly its size, so any read past the end is an ASan report. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/err.h"
#include "otakit/proto.h"

static bool
inside(const uint8_t *data, size_t size, const char *p, size_t n)
{
    return (const uint8_t *)p >= data && n <= size &&
           (size_t)((const uint8_t *)p - data) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct otk_invite inv, again;
    struct otk_auth_answer a;
    struct otk_reply rep;
    char buf[128];
    size_t n;

    if (otk_proto_parse_invite(data, size, &inv) == OTK_OK) {
        /* what the device keeps is well formed, and survives a round trip */
        FUZZ_CHECK(inv.port != 0);
        FUZZ_CHECK(strlen(inv.md5) == OTK_MD5_HEX_LEN);
        for (size_t i = 0; i < OTK_MD5_HEX_LEN; i++)
            FUZZ_CHECK((inv.md5[i] >= '0' && inv.md5[i] <= '9') ||
                       (inv.md5[i] >= 'a' && inv.md5[i] <= 'f'));
        n = otk_proto_format_invite(buf, sizeof buf, inv.cmd, inv.port, inv.size, inv.md5);
        FUZZ_CHECK(n > 0 && n < sizeof buf);
        FUZZ_CHECK(otk_proto_parse_invite((const uint8_t *)buf, n, &again) == OTK_OK);
        FUZZ_CHECK(again.cmd == inv.cmd && again.port == inv.port && again.size == inv.size &&
                   strcmp(again.md5, inv.md5) == 0);
        FUZZ_CHECK(otk_proto_peek_cmd(data, size) == inv.cmd);
    }
    (void)otk_proto_peek_cmd(data, size);
    if (otk_proto_parse_auth(data, size, &a) == OTK_OK) {
        FUZZ_CHECK(otk_proto_peek_cmd(data, size) == OTK_CMD_AUTH);
        FUZZ_CHECK(inside(data, size, a.cnonce, a.cnonce_len));
        FUZZ_CHECK(inside(data, size, a.response, a.response_len));
    }
    otk_proto_parse_reply(data, size, &rep);
    FUZZ_CHECK(rep.kind <= OTK_REPLY_OTHER);
    FUZZ_CHECK(inside(data, size, rep.text, rep.text_len));
    return 0;
}
