#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace audiodrop::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

using StringResponse = bhttp::response<bhttp::string_body>;
using RequestHeader = bhttp::request_header<>;

class Stream;

struct ConnectionLimits {
    std::size_t max_header_bytes = 16 * 1024;
    std::chrono::seconds idle_timeout{30};
    std::chrono::seconds request_timeout{300};
    // A TLS client has this long to finish its handshake.
    std::chrono::seconds handshake_timeout{10};
};

// One request and its answer on a keep-alive connection. The header has been read;
// a handler reads the body the way its route needs (whole and bounded, or streamed in
// chunks) and sends exactly one answer. Every read re-arms the idle timeout and
// stops at the request deadline, so a slow or silent client is cut off.
class Exchange {
  public:
    Exchange(Stream& stream, beast::flat_buffer& buffer,
             bhttp::request_parser<bhttp::empty_body>& header_parser,
             const ConnectionLimits& limits, std::string request_id, std::string client_address);

    const RequestHeader& request() const { return header_; }
    const std::string& request_id() const { return request_id_; }
    // The key the client's connections are counted under (address_key): its IPv4
    // address, or its IPv6 /64.
    const std::string& client_address() const { return client_address_; }
    // Content-Length when the request framed its body with one.
    std::optional<std::uint64_t> content_length() const;

    // Reads the whole body if it is at most `limit` bytes: too_large "body_too_large"
    // otherwise (before reading it when Content-Length says so).
    asio::awaitable<core::Result<std::string>> read_body(std::size_t limit);
    // Receives the next bytes of a body framed by Content-Length straight into `into`
    // (never through a parser's copy): how many, at most into.size() and never past
    // the body; 0 once the whole body has arrived. Errors: invalid_input
    // "incomplete_body" (the connection ended early) or "request_timeout" (the client
    // went silent).
    asio::awaitable<core::Result<std::size_t>> read_body_into(std::span<std::uint8_t> into);

    // Sends "100 Continue" when the client asked for it (Expect: 100-continue).
    asio::awaitable<bool> continue_if_expected();

    // Sends the answer. Content-Length is computed from the body unless already set
    // (HEAD answers set it to the size they would have sent).
    asio::awaitable<bool> send(StringResponse res);
    // Sends `head` and then `length` bytes that `read(offset, buffer)` produces, a
    // buffer at a time; read may suspend (to run a disk read on a worker pool). Only
    // the idle timeout applies, so a large file can be fetched over a slow link.
    using PieceSource = std::function<asio::awaitable<core::Result<std::size_t>>(
        std::uint64_t offset, std::span<std::uint8_t>)>;
    asio::awaitable<bool> send_streamed(bhttp::response<bhttp::buffer_body> head,
                                        std::uint64_t length, const PieceSource& read);

    // A header every answer to this request carries (CORS), set before the handler's own.
    void add_response_header(bhttp::field name, std::string value) {
        extra_headers_.emplace_back(name, std::move(value));
    }

    bool responded() const { return status_ != 0; }
    unsigned status() const { return status_; }
    bool body_done() const { return body_done_; }
    // The connection must close after this answer (client asked, body not read, ...).
    bool keep_alive() const;
    void close_after() { close_after_ = true; }
    // What went wrong, for the request log only (the client was told less).
    void note_error(std::string detail) { error_detail_ = std::move(detail); }
    const std::string& error_detail() const { return error_detail_; }
    std::uint64_t bytes_in() const { return bytes_in_; }
    std::uint64_t bytes_out() const { return bytes_out_; }

  private:
    // Until the request deadline or the idle timeout, whichever comes first.
    void arm_timer();
    // The idle timeout alone: a download may take longer than any request, as long as
    // it keeps moving.
    void arm_idle_timer();
    template <class Message>
    void finish_headers(Message& res);

    Stream& stream_;
    beast::flat_buffer& buffer_;
    bhttp::request_parser<bhttp::empty_body>& header_parser_;
    RequestHeader header_;  // a copy: the parser moves on to read the body
    bool request_keep_alive_;
    const ConnectionLimits& limits_;
    std::string request_id_;
    std::string client_address_;
    std::string error_detail_;
    std::chrono::steady_clock::time_point deadline_;
    unsigned status_ = 0;
    bool body_done_ = false;
    bool close_after_ = false;
    bool continue_sent_ = false;
    std::uint64_t bytes_in_ = 0;
    std::optional<std::uint64_t> body_left_;  // read_body_into: body bytes still to come
    std::uint64_t bytes_out_ = 0;
    std::vector<std::pair<bhttp::field, std::string>> extra_headers_;
};

}  // namespace audiodrop::http
