#include "http/stream.hpp"

namespace audiodrop::http {
namespace {

using Variant = std::variant<beast::tcp_stream, Stream::TlsStream>;

Variant open(asio::ip::tcp::socket socket, asio::ssl::context* tls) {
    if (tls == nullptr) return Variant(std::in_place_index<0>, std::move(socket));
    return Variant(std::in_place_index<1>, std::move(socket), *tls);
}

}  // namespace

Stream::Stream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls)
    : context_(std::move(tls)), stream_(open(std::move(socket), context_.get())) {}

beast::tcp_stream& Stream::tcp() {
    return visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); });
}

asio::awaitable<beast::error_code> Stream::handshake(std::chrono::steady_clock::duration timeout) {
    auto* tls = std::get_if<TlsStream>(&stream_);
    if (tls == nullptr) co_return beast::error_code{};
    tcp().expires_after(timeout);
    auto [ec] = co_await tls->async_handshake(asio::ssl::stream_base::server, kAwait);
    co_return ec;
}

asio::awaitable<void> Stream::close(std::chrono::steady_clock::duration timeout) {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) {
        tcp().expires_after(timeout);
        // Fails at once when the peer is gone or the handshake never finished; either
        // way the socket closes below.
        [[maybe_unused]] auto [ec] = co_await tls->async_shutdown(kAwait);
    }
    beast::error_code ignored;
    tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    tcp().close();
}

}  // namespace audiodrop::http
