#include "http/storage_handler.hpp"

#include <charconv>

#include "core/time_format.hpp"
#include "http/api_response.hpp"
#include "http/byte_range.hpp"
#include "http/offload.hpp"
#include "http/request_target.hpp"
#include "http/s3_response.hpp"
#include "storage/content_type.hpp"

namespace audiodrop::http {
namespace {

using core::ErrorKind;
using core::make_error;

core::Error s3_error_of(ErrorKind kind, const char* code, std::string message) {
    return make_error(kind, code, std::move(message));
}

// The request's own failures (reading the body, a full queue) in S3's words.
core::Error as_s3(core::Error e) {
    switch (e.reason) {
        case core::Reason::body_incomplete:
            e.code = "IncompleteBody";
            break;
        case core::Reason::client_timeout:
            e.code = "RequestTimeout";
            break;
        case core::Reason::server_busy:
            e.code = "SlowDown";  // S3's word for "reduce your request rate"
            break;
        default:
            break;
    }
    return e;
}

std::optional<std::uint32_t> part_number(std::string_view s) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v < 1 || v > 10000) return std::nullopt;
    return v;
}

}  // namespace

StorageHandler::StorageHandler(storage::EmbeddedBucket& bucket, s3::Credentials credentials,
                               std::string region, const core::Clock& clock, Metrics& metrics,
                               core::WorkerPool& disk)
    : bucket_(bucket),
      credentials_(std::move(credentials)),
      region_(std::move(region)),
      clock_(clock),
      metrics_(metrics),
      disk_(disk) {}

StringResponse StorageHandler::framing_error(unsigned status, std::string_view code,
                                             std::string_view message,
                                             const std::string& request_id) {
    // S3 has no codes of its own for unparseable requests; the message says what failed.
    // A refusal to take more connections is S3's throttle, which SDKs back off and retry.
    const bool throttled = status == 429 || status == 503;
    auto res =
        s3_error(make_error(ErrorKind::invalid_input, throttled ? "SlowDown" : "InvalidRequest",
                            std::string(message) + " (" + std::string(code) + ")"),
                 "", request_id, false);
    res.result(static_cast<bhttp::status>(status));
    return res;
}

asio::awaitable<void> StorageHandler::fail(Exchange& ex, const core::Error& error) {
    metrics_.count_error(error);  // once per answer, as ApiHandler::fail counts
    if (message_withheld(error)) ex.note_error(error.message);
    const auto path = split_target(ex.request().target()).path;
    co_await ex.send(
        s3_error(as_s3(error), path, ex.request_id(), ex.request().method() == bhttp::verb::head));
}

asio::awaitable<void> StorageHandler::handle(Exchange& ex) {
    // The listener calls this as soon as the header is parsed.
    const auto started = std::chrono::steady_clock::now();
    const auto& req = ex.request();
    const auto method = req.method();
    // By method alone, so that a refused signature counts under what it tried to do.
    const auto route = method == bhttp::verb::put ? RequestRoute::storage_part_put
                       : method == bhttp::verb::get || method == bhttp::verb::head
                           ? RequestRoute::storage_object_get
                           : RequestRoute::unmatched;
    const auto target = split_target(req.target());
    core::Result<s3::VerifiedRequest> verified = core::Error{};
    if (method != bhttp::verb::put && method != bhttp::verb::get && method != bhttp::verb::head) {
        verified = s3_error_of(ErrorKind::invalid_input, "MethodNotAllowed",
                               "only presigned PUT (UploadPart), GET and HEAD are served here");
    } else {
        const auto host = req.find(bhttp::field::host);
        s3::ReceivedRequest received{std::string(req.method_string()),
                                     host == req.end() ? "" : std::string(host->value()),
                                     std::string(target.path), std::string(target.query)};
        verified = s3::verify_presigned(received, credentials_, region_, clock_.now());
        // A HEAD with a URL presigned for GET is served too (S3 itself refuses it): it
        // reveals less than the GET it was signed for, and players and fetchers often
        // ask for the size first with the DownloadUrl they were given.
        if (!verified && method == bhttp::verb::head &&
            verified.error().reason == core::Reason::signature_mismatch) {
            received.method = "GET";
            verified = s3::verify_presigned(received, credentials_, region_, clock_.now());
        }
    }
    std::string key;
    if (verified) {
        // Path-style: /<bucket>/<key>.
        const auto& path = verified->path;
        const auto slash = path.find('/', 1);
        const auto bucket =
            path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
        if (bucket != bucket_.bucket()) {
            verified = s3_error_of(ErrorKind::not_found, "NoSuchBucket",
                                   "the bucket '" + bucket + "' does not exist here");
        } else if (slash == std::string::npos || slash + 1 == path.size()) {
            verified = s3_error_of(ErrorKind::invalid_input, "InvalidArgument",
                                   "the request names a bucket but no object key");
        } else {
            key = path.substr(slash + 1);
        }
    }
    if (!verified) {
        co_await fail(ex, verified.error());
    } else if (method == bhttp::verb::put) {
        co_await upload_part(ex, key, verified->query);
    } else {
        co_await get_object(ex, key);
    }
    metrics_.count_request(Metrics::Listener::storage, route, method, ex.status(),
                           std::chrono::steady_clock::now() - started);
}

asio::awaitable<void> StorageHandler::upload_part(Exchange& ex, const std::string& key,
                                                  const s3::QueryParams& query) {
    std::string upload_id;
    std::optional<std::uint32_t> part;
    for (const auto& [name, value] : query) {
        if (name == "uploadId") upload_id = value;
        if (name == "partNumber") part = part_number(value);
    }
    if (upload_id.empty() || !part) {
        co_await fail(ex, s3_error_of(ErrorKind::invalid_input, "InvalidArgument",
                                      "PUT needs partNumber (1-10000) and uploadId: only "
                                      "UploadPart is supported"));
        co_return;
    }
    const auto length = ex.content_length();
    if (!length) {
        co_await fail(ex, s3_error_of(ErrorKind::length_required, "MissingContentLength",
                                      "send the part with a Content-Length header"));
        co_return;
    }
    std::optional<core::Md5Digest> content_md5;
    if (auto it = ex.request().find(bhttp::field::content_md5); it != ex.request().end()) {
        std::string raw;
        if (!core::base64_decode(it->value(), raw) || raw.size() != 16) {
            co_await fail(ex, s3_error_of(ErrorKind::invalid_input, "InvalidDigest",
                                          "Content-MD5 must be the base64 of a 16-byte MD5"));
            co_return;
        }
        content_md5.emplace();
        std::copy(raw.begin(), raw.end(), content_md5->begin());
    }
    // Refused here, before a byte of the body is read, if the part may not be this big.
    auto writer = co_await offload(
        disk_, ex.request_id(), [&] { return bucket_.begin_part(key, upload_id, *part, *length); });
    if (!writer) {
        co_await fail(ex, writer.error());
        co_return;
    }
    co_await ex.continue_if_expected();
    auto stored = co_await receive_part(ex, **writer, content_md5);
    if (!stored) {
        co_await fail(ex, stored.error());
        co_return;
    }
    metrics_.count_part_stored();
    metrics_.add_part_bytes(stored->size);
    StringResponse res{bhttp::status::ok, 11};
    res.set(bhttp::field::etag, "\"" + stored->etag + "\"");
    res.set("x-amz-request-id", ex.request_id());
    co_await ex.send(std::move(res));
}

asio::awaitable<core::Result<storage::PartInfo>> StorageHandler::receive_part(
    Exchange& ex, storage::PartWriter& writer, const std::optional<core::Md5Digest>& content_md5) {
    // The socket's bytes land in the writer's buffer; the worker hashes and writes them
    // while the socket buffers the next. The part was admitted when it began, so its
    // pieces are never refused halfway.
    for (;;) {
        auto n = co_await ex.read_body_into(writer.receive_buffer());
        if (!n) co_return n.error();
        if (*n == 0) break;
        auto written = co_await offload(
            disk_, ex.request_id(), [&] { return writer.received(*n); }, Admission::admitted);
        if (!written) co_return written.error();
    }
    co_return co_await offload(
        disk_, ex.request_id(), [&] { return writer.commit(content_md5); }, Admission::admitted);
}

asio::awaitable<void> StorageHandler::get_object(Exchange& ex, const std::string& key) {
    auto reader =
        co_await offload(disk_, ex.request_id(), [&] { return bucket_.open_object(key); });
    if (!reader) {
        co_await fail(ex, reader.error());
        co_return;
    }
    auto& object = **reader;
    const std::uint64_t size = object.size();
    RangeRequest range;
    if (auto it = ex.request().find(bhttp::field::range); it != ex.request().end()) {
        range = parse_range(it->value(), size);
    }
    if (range.kind == RangeRequest::Kind::unsatisfiable) {
        auto res = s3_error(s3_error_of(ErrorKind::invalid_input, "InvalidRange",
                                        "the requested range is not satisfiable"),
                            key, ex.request_id(), ex.request().method() == bhttp::verb::head);
        res.set(bhttp::field::content_range, "bytes */" + std::to_string(size));
        co_await ex.send(std::move(res));
        co_return;
    }
    const bool partial = range.kind == RangeRequest::Kind::partial;
    const std::uint64_t first = partial ? range.first : 0;
    const std::uint64_t length = partial ? range.last - range.first + 1 : size;

    bhttp::response<bhttp::buffer_body> head{
        partial ? bhttp::status::partial_content : bhttp::status::ok, 11};
    head.set(bhttp::field::content_type, storage::content_type_for(key));
    head.set(bhttp::field::etag, "\"" + object.md5() + "\"");
    head.set(bhttp::field::last_modified, core::http_date(object.last_modified()));
    head.set(bhttp::field::accept_ranges, "bytes");
    head.set("x-amz-request-id", ex.request_id());
    if (partial) {
        head.set(bhttp::field::content_range, "bytes " + std::to_string(range.first) + "-" +
                                                  std::to_string(range.last) + "/" +
                                                  std::to_string(size));
    }
    if (ex.request().method() == bhttp::verb::head) {
        StringResponse res{head.result(), 11};
        for (const auto& field : head) res.set(field.name_string(), field.value());
        res.content_length(length);
        co_await ex.send(std::move(res));
        co_return;
    }
    const bool sent = co_await ex.send_streamed(
        std::move(head), length,
        [&](std::uint64_t offset,
            std::span<std::uint8_t> out) -> asio::awaitable<core::Result<std::size_t>> {
            co_return co_await offload(
                disk_, ex.request_id(), [&] { return object.read(first + offset, out); },
                Admission::admitted);
        });
    if (sent) metrics_.add_download_bytes(length);
}

}  // namespace audiodrop::http
