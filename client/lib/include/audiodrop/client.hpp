#pragma once

// libaudiodrop: a client for the Plaud-compatible File Upload API served by audiodrop.
//
// Embeddable: no global state; a Client is immutable after construction, so one Client
// may be used from many threads at once. Every call opens its own connections (one kept
// alive per worker thread) and closes them when it returns.

#include <atomic>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace audiodrop::client {

enum class ErrorKind {
    usage,         // the caller passed something unusable (unknown region, bad argument)
    network,       // no answer from the server after every retry
    http,          // the server refused; `code` and `message` are its own words
    verification,  // an ETag or FileMd5 did not match the bytes we sent
    io,            // reading the input or writing the output file failed
    cancelled,     // UploadOptions::cancel was raised
};

struct Error {
    ErrorKind kind = ErrorKind::network;
    int http_status = 0;  // 0 when no HTTP answer is behind the error
    std::string code;     // the API's error code (e.g. "unsupported_filetype") when known
    std::string message;
};

// Called by boost::system::result::value() when it holds an error.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

// Network errors, 5xx and 429 are retried with exponential backoff and full jitter;
// a Retry-After header (delta-seconds or HTTP-date) replaces the computed delay.
struct RetryPolicy {
    int max_attempts = 6;  // including the first
    std::chrono::milliseconds base_delay{200};
    std::chrono::milliseconds max_delay{10'000};
};

struct ClientOptions {
    // The API's address, as api_base_url() takes it: a URL with the base path
    // ("https://platform-us.plaud.ai/developer/api") or a bare host that gets
    // kDefaultBasePath ("http://127.0.0.1:8080"). One api_base_url() refuses is used as
    // given, and calls then fail; check it first for a message a user can act on.
    std::string endpoint;
    RetryPolicy retry;
    std::chrono::seconds connect_timeout{10};
    // A transfer slower than 1 byte/s for this long is abandoned (then retried).
    std::chrono::seconds stall_timeout{60};
    // Upload bandwidth cap per connection in bytes/s (0: none), to spare a shared uplink.
    std::uint64_t max_send_rate = 0;
    // A PEM file of CA certificates that https:// URLs, the API's and the storage
    // endpoint's, may chain to: for a server whose certificate a private CA issued.
    // Empty: the system's CAs only.
    std::string ca_cert;
};

// Where every API path sits on a host unless the URL says otherwise (Plaud's docs).
inline constexpr std::string_view kDefaultBasePath = "/developer/api";

// The base URL API calls are made under, from what a user gave: a URL with a path is
// used as given ("https://example.com/api"); a bare host ("http://127.0.0.1:8080", with or
// without a trailing '/') gets kDefaultBasePath. Without a scheme, a loopback host:port
// (as the server's ready line prints its listener) means http://; any other host must say
// http:// or https://. Trailing slashes are dropped. Anything else is ErrorKind::usage.
Result<std::string> api_base_url(std::string_view endpoint);

// The API host of a region name ("us", "jp", ...). A region that is not served yet is
// refused with ErrorKind::usage and a message saying so.
Result<std::string> endpoint_for_region(std::string_view region);

struct PartnerToken {
    std::string access_token;
    std::string refresh_token;
    std::int64_t expires_in = 0;
};

struct UserToken {
    std::string access_token;
    std::int64_t expires_in = 0;
};

struct UploadProgress {
    std::uint64_t bytes_total = 0;
    std::uint64_t bytes_done = 0;  // a high-water mark; parts already on the server count
    std::uint32_t parts_total = 0;
    std::uint32_t parts_done = 0;
};

struct UploadOptions {
    std::string filetype = "mp3";
    // Parts in flight at once; memory use is about parallel * ChunkSize.
    int parallel = 4;
    // Where resume journals live; empty disables resume.
    std::filesystem::path state_dir;
    // Called from worker threads (serialised: never two calls at once) as bytes go out
    // (every 256 KiB per connection) and as parts finish. If a resumed upload's URLs are
    // refused and it starts over, the count restarts from zero.
    std::function<void(const UploadProgress&)> on_progress;
    // Raised by the caller (e.g. from a signal-watching thread) to stop early: transfers in
    // flight are abandoned within about a second and the call returns ErrorKind::cancelled;
    // the journal is kept so a later call resumes.
    const std::atomic<bool>* cancel = nullptr;
};

struct UploadResult {
    std::string file_id;
    std::string file_type;
    std::string file_md5;
    std::string download_url;
    bool resumed = false;             // an earlier, interrupted upload was continued
    std::uint32_t parts_sent = 0;     // PUT by this call
    std::uint32_t parts_skipped = 0;  // already on the server with the right ETag
};

// GET /open/partner/files/{file_id}; the optional fields come once completed.
struct FileStatus {
    std::string file_id;
    std::string upload_id;
    std::string status;  // uploading | completed | aborted | expired
    std::uint64_t file_size = 0;
    std::string file_type;
    std::uint64_t chunk_size = 0;
    std::uint32_t part_count = 0;
    std::string created_at;
    std::string expires_at;
    std::string completed_at;
    std::string file_md5;
    std::string download_url;
};

class Client {
  public:
    explicit Client(ClientOptions options);

    // POST /oauth/partner/access-token with HTTP Basic credentials.
    Result<PartnerToken> partner_token(std::string_view client_id,
                                       std::string_view secret_key) const;
    // POST /open/partner/users/access-token with a partner token.
    Result<UserToken> user_token(std::string_view partner_token, std::string_view user_id,
                                 std::optional<std::int64_t> expires_in = std::nullopt) const;

    // Uploads `file` in parallel parts, reading it once: each part's MD5 and the whole
    // file's MD5 come from the same pass. Every ETag is checked against its part's MD5,
    // file_md5 is sent, and the returned FileMd5 is checked. With a state_dir, an
    // interrupted upload of the same unchanged file resumes (needs the list-parts
    // extension; without it, or if the stored presigned URLs are refused, it starts over).
    // Network errors, 5xx and 429 are retried per ClientOptions::retry; other 4xx fail at
    // once with the server's code and message.
    Result<UploadResult> upload(std::string_view user_token, const std::filesystem::path& file,
                                const UploadOptions& options) const;

    Result<FileStatus> status(std::string_view user_token, std::string_view file_id) const;

    // Downloads a completed file to `out` (written to a temp name, then renamed);
    // returns the number of bytes written.
    Result<std::uint64_t> download(std::string_view user_token, std::string_view file_id,
                                   const std::filesystem::path& out) const;

  private:
    ClientOptions options_;
};

}  // namespace audiodrop::client
