#include "http/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/ids.hpp"

namespace audiodrop::http {
namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// After refusing a body we did not read, keep reading (and dropping) for a moment so
// the client gets to read our answer instead of a connection reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;
constexpr std::size_t kReadBufferBytes = 128 * 1024;

}  // namespace

struct HttpServer::Connection {
    explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    bool busy = false;  // guarded by HttpServer::mutex_
};

core::Result<tcp::endpoint> parse_listen_address(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
        return core::make_error(core::ErrorKind::invalid_input, "invalid_listen",
                                "listen address '" + listen + "' must be host:port");
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    unsigned long port = 0;
    try {
        std::size_t used = 0;
        port = std::stoul(listen.substr(colon + 1), &used);
        if (used != listen.size() - colon - 1) port = 70000;
    } catch (const std::exception&) {
        port = 70000;
    }
    if (ec || port > 65535) {
        return core::make_error(core::ErrorKind::invalid_input, "invalid_listen",
                                "listen address '" + listen +
                                    "' must be an IP address and a port, e.g. 127.0.0.1:8080");
    }
    return tcp::endpoint{address, static_cast<unsigned short>(port)};
}

HttpServer::HttpServer(asio::io_context& ioc, std::string name, Handler& handler,
                       ConnectionLimits limits, core::Logger logger)
    : ioc_(ioc),
      name_(std::move(name)),
      handler_(handler),
      limits_(limits),
      logger_(std::move(logger)),
      acceptor_(asio::make_strand(ioc)) {}

HttpServer::~HttpServer() = default;

core::Result<void> HttpServer::start(const std::string& listen) {
    AUDIODROP_TRY_ASSIGN(const auto endpoint, parse_listen_address(listen));
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return core::make_error(core::ErrorKind::unavailable, "listen_failed",
                                "cannot listen on " + listen + ": " + ec.message());
    }
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
    return {};
}

tcp::endpoint HttpServer::local_endpoint() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec);
}

asio::awaitable<void> HttpServer::accept_loop() {
    while (!stopping_) {
        auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kAwait);
        if (ec) {
            if (stopping_ || ec == asio::error::operation_aborted) break;
            logger_->warn({{"listener", name_}, {"msg", "accept failed"}, {"error", ec.message()}});
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto conn = std::make_shared<Connection>(std::move(socket));
        {
            std::lock_guard lock(mutex_);
            connections_.insert(conn);
        }
        asio::co_spawn(
            conn->stream.get_executor(), serve(conn), [this, conn](std::exception_ptr failure) {
                if (!failure) return;
                // A bug, not a client: log it and drop the connection.
                try {
                    std::rethrow_exception(failure);
                } catch (const std::exception& e) {
                    logger_->error(
                        {{"listener", name_}, {"msg", "connection failed"}, {"error", e.what()}});
                }
                beast::error_code ec;
                conn->stream.socket().close(ec);
                std::lock_guard lock(mutex_);
                connections_.erase(conn);
            });
    }
}

asio::awaitable<void> HttpServer::serve(std::shared_ptr<Connection> conn) {
    beast::error_code ignored;
    const auto remote_ep = conn->stream.socket().remote_endpoint(ignored);
    const std::string remote = remote_ep.address().to_string();
    beast::flat_buffer buffer;
    // Beast reads into the buffer's spare capacity; left at a header's size, a part
    // body would arrive a few hundred bytes per read.
    buffer.reserve(kReadBufferBytes);
    bool keep_going = true;
    while (keep_going && !stopping_) {
        bhttp::request_parser<bhttp::empty_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
        // Each route sets the body limit it needs when it reads the body.
        parser.body_limit(boost::none);
        conn->stream.expires_after(limits_.idle_timeout);
        auto [ec, n] = co_await bhttp::async_read_header(conn->stream, buffer, parser, kAwait);
        if (ec) {
            // A clean close between requests, a timeout or a stop: nothing to answer.
            if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                ec == asio::error::eof || ec == bhttp::error::partial_message) {
                break;
            }
            const bool too_big = ec == bhttp::error::header_limit;
            auto res = handler_.framing_error(
                too_big ? 431 : 400, too_big ? "header_too_large" : "malformed_request",
                too_big ? "the request header is over the limit of " +
                              std::to_string(limits_.max_header_bytes) + " bytes"
                        : "the request could not be parsed as HTTP/1.1: " + ec.message(),
                core::new_id("req_"));
            res.keep_alive(false);
            res.prepare_payload();
            conn->stream.expires_after(limits_.idle_timeout);
            co_await bhttp::async_write(conn->stream, res, kAwait);
            logger_->info({{"listener", name_},
                           {"remote", remote},
                           {"status", res.result_int()},
                           {"error", ec.message()}});
            break;
        }
        {
            std::lock_guard lock(mutex_);
            conn->busy = true;
        }
        const auto started = std::chrono::steady_clock::now();
        Exchange exchange(conn->stream, buffer, parser, limits_, core::new_id("req_"));
        co_await handler_.handle(exchange);
        if (!exchange.responded()) {
            exchange.close_after();
            co_await exchange.send(handler_.framing_error(
                500, "internal", "the request was not answered", exchange.request_id()));
        }
        log_request(exchange, remote, started);
        keep_going = exchange.keep_alive();
        if (!exchange.body_done() && exchange.responded()) co_await linger_and_close(*conn);
        {
            std::lock_guard lock(mutex_);
            conn->busy = false;
        }
    }
    conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn->stream.close();
    std::lock_guard lock(mutex_);
    connections_.erase(conn);
}

asio::awaitable<void> HttpServer::linger_and_close(Connection& conn) {
    beast::error_code ec;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::vector<char> sink(64 * 1024);
    std::size_t drained = 0;
    const auto until = std::chrono::steady_clock::now() + kLingerTime;
    while (drained < kLingerBytes && std::chrono::steady_clock::now() < until) {
        conn.stream.expires_at(until);
        auto [rec, n] = co_await conn.stream.async_read_some(asio::buffer(sink), kAwait);
        if (rec) break;
        drained += n;
    }
}

void HttpServer::log_request(const Exchange& ex, const std::string& remote,
                             std::chrono::steady_clock::time_point started) const {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    const auto& req = ex.request();
    const auto target = req.target();
    // Never log the query: it carries presigned-URL signatures.
    const auto path = target.substr(0, target.find('?'));
    logger_->info({{"listener", name_},
                   {"request_id", ex.request_id()},
                   {"remote", remote},
                   {"method", std::string_view(req.method_string())},
                   {"path", std::string_view(path)},
                   {"status", ex.status()},
                   {"in", ex.bytes_in()},
                   {"out", ex.bytes_out()},
                   {"ms", static_cast<double>(micros) / 1000.0}});
}

void HttpServer::stop() {
    stopping_ = true;
    asio::post(acceptor_.get_executor(), [this] {
        beast::error_code ec;
        acceptor_.close(ec);
    });
    std::lock_guard lock(mutex_);
    for (const auto& conn : connections_) {
        if (conn->busy) continue;
        asio::post(conn->stream.get_executor(), [conn] { conn->stream.cancel(); });
    }
}

std::size_t HttpServer::open_connections() const {
    std::lock_guard lock(mutex_);
    return connections_.size();
}

}  // namespace audiodrop::http
