// libFuzzer target: the X-Request-Id headers of a request, read the way HttpServer::serve
// reads them (http::request_id_of on the header Beast's request_parser<empty_body>
// parsed), and the id then echoed in the response, the error body and the log line.
//
// Input: the values of X-Request-Id headers, separated by NUL bytes (none: no header),
// each sent as one header line of a GET request.
//
// Properties beyond "no crash": the id is always well-formed (so it can go into a header,
// a JSON string and a log line as it is); when the request parsed with exactly one such
// header and its value is well-formed, that value is the id, else a fresh "req_" one.

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "fuzz_support.hpp"
#include "http/request_id.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;
namespace bhttp = boost::beast::http;

void request_with(const std::vector<std::string_view>& values) {
    std::string raw = "GET /v1/files HTTP/1.1\r\nHost: localhost\r\n";
    for (const auto value : values) {
        raw += "X-Request-Id: ";
        raw += value;
        raw += "\r\n";
    }
    raw += "\r\n";
    bhttp::request_parser<bhttp::empty_body> parser;
    parser.eager(false);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(raw), ec);
    if (ec || !parser.is_header_done()) return;  // refused before an id is chosen

    const auto& header = parser.get();
    const std::string id = http::request_id_of(header);
    check(http::well_formed_request_id(id), "the request's id is well-formed");
    const bool one = header.count("X-Request-Id") == 1;
    const std::string_view given = one ? header.find("X-Request-Id")->value() : "";
    if (one && http::well_formed_request_id(given)) {
        check(id == given, "a well-formed id the client sent is kept");
    } else {
        check(core::looks_like_id(id, "req_"), "otherwise a fresh req_ id is made");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    std::vector<std::string_view> values;
    while (!rest.empty() && values.size() < 8) values.push_back(fuzz::next_field(rest));
    request_with(values);
    return 0;
}
