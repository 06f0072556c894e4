#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/repeated_warning.hpp"
#include "http/connection_gate.hpp"
#include "http/exchange.hpp"

namespace audiodrop::http {

using tcp = asio::ip::tcp;
class Stream;
class TlsCredentials;

// What a listener does with each request. handle() sends exactly one answer through
// the exchange; framing_error() renders, in the listener's own format (JSON or S3
// XML), the answer to a request that could not even be parsed.
class Handler {
  public:
    virtual ~Handler() = default;
    virtual asio::awaitable<void> handle(Exchange& exchange) = 0;
    virtual StringResponse framing_error(unsigned status, std::string_view code,
                                         std::string_view message,
                                         const std::string& request_id) = 0;
};

// A listener: one coroutine per connection, on its own strand of a shared
// multi-threaded io_context; requests on a connection are served one after another
// (keep-alive). With TLS credentials every connection starts with a handshake, cut off
// after limits.handshake_timeout, and is served the same way afterwards. A connection
// the gate does not admit gets a short refusal (429 when its address has too many, 503
// when the server does) and is closed. When the process runs out of file descriptors,
// accepting backs off instead of spinning. stop() closes the acceptor and the idle
// connections at once, and lets busy ones finish the request in hand, then close.
class HttpServer {
  public:
    // `tls`: the credentials new connections get (null: plain HTTP); must outlive this.
    HttpServer(asio::io_context& ioc, std::string name, Handler& handler, ConnectionLimits limits,
               ConnectionGate& gate, core::Logger logger, const TlsCredentials* tls = nullptr);
    ~HttpServer();

    // Starts accepting on a listener from open_listener().
    void start(tcp::acceptor listener);
    // The bound address (the port the kernel picked when asked for port 0).
    tcp::endpoint local_endpoint() const;
    void stop();
    std::size_t open_connections() const;

    // What this listener turned away before any handler saw a request, since start.
    struct Refusals {
        std::uint64_t address_full = 0;  // connections answered 429: too many from one address
        std::uint64_t server_full = 0;   // connections answered 503: too many in all
        std::uint64_t tls_handshakes_failed = 0;
        std::uint64_t requests_rejected = 0;  // unparseable or badly framed (400, 431, ...)
    };
    Refusals refusals() const;

  private:
    struct Connection;
    asio::awaitable<void> accept_loop();
    // Answers a connection the gate refused (after its handshake, on TLS), then closes it.
    asio::awaitable<void> refuse(tcp::socket socket, ConnectionGate::Verdict verdict);
    // What a new connection speaks: the credentials' current context, or null (plain).
    std::shared_ptr<asio::ssl::context> tls_context() const;
    // The TLS handshake, if any; false (logged, at most once a second) when it failed.
    asio::awaitable<bool> handshake(Stream& stream, const asio::ip::address& peer,
                                    std::chrono::steady_clock::duration timeout);
    // Waits out a failed accept: longer each time the process is out of descriptors.
    asio::awaitable<void> back_off(const boost::system::error_code& ec);
    asio::awaitable<void> serve(std::shared_ptr<Connection> conn);
    // Answers a request that cannot be served (bad framing, oversized header) in the
    // listener's format; the connection closes after it.
    asio::awaitable<void> reject(Connection& conn, const std::string& remote, unsigned status,
                                 std::string_view code, const std::string& message);
    void log_request(const Exchange& ex, const std::string& remote,
                     std::chrono::steady_clock::time_point started) const;

    asio::io_context& ioc_;
    std::string name_;
    Handler& handler_;
    ConnectionLimits limits_;
    ConnectionGate& gate_;
    core::Logger logger_;
    const TlsCredentials* tls_;
    tcp::acceptor acceptor_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> refusing_{0};  // refusals being written right now
    std::atomic<std::uint64_t> refused_address_full_{0};
    std::atomic<std::uint64_t> refused_server_full_{0};
    std::atomic<std::uint64_t> tls_handshakes_failed_{0};
    std::atomic<std::uint64_t> requests_rejected_{0};
    std::chrono::milliseconds accept_backoff_{0};
    core::RepeatedWarning accept_warning_;
    core::RepeatedWarning refusal_warning_;
    core::RepeatedWarning handshake_warning_;
    mutable std::mutex mutex_;
    std::set<std::shared_ptr<Connection>> connections_;
};

// Splits "host:port" or "[v6]:port" into an endpoint; invalid_input otherwise.
core::Result<tcp::endpoint> parse_listen_address(const std::string& listen);

// Binds "host:port" (port 0: the kernel picks a free one) with SO_REUSEADDR and listens,
// on a strand of `ioc`. Connections wait in the backlog until an HttpServer starts on
// it, so a caller can learn the bound port before it builds what serves requests.
// unavailable "listen_failed" when the address cannot be bound.
core::Result<tcp::acceptor> open_listener(asio::io_context& ioc, const std::string& listen);

}  // namespace audiodrop::http
