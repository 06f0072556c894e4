// libFuzzer target: a Range header as the storage endpoint's GET reads it
// (http::parse_range) for an object of a given size.
//
// Input: 8 bytes, the object's size (little-endian), then the header's value.
//
// Properties beyond "no crash": a partial range lies within the object (first <= last <
// size); the Content-Range the endpoint then sends, asked for again as a Range, is the
// same range; its length asked for as a suffix ("-N") is the object's last N bytes; its
// start asked for as an open range ("N-") ends at the last byte; a range that starts at
// the end is unsatisfiable.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "http/byte_range.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;
using Kind = http::RangeRequest::Kind;

std::string range_header(std::uint64_t first, std::uint64_t last) {
    return "bytes=" + std::to_string(first) + "-" + std::to_string(last);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    std::uint64_t object_size = 0;
    for (int i = 0; i < 8; ++i) object_size |= std::uint64_t{fuzz::next_byte(rest)} << (8 * i);
    const std::string_view header = rest;

    const auto range = http::parse_range(header, object_size);
    if (range.kind != Kind::partial) return 0;
    check(range.first <= range.last && range.last < object_size,
          "a partial range lies within the object");
    const auto again = http::parse_range(range_header(range.first, range.last), object_size);
    check(again.kind == Kind::partial && again.first == range.first && again.last == range.last,
          "the Content-Range sent, asked for again, is the same range");

    // The same range's length and start, in the two other spellings.
    const std::uint64_t length = range.last - range.first + 1;
    const auto suffix = http::parse_range("bytes=-" + std::to_string(length), object_size);
    check(suffix.kind == Kind::partial && suffix.last == object_size - 1 &&
              suffix.last - suffix.first + 1 == length,
          "a suffix range is the object's last bytes");
    const auto open = http::parse_range("bytes=" + std::to_string(range.first) + "-", object_size);
    check(open.kind == Kind::partial && open.first == range.first && open.last == object_size - 1,
          "an open range ends at the last byte");
    const auto past = http::parse_range("bytes=" + std::to_string(object_size) + "-", object_size);
    check(past.kind == Kind::unsatisfiable, "a range that starts at the end is unsatisfiable");
    return 0;
}
