#include "webhook_listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/hashing.hpp"
#include "interrupt_watcher.hpp"
#include "webhook/signature.hpp"

namespace audiodrop::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Json = nlohmann::ordered_json;  // keys printed in the order they were sent

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
// A connection that sends nothing for this long is closed.
constexpr auto kIdleTimeout = std::chrono::seconds(30);

struct Verdict {
    http::status status = http::status::ok;
    std::string reason;      // one line, when not ok
    std::string event_line;  // the compact JSON, when ok
};

std::string_view header(const http::request<http::string_body>& request, std::string_view name) {
    const auto value = request[beast::string_view(name.data(), name.size())];
    return {value.data(), value.size()};
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Verdict judge(const http::request<http::string_body>& request,
              const WebhookListenOptions& options) {
    if (request.method() != http::verb::post) {
        return {http::status::method_not_allowed, "only POST is accepted", {}};
    }
    const std::string_view body = request.body();
    const auto now = unix_now();
    const auto plaud = webhook::verify_plaud(options.secret, header(request, "Plaud-Timestamp"),
                                             header(request, "Plaud-Signature"), body, now,
                                             options.tolerance_seconds);
    if (!plaud.ok) return {http::status::bad_request, "Plaud signature: " + plaud.why, {}};
    const auto standard = webhook::verify_standard(
        options.secret, header(request, "webhook-id"), header(request, "webhook-timestamp"),
        header(request, "webhook-signature"), body, now, options.tolerance_seconds);
    if (!standard.ok) {
        return {http::status::bad_request, "Standard Webhooks signature: " + standard.why, {}};
    }
    const auto event = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded()) return {http::status::bad_request, "the body is not JSON", {}};
    return {http::status::ok, {}, event.dump(-1, ' ', false, Json::error_handler_t::replace)};
}

void report(const Verdict& verdict, std::string_view target) {
    if (verdict.status == http::status::ok) {
        std::cout << verdict.event_line << '\n' << std::flush;
    } else {
        std::cerr << "audiodrop: refused " << target << ": " << verdict.reason << '\n';
    }
}

asio::awaitable<void> answer(beast::tcp_stream& stream, http::status status, unsigned version,
                             bool keep_alive, std::string body) {
    http::response<http::string_body> response{status, version};
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::move(body);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_write(stream, response, kAwait);
    if (ec) stream.close();
}

// One connection: requests one after the other until the client closes, stalls, or
// sends something that cannot be answered and kept open.
asio::awaitable<void> session(tcp::socket socket, const WebhookListenOptions& options) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (stream.socket().is_open()) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kMaxHeaderBytes);
        parser.body_limit(kMaxBodyBytes);
        stream.expires_after(kIdleTimeout);
        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kAwait);
        if (!ec && parser.get()[http::field::expect] == "100-continue") {
            // curl asks before sending a larger body; say go on rather than make it wait.
            http::response<http::empty_body> go_on{http::status::continue_, 11};
            std::tie(ec, n) = co_await http::async_write(stream, go_on, kAwait);
        }
        if (!ec) std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kAwait);
        if (ec == http::error::body_limit) {
            const Verdict verdict{http::status::payload_too_large, "the body is over 1 MiB", {}};
            report(verdict, "a request");
            std::string text = verdict.reason + "\n";
            co_await answer(stream, verdict.status, 11, false, std::move(text));
            break;
        }
        if (ec) {
            // The client went away or stalled (nothing to report), or sent bad HTTP.
            if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                ec != asio::error::connection_reset && ec != asio::error::eof) {
                const Verdict verdict{
                    http::status::bad_request, "malformed HTTP request: " + ec.message(), {}};
                report(verdict, "a request");
                std::string text = verdict.reason + "\n";
                co_await answer(stream, verdict.status, 11, false, std::move(text));
            }
            break;
        }
        const auto request = parser.release();
        const Verdict verdict = judge(request, options);
        const std::string target =
            std::string(request.method_string()) + " " + std::string(request.target());
        report(verdict, target);
        // Named, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
        std::string text = verdict.status == http::status::ok ? "ok\n" : verdict.reason + "\n";
        co_await answer(stream, verdict.status, request.version(), request.keep_alive(),
                        std::move(text));
        if (!request.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, const WebhookListenOptions& options) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(kAwait);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) {
            std::cerr << "audiodrop: accept failed: " << ec.message() << '\n';
            continue;
        }
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket), options),
                       asio::detached);
    }
}

// Ends the listener at the first SIGINT/SIGTERM. The watcher takes signals on its own
// thread, so a second one still exits at once (130) when stdout is blocked by a reader
// that stopped reading.
asio::awaitable<void> stop_when_interrupted(const InterruptWatcher& interrupt,
                                            asio::io_context& io) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!interrupt.raised().load()) {
        timer.expires_after(std::chrono::milliseconds(100));
        co_await timer.async_wait(kAwait);
    }
    io.stop();
}

bool valid_secret(const std::string& secret) {
    constexpr std::string_view kPrefix = "whsec_";
    std::string key;
    return secret.starts_with(kPrefix) && secret.size() > kPrefix.size() &&
           core::base64_decode(std::string_view(secret).substr(kPrefix.size()), key);
}

}  // namespace

void add_webhook_listen_options(CLI::App& listen, WebhookListenOptions& options) {
    listen.add_option("--port", options.port, "Port to listen on (0: any free one, printed)")
        ->required();
    listen
        .add_option("--secret", options.secret,
                    "The subscription's signing secret, whsec_... as the API returned it")
        ->required();
    listen.add_option("--host", options.host, "Address to listen on")->capture_default_str();
    listen
        .add_option("--tolerance", options.tolerance_seconds,
                    "Seconds a delivery's timestamp may be away from now")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
}

int run_webhook_listener(const WebhookListenOptions& options) {
    if (!valid_secret(options.secret)) {
        std::cerr << "audiodrop: --secret must be a webhook signing secret: whsec_ followed by "
                     "base64 (see --help)\n";
        return 2;
    }
    const InterruptWatcher interrupt;  // before any other thread
    asio::io_context io;
    tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    const auto found =
        resolver.resolve(options.host, std::to_string(options.port),
                         tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (!ec && found.empty()) ec = asio::error::host_not_found;
    if (!ec) {
        const tcp::endpoint endpoint = found.begin()->endpoint();
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor.bind(endpoint, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        std::cerr << "audiodrop: cannot listen on " << options.host << " port " << options.port
                  << ": " << ec.message() << '\n';
        return 1;
    }
    const auto bound = acceptor.local_endpoint();
    const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                     : bound.address().to_string();
    std::cerr << "listening on http://" << host << ":" << bound.port() << std::endl;

    asio::co_spawn(io, stop_when_interrupted(interrupt, io), asio::detached);
    asio::co_spawn(io, accept_loop(acceptor, options), asio::detached);
    io.run();
    return 0;
}

}  // namespace audiodrop::cli
