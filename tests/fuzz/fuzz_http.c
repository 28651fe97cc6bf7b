/* SPDX-License-Identifier: MIT */
/* The HTTP client codec's response parser (src/host/http.c), fed a device's answer whole and
 * then cut where the first byte says: the state, status, sizes, the kept body and the challenge
 * must not depend on how TCP cut the stream; the body stays within its buffer and
 * NUL-terminated; a complete answer never takes bytes past its end. The challenge it kept is
 * parsed and, when it is a Digest one, answered: the credentials fit or are refused, never
 * overrun. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct otk_http_resp *r)
{
    FUZZ_CHECK(r->body_len <= OTK_HTTP_BODY_KEEP);
    FUZZ_CHECK(r->body[r->body_len] == '\0');
    FUZZ_CHECK(r->body_seen >= r->body_len);
    FUZZ_CHECK(strlen(r->www_auth) < sizeof r->www_auth);
    FUZZ_CHECK(r->state != OTK_HTTP_P_ERROR || r->error);
    FUZZ_CHECK(r->status == 0 || (r->status >= 100 && r->status <= 599));
}

static size_t
feed_in_steps(struct otk_http_resp *r, const uint8_t *data, size_t size, size_t step)
{
    size_t used = 0;

    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        size_t u = otk_http_resp_feed(r, data + off, n);
        FUZZ_CHECK(u <= n);
        used += u;
        check(r);
        if (u < n) /* complete or broken: the rest belongs to no answer */
            break;
    }
    return used;
}

static void
answer_challenge(const char *value)
{
    struct otk_http_challenge c;
    struct fuzz_crypto fc;
    char out[OTK_HTTP_AUTH_MAX + 256];

    if (otk_http_parse_challenge(value, &c) < 0)
        return;
    FUZZ_CHECK(strlen(c.realm) < sizeof c.realm && strlen(c.nonce) < sizeof c.nonce);
    fuzz_crypto_init(&fc);
    size_t n = otk_http_digest(out, sizeof out, &fc.ops, &c, "admin", "pw", "POST", "/ota/upload",
                               "0011223344556677", 2);
    FUZZ_CHECK(n < sizeof out);
    if (n)
        FUZZ_CHECK(c.scheme == OTK_HTTP_AUTH_DIGEST && !c.unsupported && strlen(out) == n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct otk_http_resp whole, split;
    size_t step, used_whole, used_split;
    bool head;

    if (size < 2)
        return 0;
    step = (size_t)data[0] % 23u + 1u;
    head = data[1] & 1;
    data += 2;
    size -= 2;
    otk_http_resp_init(&whole, head);
    used_whole = otk_http_resp_feed(&whole, data, size);
    FUZZ_CHECK(used_whole <= size);
    check(&whole);
    otk_http_resp_init(&split, head);
    used_split = feed_in_steps(&split, data, size, step);
    FUZZ_CHECK(whole.state == split.state && whole.status == split.status);
    FUZZ_CHECK(whole.content_length == split.content_length);
    FUZZ_CHECK(whole.chunked == split.chunked && whole.conn_close == split.conn_close);
    FUZZ_CHECK(whole.body_len == split.body_len && whole.body_seen == split.body_seen);
    FUZZ_CHECK(memcmp(whole.body, split.body, whole.body_len) == 0);
    FUZZ_CHECK(strcmp(whole.www_auth, split.www_auth) == 0);
    if (whole.state == OTK_HTTP_P_COMPLETE)
        FUZZ_CHECK(used_whole == used_split);
    otk_http_resp_eof(&whole);
    check(&whole);
    FUZZ_CHECK(whole.state == OTK_HTTP_P_COMPLETE || whole.state == OTK_HTTP_P_ERROR);
    answer_challenge(whole.www_auth);
    return 0;
}
