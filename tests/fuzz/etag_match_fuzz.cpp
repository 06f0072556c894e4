// libFuzzer target: If-None-Match as the demo page answers it (http::if_none_match_hits),
// against an ETag of the form the server sends.
//
// Input: the ETag's opaque text up to the first NUL (its bytes that RFC 9110 allows in
// an entity-tag, commas aside, are kept and quoted), then the header's value.
//
// Properties beyond "no crash" (ASan checks every read): the ETag alone, marked weak,
// or listed before or after the header, and "*" match; whatever comes before or after a
// matching header, past a comma, it still matches; a header that matches holds the ETag
// or a "*"; the ETag with one byte changed, or the weak prefix in lower case, does not.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "http/etag_match.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3), without the list separator.
bool is_etag_char(unsigned char c) { return c == 0x21 || (c >= 0x23 && c != 0x7F && c != ','); }

std::string quoted_etag(std::string_view opaque) {
    std::string etag = "\"";
    for (const unsigned char c : opaque) {
        if (is_etag_char(c)) etag += static_cast<char>(c);
    }
    return etag + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    const std::string etag = quoted_etag(fuzz::next_field(rest));
    const std::string header(rest);

    check(http::if_none_match_hits(etag, etag), "the ETag alone matches");
    check(http::if_none_match_hits("W/" + etag, etag), "the ETag marked weak matches");
    check(http::if_none_match_hits(header + ", W/" + etag, etag),
          "a list holding the ETag marked weak matches");
    check(http::if_none_match_hits("*", etag), "a star matches");
    check(http::if_none_match_hits(header + ", " + etag, etag), "a list holding the ETag matches");
    check(http::if_none_match_hits(etag + " ,\t" + header, etag),
          "a list starting with the ETag matches");
    check(http::if_none_match_hits(header + ",*", etag), "a list holding a star matches");
    check(!http::if_none_match_hits("w/" + etag, etag), "the weak prefix is an uppercase W");

    std::string changed = etag;
    changed[changed.size() / 2] ^= 1;
    check(!http::if_none_match_hits(changed, etag), "another tag does not match");

    if (!http::if_none_match_hits(header, etag)) return 0;
    check(header.find(etag) != std::string::npos || header.find('*') != std::string::npos,
          "a header that matches holds the ETag or a star");
    check(http::if_none_match_hits("\"x\"," + header, etag) &&
              http::if_none_match_hits(header + ",\"x\"", etag),
          "a matching list still matches with more items around it");
    return 0;
}
