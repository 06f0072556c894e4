// libFuzzer target: the bytes a client sends on one connection, read the way
// HttpServer::serve and Exchange read them, and what the handlers take from each header.
// Per request: Beast's request_parser<empty_body> reads the header (16 KiB header limit,
// connection buffer bounded at 128 KiB + the header limit), framing_problem vets its body
// framing, then the body is read as the route reads it: PUT (the storage endpoint's part
// upload) streams a Content-Length body out of the buffer and off the connection as
// Exchange::read_body_into does; POST (the API) reads the whole body, Content-Length or
// chunked, through a request_parser<string_body> with a body limit as Exchange::read_body
// does, and parses it as the refresh route's form. From the header: the request-target
// split (request_target.hpp) and its query (s3::parse_query), Authorization: Basic and
// Content-MD5 (core::base64_decode), and both listeners' error documents echoing the path.
// The server's reads are asynchronous; Beast's synchronous reads used here are the same
// algorithm (http/impl/read.hpp), with the connection's bytes arriving in pieces.
//
// Input: byte 0 sets the body limit (0: the JSON routes' 1 MiB; n: 16n bytes, small enough
// for bodies to reach it, as the refresh route's 4 KiB is); byte 1 is a count n, and the
// n bytes after it are the sizes of the pieces the connection delivers, in turn (none:
// everything at once); the rest is what arrives, possibly several pipelined requests.
//
// Properties beyond "no crash": the connection buffer stays within its bound; a body read
// whole is at most its limit and, under Content-Length, exactly that long; the target
// splits into a path without '?' and a query that join back into it; a query that parses
// re-encodes (s3::uri_encode) into one that parses the same; base64 that decodes encodes
// back into base64 that decodes the same; the API's JSON and the storage endpoint's XML
// error documents stay parseable whatever path they echo.

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/hashing.hpp"
#include "fuzz_support.hpp"
#include "http/api_response.hpp"
#include "http/exchange.hpp"
#include "http/request_framing.hpp"
#include "http/request_target.hpp"
#include "http/s3_response.hpp"
#include "s3/s3_xml.hpp"
#include "s3/sigv4.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

const std::size_t kHeaderLimit = http::ConnectionLimits{}.max_header_bytes;
constexpr std::size_t kReadBufferBytes = 128 * 1024;  // HttpServer's connection buffer
constexpr int kMaxRequests = 64;                      // per connection, to bound a run

// A connection that hands over its bytes in pieces of the sizes given, in turn.
class PieceStream {
  public:
    PieceStream(std::string_view bytes, std::string_view sizes) : rest_(bytes), sizes_(sizes) {}

    template <class Buffers>
    std::size_t read_some(const Buffers& buffers, beast::error_code& ec) {
        ec = {};
        if (rest_.empty()) {
            ec = asio::error::eof;
            return 0;
        }
        const auto n = asio::buffer_copy(
            buffers, asio::buffer(rest_.data(), std::min(next_size(), rest_.size())));
        rest_.remove_prefix(n);
        return n;
    }

    template <class Buffers>
    std::size_t read_some(const Buffers& buffers) {
        beast::error_code ec;
        const auto n = read_some(buffers, ec);
        if (ec) throw beast::system_error(ec);
        return n;
    }

  private:
    // Pieces of 1 to 128 bytes, or of 512 bytes to 64 KiB in steps of 512.
    std::size_t next_size() {
        if (sizes_.empty()) return rest_.size();
        const auto b = static_cast<std::uint8_t>(sizes_[turn_++ % sizes_.size()]);
        return b < 128 ? std::size_t{b} + 1 : std::size_t{b - 127u} * 512;
    }

    std::string_view rest_;
    std::string_view sizes_;
    std::size_t turn_ = 0;
};

void check_buffer(const beast::flat_buffer& buffer) {
    check(buffer.size() <= kReadBufferBytes + kHeaderLimit, "the connection buffer is bounded");
}

void check_query(std::string_view raw) {
    s3::QueryParams params;
    if (!s3::parse_query(raw, params)) return;
    std::string again;
    for (const auto& [name, value] : params) {
        if (!again.empty()) again += '&';
        again += s3::uri_encode(name, true) + "=" + s3::uri_encode(value, true);
    }
    s3::QueryParams reparsed;
    check(s3::parse_query(again, reparsed) && reparsed == params,
          "a parsed query re-encodes into one that parses the same");
}

void check_base64(std::string_view text) {
    std::string decoded;
    if (!core::base64_decode(text, decoded)) return;
    check(decoded.size() <= text.size() / 4 * 3, "base64 decodes to at most 3 bytes per 4");
    const auto again = core::base64_encode(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(decoded.data()), decoded.size()));
    std::string redecoded;
    check(core::base64_decode(again, redecoded) && redecoded == decoded,
          "decoded base64 encodes back into base64 that decodes the same");
}

// What the handlers take from a header before any body.
void parse_header_fields(const http::RequestHeader& header) {
    const std::string_view target = header.target();
    const auto [path, query] = http::split_target(target);
    check(path.find('?') == std::string_view::npos, "the path holds no '?'");
    check(path.size() == target.size() ? query.empty()
                                       : std::string(path) + "?" + std::string(query) == target,
          "the path and query join back into the target");
    check_query(query);

    // ApiHandler::basic_credentials and StorageHandler::upload_part.
    constexpr std::string_view kBasic = "basic ";
    if (const auto it = header.find(bhttp::field::authorization); it != header.end()) {
        const std::string_view value = it->value();
        if (value.size() > kBasic.size() &&
            beast::iequals(value.substr(0, kBasic.size()), kBasic)) {
            check_base64(value.substr(kBasic.size()));
        }
    }
    if (const auto it = header.find(bhttp::field::content_md5); it != header.end()) {
        check_base64(it->value());
    }

    // The refusals of both listeners name the path they could not serve.
    const auto api = http::api_error(core::make_error(core::ErrorKind::not_found, "not_found",
                                                      "no such endpoint: " + std::string(path)),
                                     "req_fuzz");
    check(nlohmann::json::parse(api.body(), nullptr, false).is_object(),
          "the API's error body is a JSON object");
    const auto xml =
        http::s3_error(core::make_error(core::ErrorKind::not_found, "NoSuchKey", "no such key"),
                       path, "req_fuzz", false);
    check(s3::parse_error_body(xml.body()).has_value(),
          "the storage endpoint's error body is an S3 error document");
}

// Exchange::content_length.
std::optional<std::uint64_t> content_length(const bhttp::request_parser<bhttp::empty_body>& p) {
    if (p.chunked()) return std::nullopt;
    if (auto len = p.content_length()) return *len;
    return std::nullopt;
}

// Exchange::read_body: the whole body, refused past `limit`. False when the connection
// must close.
bool read_body(PieceStream& stream, beast::flat_buffer& buffer,
               bhttp::request_parser<bhttp::empty_body>& header_parser, std::size_t limit) {
    const auto length = content_length(header_parser);
    if (length && *length > limit) return false;
    bhttp::request_parser<bhttp::string_body> parser{std::move(header_parser)};
    parser.body_limit(limit);
    beast::error_code ec;
    bhttp::read(stream, buffer, parser, ec);
    check_buffer(buffer);
    if (ec) return false;
    std::string& body = parser.get().body();
    check(body.size() <= limit, "a body read whole is within its limit");
    if (length) check(body.size() == *length, "a body read whole is its Content-Length");
    // The refresh route's form body (refresh_token_field).
    std::replace(body.begin(), body.end(), '+', ' ');
    check_query(body);
    return true;
}

// Exchange::read_body_into as the part upload calls it: a Content-Length body, first
// what the header read buffered, then straight off the connection. False when the
// connection must close.
bool stream_body(PieceStream& stream, beast::flat_buffer& buffer,
                 const bhttp::request_parser<bhttp::empty_body>& header_parser) {
    const auto length = content_length(header_parser);
    if (!length) return false;  // MissingContentLength, the body left unread
    static std::vector<std::uint8_t> into(64 * 1024);
    std::uint64_t left = *length;
    while (left > 0) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), left));
        std::size_t n = 0;
        if (buffer.size() > 0) {
            n = asio::buffer_copy(asio::buffer(into.data(), want), buffer.data());
            buffer.consume(n);
        } else {
            beast::error_code ec;
            n = stream.read_some(asio::buffer(into.data(), want), ec);
            if (ec) return false;
        }
        check(n > 0 && n <= want, "a body read returns what was asked for at most");
        left -= n;
    }
    return true;
}

// HttpServer::serve: requests, one after another, while the connection may be kept.
void serve(PieceStream& stream, std::size_t body_limit) {
    beast::flat_buffer buffer(kReadBufferBytes + kHeaderLimit);
    buffer.reserve(kReadBufferBytes);
    for (int i = 0; i < kMaxRequests; ++i) {
        bhttp::request_parser<bhttp::empty_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
        parser.body_limit(boost::none);
        beast::error_code ec;
        bhttp::read_header(stream, buffer, parser, ec);
        check_buffer(buffer);
        if (ec) return;  // answered 400 or 431, or a clean close
        check(parser.is_header_done(), "a header read without error is complete");
        if (http::framing_problem(parser.get())) return;
        const http::RequestHeader header = parser.get().base();
        const bool keep_alive = parser.get().keep_alive();
        parse_header_fields(header);
        bool body_done = parser.is_done();
        if (!body_done && header.method() == bhttp::verb::put) {
            body_done = stream_body(stream, buffer, parser);
        } else if (!body_done && header.method() == bhttp::verb::post) {
            body_done = read_body(stream, buffer, parser, body_limit);
        }
        // Exchange::keep_alive; a body left unread closes the connection.
        if (!keep_alive || !body_done) return;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    const std::uint8_t limit = fuzz::next_byte(rest);
    const std::size_t count = std::min<std::size_t>(fuzz::next_byte(rest), rest.size());
    const std::string_view sizes = rest.substr(0, count);
    rest.remove_prefix(count);
    PieceStream stream(rest, sizes);
    serve(stream, limit == 0 ? core::Config{}.max_json_body_bytes : std::size_t{limit} * 16);
    return 0;
}
