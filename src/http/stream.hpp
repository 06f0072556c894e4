#pragma once

// The byte stream under one connection: plain TCP, or TLS over TCP. The code that serves
// a connection (HttpServer, Exchange) is written once for both: Beast's HTTP reads and
// writes are templates on the stream, and visit() calls one with the stream's real type.
// Deadlines belong to the TCP layer (tcp().expires_after) and bound every read and write
// above it, TLS records included.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <utility>
#include <variant>

namespace audiodrop::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Completion token of every network wait: errors come back as values.
inline constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

class Stream {
  public:
    using TlsStream = beast::ssl_stream<beast::tcp_stream>;

    // TLS with `tls` when given, plain TCP when null. The stream keeps the context it
    // started with: a reload gives the listener a new one for later connections.
    Stream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls);

    // f(beast::tcp_stream&) or f(TlsStream&); both must return the same type.
    template <class F>
    decltype(auto) visit(F&& f) {
        return std::visit(std::forward<F>(f), stream_);
    }

    beast::tcp_stream& tcp();
    bool is_tls() const { return context_ != nullptr; }

    // TLS: the server's side of the handshake, cut off after `timeout`. Plain: nothing.
    asio::awaitable<beast::error_code> handshake(std::chrono::steady_clock::duration timeout);
    // Ends the connection. TLS first sends close_notify and gives the peer `timeout` to
    // answer with its own, so that a client can tell our close from a truncation.
    asio::awaitable<void> close(std::chrono::steady_clock::duration timeout);

  private:
    std::shared_ptr<asio::ssl::context> context_;  // declared first: outlives the stream
    std::variant<beast::tcp_stream, TlsStream> stream_;
};

// Writes a whole message, or the rest of what a serializer holds, under the deadline
// set on stream.tcp(). Resumes with (error_code, bytes written).
template <class Message>
auto write_all(Stream& stream, Message& message) {
    return stream.visit(
        [&](auto& s) { return boost::beast::http::async_write(s, message, kAwait); });
}

}  // namespace audiodrop::http
