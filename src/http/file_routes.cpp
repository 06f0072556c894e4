// The File Upload API (Plaud-compatible) and audiodrop's extensions (DESIGN §2).

#include "core/time_format.hpp"
#include "http/api_handler.hpp"
#include "http/api_response.hpp"
#include "http/json_fields.hpp"
#include "http/request_target.hpp"
#include "s3/sigv4.hpp"

namespace audiodrop::http {
namespace {

using core::ErrorKind;
using core::make_error;
using json = nlohmann::ordered_json;

std::string quoted(const std::string& etag) { return "\"" + etag + "\""; }

std::string_view status_word(metadata::UploadState s) {
    switch (s) {
        case metadata::UploadState::open:
            return "uploading";
        case metadata::UploadState::completed:
            return "completed";
        case metadata::UploadState::aborted:
            return "aborted";
        case metadata::UploadState::expired:
            return "expired";
    }
    return "unknown";
}

// file_id and upload_id from the query string of a GET.
core::Result<std::pair<std::string, std::string>> upload_ids_from_query(std::string_view raw) {
    s3::QueryParams params;
    std::string file_id, upload_id;
    if (s3::parse_query(raw, params)) {
        for (auto& [name, value] : params) {
            if (name == "file_id") file_id = value;
            if (name == "upload_id") upload_id = value;
        }
    }
    if (file_id.empty() || upload_id.empty()) {
        return make_error(ErrorKind::invalid_input, "invalid_request",
                          "give file_id and upload_id as query parameters");
    }
    return std::pair{file_id, upload_id};
}

struct GenerateRequest {
    std::uint64_t filesize = 0;
    std::string filetype;
};

core::Result<GenerateRequest> generate_request(const std::string& text) {
    AUDIODROP_TRY_ASSIGN(auto req, parse_json_object(text));
    GenerateRequest out;
    AUDIODROP_TRY_ASSIGN(out.filesize,
                         required_positive_integer(req, "filesize", "invalid_filesize"));
    AUDIODROP_TRY_ASSIGN(out.filetype, required_string(req, "filetype"));
    return out;
}

std::string encode_started(const upload::StartedUpload& started) {
    json parts = json::array();
    for (const auto& p : started.parts) {
        parts.push_back({{"PartNumber", p.part_number}, {"PresignedUrl", p.url}});
    }
    return encode_json(json{{"FileId", started.file_id},
                            {"UploadId", started.upload_id},
                            {"ChunkSize", started.chunk_size},
                            {"Parts", std::move(parts)}});
}

std::string file_id_from_path(std::string_view path) {
    return std::string(path.substr(path.rfind('/') + 1));
}

}  // namespace

template <class Call>
asio::awaitable<void> ApiHandler::user_call(Exchange& ex, core::WorkerPool& pool, bool with_body,
                                            Call call) {
    co_await respond(
        ex, co_await [&]() -> asio::awaitable<core::Result<json>> {
            AUDIODROP_CO_TRY_ASSIGN(const auto owner, user(ex));
            std::string text;
            if (with_body) {
                AUDIODROP_CO_TRY_ASSIGN(text, co_await body(ex));
            }
            co_return co_await offload(pool, ex.request_id(), [&] { return call(owner, text); });
        }());
}

// The worker prepares the upload and encodes the answer, then is free again: the
// answer goes out once the upload's record has committed with others (group commit).
asio::awaitable<void> ApiHandler::generate_presigned_urls(Exchange& ex) {
    auto answer = co_await [&]() -> asio::awaitable<core::Result<std::string>> {
        AUDIODROP_CO_TRY_ASSIGN(const auto owner, user(ex));
        AUDIODROP_CO_TRY_ASSIGN(auto text, co_await body(ex));
        co_return co_await offload_until_answered<core::Result<std::string>>(
            pools_.metadata, ex.request_id(), [&](auto done) {
                auto req = generate_request(text);
                if (!req) return done(req.error());
                uploads_.generate_async(owner, req->filesize, req->filetype, encode_started,
                                        std::move(done));
            });
    }();
    if (!answer) {
        co_await fail(ex, answer.error());
    } else {
        metrics_.count_upload_started();
        co_await ex.send(api_json_text(200, std::move(*answer)));
    }
}

asio::awaitable<void> ApiHandler::complete_upload(Exchange& ex) {
    co_await user_call(
        ex, pools_.storage, true,
        [&](const upload::Owner& owner, const std::string& text) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto req, parse_json_object(text));
            upload::CompleteRequest complete;
            AUDIODROP_TRY_ASSIGN(complete.file_id, required_string(req, "file_id"));
            AUDIODROP_TRY_ASSIGN(complete.upload_id, required_string(req, "upload_id"));
            AUDIODROP_TRY_ASSIGN(complete.part_list, part_list(req));
            AUDIODROP_TRY_ASSIGN(complete.filetype, required_string(req, "filetype"));
            AUDIODROP_TRY_ASSIGN(complete.file_md5, optional_string(req, "file_md5"));
            AUDIODROP_TRY_ASSIGN(auto done, uploads_.complete(owner, complete));
            metrics_.count_upload_completed();
            return json{{"FileId", done.file_id},
                        {"FileType", done.filetype},
                        {"DownloadUrl", done.download_url},
                        {"FileMd5", done.file_md5}};
        });
}

asio::awaitable<void> ApiHandler::list_parts(Exchange& ex) {
    co_await user_call(
        ex, pools_.storage, false,
        [&](const upload::Owner& owner, const std::string&) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto ids,
                                 upload_ids_from_query(split_target(ex.request().target()).query));
            AUDIODROP_TRY_ASSIGN(auto received, uploads_.list_parts(owner, ids.first, ids.second));
            json parts = json::array();
            for (const auto& p : received.parts) {
                parts.push_back(
                    {{"PartNumber", p.part_number}, {"ETag", quoted(p.etag)}, {"Size", p.size}});
            }
            return json{{"FileId", received.upload.file_id},
                        {"UploadId", received.upload.upload_id},
                        {"ChunkSize", received.upload.chunk_size},
                        {"PartCount", received.upload.part_count},
                        {"Parts", std::move(parts)}};
        });
}

asio::awaitable<void> ApiHandler::abort_upload(Exchange& ex) {
    co_await user_call(
        ex, pools_.storage, true,
        [&](const upload::Owner& owner, const std::string& text) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto req, parse_json_object(text));
            AUDIODROP_TRY_ASSIGN(auto file_id, required_string(req, "file_id"));
            AUDIODROP_TRY_ASSIGN(auto upload_id, required_string(req, "upload_id"));
            AUDIODROP_TRY_ASSIGN(auto aborted, uploads_.abort(owner, file_id, upload_id));
            return json{{"FileId", aborted.file_id},
                        {"UploadId", aborted.upload_id},
                        {"Status", status_word(aborted.state)}};
        });
}

asio::awaitable<void> ApiHandler::get_file(Exchange& ex) {
    co_await user_call(ex, pools_.metadata, false,
                       [&](const upload::Owner& owner, const std::string&) -> core::Result<json> {
                           const auto file_id =
                               file_id_from_path(split_target(ex.request().target()).path);
                           AUDIODROP_TRY_ASSIGN(auto view, uploads_.get_file(owner, file_id));
                           const auto& u = view.upload;
                           json out{{"FileId", u.file_id},
                                    {"UploadId", u.upload_id},
                                    {"Status", status_word(u.state)},
                                    {"FileSize", u.filesize},
                                    {"FileType", u.filetype},
                                    {"ChunkSize", u.chunk_size},
                                    {"PartCount", u.part_count},
                                    {"CreatedAt", core::rfc3339(u.created_at)},
                                    {"ExpiresAt", core::rfc3339(u.expires_at)}};
                           if (u.completed_at) out["CompletedAt"] = core::rfc3339(*u.completed_at);
                           if (!u.file_md5.empty()) out["FileMd5"] = u.file_md5;
                           if (view.download_url) out["DownloadUrl"] = *view.download_url;
                           upload::add_audio_fields(u, out);  // probed at complete
                           return out;
                       });
}

asio::awaitable<void> ApiHandler::delete_file(Exchange& ex) {
    co_await user_call(ex, pools_.storage, false,
                       [&](const upload::Owner& owner, const std::string&) -> core::Result<json> {
                           const auto file_id =
                               file_id_from_path(split_target(ex.request().target()).path);
                           AUDIODROP_TRY(uploads_.delete_file(owner, file_id));
                           return json{{"FileId", file_id}, {"Deleted", true}};
                       });
}

}  // namespace audiodrop::http
