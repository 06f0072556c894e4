#include "http/exchange.hpp"

#include <memory>

#include "http/stream.hpp"

namespace audiodrop::http {
namespace {

constexpr std::size_t kChunkBytes = 256 * 1024;  // a download's piece, read then sent

core::Error connection_error(const beast::error_code& ec) {
    if (ec == bhttp::error::buffer_overflow) {
        return core::make_error(core::ErrorKind::invalid_input, "malformed_body",
                                "a chunk-size line (with its extensions) is too long");
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category() &&
        ec != bhttp::error::partial_message) {
        return core::make_error(core::ErrorKind::invalid_input, "malformed_body",
                                "the chunked body could not be parsed: " + ec.message());
    }
    if (ec == beast::error::timeout) {
        return core::make_error(core::ErrorKind::invalid_input, "request_timeout",
                                "the client sent nothing for too long",
                                core::Reason::client_timeout);
    }
    return core::make_error(core::ErrorKind::invalid_input, "incomplete_body",
                            "the connection ended before the whole body arrived: " + ec.message(),
                            core::Reason::body_incomplete);
}

}  // namespace

Exchange::Exchange(Stream& stream, beast::flat_buffer& buffer,
                   bhttp::request_parser<bhttp::empty_body>& header_parser,
                   const ConnectionLimits& limits, std::string request_id,
                   std::string client_address)
    : stream_(stream),
      buffer_(buffer),
      header_parser_(header_parser),
      header_(header_parser.get().base()),
      request_keep_alive_(header_parser.get().keep_alive()),
      limits_(limits),
      request_id_(std::move(request_id)),
      client_address_(std::move(client_address)),
      deadline_(std::chrono::steady_clock::now() + limits.request_timeout),
      body_done_(header_parser.is_done()) {}

std::optional<std::uint64_t> Exchange::content_length() const {
    if (header_parser_.chunked()) return std::nullopt;
    auto len = header_parser_.content_length();
    if (!len) return std::nullopt;
    return *len;
}

void Exchange::arm_idle_timer() { stream_.tcp().expires_after(limits_.idle_timeout); }

void Exchange::arm_timer() {
    const auto left = deadline_ - std::chrono::steady_clock::now();
    const auto idle =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(limits_.idle_timeout);
    stream_.tcp().expires_after(
        std::max(std::chrono::steady_clock::duration::zero(), std::min(left, idle)));
}

asio::awaitable<core::Result<std::string>> Exchange::read_body(std::size_t limit) {
    if (body_done_) co_return std::string{};
    const auto too_large = core::make_error(
        core::ErrorKind::too_large, "body_too_large",
        "the request body is over the limit of " + std::to_string(limit) + " bytes");
    if (auto len = content_length(); len && *len > limit) {
        close_after_ = true;
        co_return too_large;
    }
    // Asked only now: a client waiting for it sends nothing we are about to refuse.
    if (!co_await continue_if_expected()) {
        close_after_ = true;
        co_return connection_error(asio::error::connection_reset);
    }
    bhttp::request_parser<bhttp::string_body> parser{std::move(header_parser_)};
    parser.body_limit(limit);
    arm_timer();
    auto [ec, n] = co_await stream_.visit(
        [&](auto& s) { return bhttp::async_read(s, buffer_, parser, kAwait); });
    bytes_in_ += n;
    if (ec) {
        close_after_ = true;
        if (ec == bhttp::error::body_limit) co_return too_large;
        co_return connection_error(ec);
    }
    body_done_ = true;
    co_return std::move(parser.get().body());
}

asio::awaitable<core::Result<std::size_t>> Exchange::read_body_into(std::span<std::uint8_t> into) {
    if (!body_left_) body_left_ = body_done_ ? 0 : content_length().value_or(0);
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), *body_left_));
    if (*body_left_ == 0) body_done_ = true;
    if (want == 0) co_return std::size_t{0};
    std::size_t n = 0;
    if (buffer_.size() > 0) {
        // What the header read pulled in past the header comes first.
        n = asio::buffer_copy(asio::buffer(into.data(), want), buffer_.data());
        buffer_.consume(n);
    } else {
        arm_timer();
        // One receive takes whatever the socket holds, up to `want`: a fast client
        // fills the buffer, a slow one hands over what it sent so far.
        auto [ec, got] = co_await stream_.visit(
            [&](auto& s) { return s.async_read_some(asio::buffer(into.data(), want), kAwait); });
        if (ec) {
            close_after_ = true;
            co_return connection_error(ec);
        }
        n = got;
    }
    *body_left_ -= n;
    bytes_in_ += n;
    if (*body_left_ == 0) body_done_ = true;
    co_return n;
}

asio::awaitable<bool> Exchange::continue_if_expected() {
    if (continue_sent_ || body_done_) co_return true;
    const auto expect = header_.find(bhttp::field::expect);
    if (expect == header_.end() || !beast::iequals(expect->value(), "100-continue")) co_return true;
    continue_sent_ = true;
    bhttp::response<bhttp::empty_body> res{bhttp::status::continue_, header_.version()};
    arm_timer();
    auto [ec, n] = co_await write_all(stream_, res);
    co_return !ec;
}

bool Exchange::keep_alive() const { return request_keep_alive_ && body_done_ && !close_after_; }

template <class Message>
void Exchange::finish_headers(Message& res) {
    res.version(header_.version());
    res.set(bhttp::field::server, "audiodrop");
    res.set("X-Request-Id", request_id_);
    for (const auto& [name, value] : extra_headers_) res.set(name, value);
    res.keep_alive(keep_alive());
    status_ = res.result_int();
}

asio::awaitable<bool> Exchange::send(StringResponse res) {
    finish_headers(res);
    if (!res.has_content_length()) res.prepare_payload();
    arm_timer();
    auto [ec, n] = co_await write_all(stream_, res);
    bytes_out_ += n;
    if (ec) close_after_ = true;
    co_return !ec;
}

asio::awaitable<bool> Exchange::send_streamed(bhttp::response<bhttp::buffer_body> head,
                                              std::uint64_t length, const PieceSource& read) {
    finish_headers(head);
    head.content_length(length);
    head.body().data = nullptr;
    head.body().more = true;
    bhttp::response_serializer<bhttp::buffer_body> serializer{head};
    arm_idle_timer();
    auto [hec, hn] = co_await stream_.visit(
        [&](auto& s) { return bhttp::async_write_header(s, serializer, kAwait); });
    bytes_out_ += hn;
    if (hec) {
        close_after_ = true;
        co_return false;
    }
    const auto chunk_size = static_cast<std::size_t>(
        std::min<std::uint64_t>(kChunkBytes, std::max<std::uint64_t>(length, 1)));
    auto chunk = std::make_unique_for_overwrite<std::uint8_t[]>(chunk_size);
    std::uint64_t offset = 0;
    while (offset < length) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, length - offset));
        auto got = co_await read(offset, std::span<std::uint8_t>(chunk.get(), want));
        if (!got || *got == 0) {
            // The header promised bytes we cannot produce: end the connection so the
            // client sees a short body rather than wrong data.
            close_after_ = true;
            co_return false;
        }
        head.body().data = chunk.get();
        head.body().size = *got;
        head.body().more = true;
        arm_idle_timer();
        auto [ec, n] = co_await write_all(stream_, serializer);
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) {
            close_after_ = true;
            co_return false;
        }
        bytes_out_ += *got;
        offset += *got;
    }
    head.body().data = nullptr;
    head.body().more = false;
    arm_idle_timer();
    auto [ec, n] = co_await write_all(stream_, serializer);
    if (ec) close_after_ = true;
    co_return !ec;
}

}  // namespace audiodrop::http
