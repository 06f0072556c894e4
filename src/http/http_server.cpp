#include "http/http_server.hpp"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/ids.hpp"
#include "http/request_framing.hpp"
#include "http/request_id.hpp"
#include "http/stream.hpp"
#include "http/tls_credentials.hpp"

namespace audiodrop::http {
namespace {

// After refusing a body we did not read, keep reading (and dropping) for a moment so
// the client gets to read our answer instead of a connection reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;
constexpr std::size_t kReadBufferBytes = 128 * 1024;
// A refused connection gets this long to take its answer. Past kMaxRefusing refusals
// in flight, more are closed without one: answering must not cost more than refusing.
constexpr auto kRefusalTime = std::chrono::seconds(1);
constexpr std::size_t kMaxRefusing = 64;
constexpr auto kMaxAcceptBackoff = std::chrono::milliseconds(1000);
// How long a TLS peer gets to answer our close_notify before the socket closes anyway.
constexpr auto kTlsCloseTime = std::chrono::seconds(1);

// Drops what the peer still sends, for at most `until` and `limit` bytes, after our
// send side is shut: closing a socket with unread input resets it, and the reset can
// destroy the answer before the client reads it.
asio::awaitable<void> drain(beast::tcp_stream& stream, std::chrono::steady_clock::time_point until,
                            std::size_t limit) {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::vector<char> sink(64 * 1024);
    std::size_t drained = 0;
    while (drained < limit && std::chrono::steady_clock::now() < until) {
        stream.expires_at(until);
        auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), kAwait);
        if (rec) break;
        drained += n;
    }
}

// Every X-Forwarded-For value of the request, in order, joined as one list.
std::string forwarded_for(const bhttp::request<bhttp::empty_body>& req) {
    std::string joined;
    const auto [first, last] = req.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) {
        if (!joined.empty()) joined += ',';
        joined += it->value();
    }
    return joined;
}

bool out_of_descriptors(const boost::system::error_code& ec) {
    return ec == asio::error::no_descriptors ||
           ec == boost::system::errc::too_many_files_open_in_system ||
           ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

struct HttpServer::Connection {
    Connection(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
               ConnectionGate::Ticket place)
        : stream(std::move(socket), std::move(tls)), ticket(std::move(place)) {}
    Stream stream;
    ConnectionGate::Ticket ticket;  // the connection's place, given back with it
    bool busy = false;              // guarded by HttpServer::mutex_
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
                       ConnectionLimits limits, ConnectionGate& gate, core::Logger logger,
                       const TlsCredentials* tls)
    : ioc_(ioc),
      name_(std::move(name)),
      handler_(handler),
      limits_(limits),
      gate_(gate),
      logger_(std::move(logger)),
      tls_(tls),
      acceptor_(asio::make_strand(ioc)) {}

HttpServer::~HttpServer() = default;

core::Result<tcp::acceptor> open_listener(asio::io_context& ioc, const std::string& listen) {
    AUDIODROP_TRY_ASSIGN(const auto endpoint, parse_listen_address(listen));
    tcp::acceptor acceptor(asio::make_strand(ioc));
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return core::make_error(core::ErrorKind::unavailable, "listen_failed",
                                "cannot listen on " + listen + ": " + ec.message());
    }
    return acceptor;
}

void HttpServer::start(tcp::acceptor listener) {
    acceptor_ = std::move(listener);
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

HttpServer::Refusals HttpServer::refusals() const {
    return {refused_address_full_.load(std::memory_order_relaxed),
            refused_server_full_.load(std::memory_order_relaxed),
            tls_handshakes_failed_.load(std::memory_order_relaxed),
            requests_rejected_.load(std::memory_order_relaxed)};
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
            co_await back_off(ec);
            continue;
        }
        accept_backoff_ = std::chrono::milliseconds(0);
        const auto from = socket.remote_endpoint(ec).address();
        ConnectionGate::Ticket ticket;
        if (const auto verdict = gate_.admit(from, ticket);
            verdict != ConnectionGate::Verdict::admitted) {
            (verdict == ConnectionGate::Verdict::address_full ? refused_address_full_
                                                              : refused_server_full_)
                .fetch_add(1, std::memory_order_relaxed);
            if (const auto count = refusal_warning_.occur()) {
                logger_->warn({{"listener", name_},
                               {"msg", "connections refused"},
                               {"reason", verdict == ConnectionGate::Verdict::address_full
                                              ? "too many from one address"
                                              : "too many in all"},
                               {"last_from", from.to_string()},
                               {"count", count}});
            }
            if (refusing_.fetch_add(1) < kMaxRefusing) {
                auto executor = socket.get_executor();
                asio::co_spawn(executor, refuse(std::move(socket), verdict), asio::detached);
            } else {
                --refusing_;
            }
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto conn =
            std::make_shared<Connection>(std::move(socket), tls_context(), std::move(ticket));
        {
            std::lock_guard lock(mutex_);
            connections_.insert(conn);
        }
        asio::co_spawn(
            conn->stream.tcp().get_executor(), serve(conn),
            [this, conn](std::exception_ptr failure) {
                if (!failure) return;
                // A bug, not a client: log it and drop the connection.
                try {
                    std::rethrow_exception(failure);
                } catch (const std::exception& e) {
                    logger_->error(
                        {{"listener", name_}, {"msg", "connection failed"}, {"error", e.what()}});
                }
                beast::error_code ec;
                conn->stream.tcp().socket().close(ec);
                std::lock_guard lock(mutex_);
                connections_.erase(conn);
            });
    }
}

asio::awaitable<void> HttpServer::back_off(const boost::system::error_code& ec) {
    // Out of descriptors, the pending connection stays queued and the next accept fails
    // at once: without a pause the loop would spin and flood the log.
    if (out_of_descriptors(ec)) {
        accept_backoff_ =
            std::clamp(accept_backoff_ * 2, std::chrono::milliseconds(10), kMaxAcceptBackoff);
    }
    if (const auto count = accept_warning_.occur()) {
        logger_->warn({{"listener", name_},
                       {"msg", "accept failed"},
                       {"error", ec.message()},
                       {"count", count},
                       {"retry_ms", accept_backoff_.count()}});
    }
    if (accept_backoff_.count() == 0) co_return;
    asio::steady_timer pause(acceptor_.get_executor(), accept_backoff_);
    co_await pause.async_wait(kAwait);
}

asio::awaitable<void> HttpServer::refuse(tcp::socket socket, ConnectionGate::Verdict verdict) {
    const bool address_full = verdict == ConnectionGate::Verdict::address_full;
    auto res = handler_.framing_error(
        address_full ? 429 : 503, "too_many_connections",
        address_full ? "this address has " + std::to_string(gate_.max_per_address()) +
                           " connections open, the most allowed; reuse or close one"
                     : "the server has as many connections open as it allows (" +
                           std::to_string(gate_.max_total()) + "); retry shortly",
        core::new_id("req_"));
    res.set(bhttp::field::retry_after, "1");
    res.keep_alive(false);
    res.prepare_payload();
    Stream stream(std::move(socket), tls_context());
    const auto until = std::chrono::steady_clock::now() + kRefusalTime;
    const auto handshake_error = co_await stream.handshake(kRefusalTime);
    if (!handshake_error) {
        stream.tcp().expires_at(until);
        auto [ec, n] = co_await write_all(stream, res);
        if (!ec) co_await drain(stream.tcp(), until, kReadBufferBytes);
    }
    stream.tcp().close();
    --refusing_;
}

std::shared_ptr<asio::ssl::context> HttpServer::tls_context() const {
    return tls_ != nullptr ? tls_->context() : nullptr;
}

asio::awaitable<bool> HttpServer::handshake(Stream& stream, const asio::ip::address& peer,
                                            std::chrono::steady_clock::duration timeout) {
    const auto ec = co_await stream.handshake(timeout);
    if (!ec) co_return true;
    tls_handshakes_failed_.fetch_add(1, std::memory_order_relaxed);
    // A client that does not trust us, speaks plain HTTP or an old TLS, or stalls: its
    // own side says why; one line a second is enough for the operator to notice.
    if (const auto count = handshake_warning_.occur()) {
        logger_->info({{"listener", name_},
                       {"msg", "tls handshakes failed"},
                       {"error", ec == beast::error::timeout ? "timed out" : ec.message()},
                       {"last_from", peer.to_string()},
                       {"count", count}});
    }
    co_return false;
}

asio::awaitable<void> HttpServer::serve(std::shared_ptr<Connection> conn) {
    beast::error_code ignored;
    const auto peer = conn->stream.tcp().socket().remote_endpoint(ignored).address();
    const bool proxied = gate_.proxies().trusts(peer);
    bool keep_going = co_await handshake(conn->stream, peer, limits_.handshake_timeout);
    // Bounded: a header, or a chunk-size line whose extensions never end, can grow it
    // only this far before the read fails.
    beast::flat_buffer buffer(kReadBufferBytes + limits_.max_header_bytes);
    // Beast reads into the buffer's spare capacity; left at a header's size, a part
    // body would arrive a few hundred bytes per read.
    buffer.reserve(kReadBufferBytes);
    while (keep_going && !stopping_) {
        bhttp::request_parser<bhttp::empty_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
        // Each route sets the body limit it needs when it reads the body.
        parser.body_limit(boost::none);
        conn->stream.tcp().expires_after(limits_.idle_timeout);
        auto [ec, n] = co_await conn->stream.visit(
            [&](auto& s) { return bhttp::async_read_header(s, buffer, parser, kAwait); });
        if (ec) {
            // A clean close between requests (a TLS peer may skip its close_notify), a
            // timeout or a stop: nothing to answer.
            if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                ec == asio::error::eof || ec == bhttp::error::partial_message ||
                ec == asio::ssl::error::stream_truncated) {
                break;
            }
            if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
                co_await reject(*conn, peer.to_string(), 431, "header_too_large",
                                "the request header is over the limit of " +
                                    std::to_string(limits_.max_header_bytes) + " bytes");
            } else {
                co_await reject(*conn, peer.to_string(), 400, "malformed_request",
                                "the request could not be parsed as HTTP/1.1: " + ec.message());
            }
            break;
        }
        if (auto problem = framing_problem(parser.get())) {
            co_await reject(*conn, peer.to_string(), problem->status, problem->code,
                            problem->message);
            break;
        }
        {
            std::lock_guard lock(mutex_);
            conn->busy = true;
        }
        const auto started = std::chrono::steady_clock::now();
        // Behind a trusted proxy each request names its own client.
        const auto client =
            proxied ? gate_.proxies().client_of(peer, forwarded_for(parser.get())) : peer;
        const std::string remote = client.to_string();
        Exchange exchange(conn->stream, buffer, parser, limits_, request_id_of(parser.get()),
                          address_key(client));
        co_await handler_.handle(exchange);
        if (!exchange.responded()) {
            exchange.close_after();
            co_await exchange.send(handler_.framing_error(
                500, "internal", "the request was not answered", exchange.request_id()));
        }
        log_request(exchange, remote, started);
        keep_going = exchange.keep_alive();
        if (!exchange.body_done() && exchange.responded()) {
            co_await drain(conn->stream.tcp(), std::chrono::steady_clock::now() + kLingerTime,
                           kLingerBytes);
        }
        {
            std::lock_guard lock(mutex_);
            conn->busy = false;
        }
    }
    co_await conn->stream.close(kTlsCloseTime);
    std::lock_guard lock(mutex_);
    connections_.erase(conn);
}

asio::awaitable<void> HttpServer::reject(Connection& conn, const std::string& remote,
                                         unsigned status, std::string_view code,
                                         const std::string& message) {
    requests_rejected_.fetch_add(1, std::memory_order_relaxed);
    auto res = handler_.framing_error(status, code, message, core::new_id("req_"));
    res.keep_alive(false);
    res.prepare_payload();
    conn.stream.tcp().expires_after(limits_.idle_timeout);
    auto [ec, n] = co_await write_all(conn.stream, res);
    logger_->info(
        {{"listener", name_}, {"remote", remote}, {"status", status}, {"error", message}});
    // Whatever body followed was never read.
    if (!ec)
        co_await drain(conn.stream.tcp(), std::chrono::steady_clock::now() + kLingerTime,
                       kLingerBytes);
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
    const std::array<core::LogField, 10> fields{
        {{"listener", name_},
         {"request_id", ex.request_id()},
         {"remote", remote},
         {"method", std::string_view(req.method_string())},
         {"path", std::string_view(path)},
         {"status", ex.status()},
         {"in", ex.bytes_in()},
         {"out", ex.bytes_out()},
         {"ms", static_cast<double>(micros) / 1000.0},
         // What the client was not told; empty for all but failures of the server.
         {"error", std::string_view(ex.error_detail())}}};
    const std::span<const core::LogField> all(fields);
    if (ex.error_detail().empty()) {
        logger_->info(all.first(all.size() - 1));
    } else {
        logger_->warn(all);
    }
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
        asio::post(conn->stream.tcp().get_executor(), [conn] { conn->stream.tcp().cancel(); });
    }
}

std::size_t HttpServer::open_connections() const {
    std::lock_guard lock(mutex_);
    return connections_.size();
}

}  // namespace audiodrop::http
