#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/error.hpp"
#include "core/log.hpp"
#include "http/exchange.hpp"

namespace audiodrop::http {

using tcp = asio::ip::tcp;

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
// (keep-alive). stop() closes the acceptor and the idle connections at once, and lets
// busy ones finish the request in hand, then close.
class HttpServer {
  public:
    HttpServer(asio::io_context& ioc, std::string name, Handler& handler, ConnectionLimits limits,
               core::Logger logger);
    ~HttpServer();

    // Binds and starts accepting. "host:port"; port 0 picks a free one.
    core::Result<void> start(const std::string& listen);
    tcp::endpoint local_endpoint() const;
    void stop();
    std::size_t open_connections() const;

  private:
    struct Connection;
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(std::shared_ptr<Connection> conn);
    asio::awaitable<void> linger_and_close(Connection& conn);
    void log_request(const Exchange& ex, const std::string& remote,
                     std::chrono::steady_clock::time_point started) const;

    asio::io_context& ioc_;
    std::string name_;
    Handler& handler_;
    ConnectionLimits limits_;
    core::Logger logger_;
    tcp::acceptor acceptor_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::set<std::shared_ptr<Connection>> connections_;
};

// Splits "host:port" or "[v6]:port" into an endpoint; invalid_input otherwise.
core::Result<tcp::endpoint> parse_listen_address(const std::string& listen);

}  // namespace audiodrop::http
