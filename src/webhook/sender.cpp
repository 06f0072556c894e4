#include "webhook/sender.hpp"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace audiodrop::webhook {
namespace {

// The same once-only initialisation as s3::S3Client's; this library must not link s3.
void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw std::runtime_error("curl_global_init failed");
        }
    });
}

// What one attempt's callbacks see and record.
struct Attempt {
    bool allow_private = false;
    std::size_t max_body = 0;
    std::size_t body_bytes = 0;
    bool body_over = false;
    std::size_t header_bytes = 0;
    bool headers_over = false;
    std::string refused;  // the first address refused, as a sentence
};

// libcurl opens every socket through this, after DNS and right before connect(): the
// one place to judge the address actually connected to.
curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
    auto* attempt = static_cast<Attempt*>(user);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;  // no accept(): not FTP
    const sockaddr* target = &address->addr;
    if (!attempt->allow_private) {
        const auto kind = internal_address_kind(target);
        if (!kind.empty()) {
            if (attempt->refused.empty()) {
                attempt->refused =
                    "refused: " + numeric_address(target) + " is " + std::string(kind);
            }
            return CURL_SOCKET_BAD;
        }
    }
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

std::size_t on_header(char*, std::size_t size, std::size_t count, void* user) {
    auto* attempt = static_cast<Attempt*>(user);
    const std::size_t n = size * count;
    attempt->header_bytes += n;
    if (attempt->header_bytes > kMaxResponseHeaderBytes) {
        attempt->headers_over = true;
        return 0;  // aborts the transfer
    }
    return n;
}

std::size_t on_body(char*, std::size_t size, std::size_t count, void* user) {
    auto* attempt = static_cast<Attempt*>(user);
    const std::size_t n = size * count;
    if (n > attempt->max_body - attempt->body_bytes) {
        attempt->body_over = true;
        return 0;
    }
    attempt->body_bytes += n;
    return n;
}

std::string duration_text(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
    return std::to_string(d.count()) + " ms";
}

bool header_safe(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string connect_failure(long os_errno, const std::string& detail) {
    switch (os_errno) {
        case ECONNREFUSED:
            return "connection refused";
        case ENETUNREACH:
            return "network unreachable";
        case EHOSTUNREACH:
            return "host unreachable";
        case 0:
            return "could not connect: " + detail;
        default:
            return "could not connect: " + std::string(std::strerror(static_cast<int>(os_errno)));
    }
}

std::string failure(CURLcode code, long os_errno, const Attempt& attempt, const char* detail,
                    const SendOptions& options) {
    if (attempt.body_over) {
        return "response over " + std::to_string(options.max_response_bytes) + " bytes";
    }
    if (attempt.headers_over) {
        return "response headers over " + std::to_string(kMaxResponseHeaderBytes) + " bytes";
    }
    const std::string text = *detail != '\0' ? detail : curl_easy_strerror(code);
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
            return "timed out after " + duration_text(options.timeout);
        case CURLE_COULDNT_CONNECT:
            if (!attempt.refused.empty()) return attempt.refused;
            return connect_failure(os_errno, text);
        case CURLE_COULDNT_RESOLVE_HOST:
            return "the host does not resolve: " + text;
        case CURLE_UNSUPPORTED_PROTOCOL:
            return "the URL's scheme is not allowed";
        case CURLE_PEER_FAILED_VERIFICATION:
            return "the receiver's TLS certificate did not verify: " + text;
        case CURLE_SSL_CONNECT_ERROR:
            return "the TLS handshake failed: " + text;
        case CURLE_GOT_NOTHING:
            return "the receiver closed the connection without an answer";
        default:
            return text;
    }
}

struct EasyDeleter {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct ListDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

SendResult post_json(const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::string_view body, const SendOptions& options) {
    if (auto syntax = check_url_syntax(url, options.policy); !syntax) {
        return SendResult{0, syntax.error().message};
    }
    std::unique_ptr<curl_slist, ListDeleter> list;
    const auto append = [&](const std::string& line) {
        curl_slist* grown = curl_slist_append(list.get(), line.c_str());
        if (grown == nullptr) throw std::bad_alloc();
        (void)list.release();  // now owned by `grown`
        list.reset(grown);
    };
    append("Content-Type: application/json");
    append("Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : headers) {
        if (name.empty() || !header_safe(name) || !header_safe(value) ||
            name.find_first_of(": \t") != std::string::npos) {
            return SendResult{0, "the header " + name + " is not a valid HTTP header"};
        }
        // "Name;" is libcurl's way to send a header with an empty value.
        append(value.empty() ? name + ";" : name + ": " + value);
    }

    init_curl_once();
    const std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
    if (!curl) throw std::bad_alloc();
    CURL* h = curl.get();
    Attempt attempt;
    attempt.allow_private = options.policy.allow_private;
    attempt.max_body = options.max_response_bytes;
    char detail[CURL_ERROR_SIZE] = {};
    const char* protocols = options.policy.allow_http ? "http,https" : "https";
    // libcurl reads 0 as "no timeout".
    const long timeout_ms = std::max<long>(1, static_cast<long>(options.timeout.count()));
    static constexpr char kEmpty[] = "";

    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // never $http_proxy and friends
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &attempt);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &attempt);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &attempt);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    // Without POSTFIELDS libcurl would read the body from stdin.
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data() != nullptr ? body.data() : kEmpty);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));

    const CURLcode code = curl_easy_perform(h);
    SendResult result;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
    if (code != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        result.error = failure(code, os_errno, attempt, detail, options);
    }
    return result;
}

}  // namespace audiodrop::webhook
