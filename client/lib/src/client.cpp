#include "audiodrop/client.hpp"

#include <fstream>
#include <random>
#include <stdexcept>
#include <system_error>

#include "api_call.hpp"
#include "core/hashing.hpp"
#include "json_fields.hpp"
#include "retry.hpp"

namespace audiodrop::client {

using nlohmann::json;

void throw_exception_from_error(const Error& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
    if (auto base = api_base_url(options_.endpoint)) options_.endpoint = std::move(*base);
}

Result<PartnerToken> Client::partner_token(std::string_view client_id,
                                           std::string_view secret_key) const {
    HttpSession session(options_);
    std::mt19937_64 rng(std::random_device{}());
    ApiContext ctx{options_, session, rng};
    const std::string credentials = std::string(client_id) + ":" + std::string(secret_key);
    const auto basic = core::base64_encode(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(credentials.data()), credentials.size()));
    auto doc =
        call_api(ctx, "POST", "/oauth/partner/access-token", {"Authorization: Basic " + basic});
    if (!doc) return doc.error();
    PartnerToken token{string_field(*doc, "access_token"), string_field(*doc, "refresh_token"),
                       int_field(*doc, "expires_in")};
    if (token.access_token.empty()) {
        return Error{ErrorKind::http, 200, "bad_response", "the answer has no access_token"};
    }
    return token;
}

Result<UserToken> Client::user_token(std::string_view partner_token, std::string_view user_id,
                                     std::optional<std::int64_t> expires_in) const {
    HttpSession session(options_);
    std::mt19937_64 rng(std::random_device{}());
    ApiContext ctx{options_, session, rng};
    json body{{"user_id", user_id}};
    if (expires_in) body["expires_in"] = *expires_in;
    auto doc = call_api(ctx, "POST", "/open/partner/users/access-token",
                        {bearer(partner_token), "Content-Type: application/json"}, body.dump());
    if (!doc) return doc.error();
    UserToken token{string_field(*doc, "access_token"), int_field(*doc, "expires_in")};
    if (token.access_token.empty()) {
        return Error{ErrorKind::http, 200, "bad_response", "the answer has no access_token"};
    }
    return token;
}

Result<FileStatus> Client::status(std::string_view user_token, std::string_view file_id) const {
    HttpSession session(options_);
    std::mt19937_64 rng(std::random_device{}());
    ApiContext ctx{options_, session, rng};
    auto doc =
        call_api(ctx, "GET", "/open/partner/files/" + url_encode(file_id), {bearer(user_token)});
    if (!doc) return doc.error();
    FileStatus s;
    s.file_id = string_field(*doc, "FileId");
    s.upload_id = string_field(*doc, "UploadId");
    s.status = string_field(*doc, "Status");
    s.file_size = static_cast<std::uint64_t>(int_field(*doc, "FileSize"));
    s.file_type = string_field(*doc, "FileType");
    s.chunk_size = static_cast<std::uint64_t>(int_field(*doc, "ChunkSize"));
    s.part_count = static_cast<std::uint32_t>(int_field(*doc, "PartCount"));
    s.created_at = string_field(*doc, "CreatedAt");
    s.expires_at = string_field(*doc, "ExpiresAt");
    s.completed_at = string_field(*doc, "CompletedAt");
    s.file_md5 = string_field(*doc, "FileMd5");
    s.download_url = string_field(*doc, "DownloadUrl");
    return s;
}

Result<std::uint64_t> Client::download(std::string_view user_token, std::string_view file_id,
                                       const std::filesystem::path& out) const {
    auto file = status(user_token, file_id);
    if (!file) return file.error();
    if (file->download_url.empty()) {
        return Error{ErrorKind::http, 409, "upload_not_completed",
                     "file " + std::string(file_id) + " is " + file->status +
                         "; only a completed file can be downloaded"};
    }
    HttpSession session(options_);
    std::mt19937_64 rng(std::random_device{}());
    const auto temp = std::filesystem::path(out.string() + ".part");
    std::ofstream sink;
    std::uint64_t written = 0;
    core::Md5 md5;
    HttpRequest request;
    request.url = file->download_url;
    request.on_body = [&](std::string_view piece) {
        sink.write(piece.data(), static_cast<std::streamsize>(piece.size()));
        md5.update(piece);
        written += piece.size();
        return static_cast<bool>(sink);
    };
    auto response = perform_with_retry(session, request, options_.retry, rng, nullptr, [&] {
        // Each attempt starts the file over: a retried GET sends the whole body again.
        sink.close();
        sink.open(temp, std::ios::binary | std::ios::trunc);
        written = 0;
        md5 = core::Md5();
        return static_cast<bool>(sink);
    });
    sink.close();
    std::error_code ec;
    if (!response || response->status < 200 || response->status >= 300) {
        std::filesystem::remove(temp, ec);
        return response ? error_from_response(*response) : response.error();
    }
    if (!sink) {
        std::filesystem::remove(temp, ec);
        return Error{ErrorKind::io, 0, "write_failed", "could not write " + temp.string()};
    }
    if (written != file->file_size ||
        (!file->file_md5.empty() && core::to_hex(md5.digest()) != file->file_md5)) {
        std::filesystem::remove(temp, ec);
        return Error{ErrorKind::verification, 0, "download_mismatch",
                     "the downloaded bytes do not match the file's size or FileMd5"};
    }
    std::filesystem::rename(temp, out, ec);
    if (ec)
        return Error{ErrorKind::io, 0, "write_failed",
                     "rename to " + out.string() + ": " + ec.message()};
    return written;
}

}  // namespace audiodrop::client
