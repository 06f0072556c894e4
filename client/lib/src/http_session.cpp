#include "http_session.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace audiodrop::client {
namespace {

struct Transfer {
    HttpResponse* response;
    const HttpRequest* request;
    CURL* curl;
    bool sink_refused = false;
    std::uint64_t read_offset = 0;  // of request->read_body
};

std::size_t on_read(char* out, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const auto want = static_cast<std::size_t>(
        std::min<std::uint64_t>(size * count, t->request->body_size - t->read_offset));
    if (want == 0) return 0;
    const std::size_t got = t->request->read_body(t->read_offset, std::span<char>(out, want));
    if (got == 0) return CURL_READFUNC_ABORT;  // the source ended early
    t->read_offset += got;
    return got;
}

// curl rewinds the body when it must send it again on the same request (a redirect, a
// connection it reused that turned out closed).
int on_seek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
    t->read_offset = static_cast<std::uint64_t>(offset);
    return CURL_SEEKFUNC_OK;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
        // A new status line (after 100 Continue or a redirect) starts a new header set.
        t->response->headers.clear();
        return size * count;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * count;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
    }
    t->response->headers[name] = std::string(value);
    return size * count;
}

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view piece(data, size * count);
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->request->on_body && status >= 200 && status < 300) {
        if (!t->request->on_body(piece)) {
            t->sink_refused = true;
            return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
        }
        return piece.size();
    }
    t->response->body.append(piece);
    return piece.size();
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t sent) {
    const auto* t = static_cast<Transfer*>(user);
    if (t->request->on_sent && sent > 0) t->request->on_sent(static_cast<std::uint64_t>(sent));
    return t->request->cancel != nullptr && t->request->cancel->load() ? 1 : 0;
}

}  // namespace

HttpSession::HttpSession(const ClientOptions& options)
    : handle_(curl_easy_init()), options_(options) {
    if (handle_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

HttpSession::~HttpSession() { curl_easy_cleanup(static_cast<CURL*>(handle_)); }

Result<HttpResponse> HttpSession::perform(const HttpRequest& request) {
    auto* curl = static_cast<CURL*>(handle_);
    // curl_easy_reset keeps the connection cache, so the next request reuses the socket.
    curl_easy_reset(curl);
    HttpResponse response;
    Transfer transfer{&response, &request, curl};

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count() * 1000));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options_.stall_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    if (request.cancel != nullptr || request.on_sent) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    }
    if (options_.max_send_rate > 0) {
        curl_easy_setopt(curl, CURLOPT_MAX_SEND_SPEED_LARGE,
                         static_cast<curl_off_t>(options_.max_send_rate));
    }
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "libaudiodrop/0.1");
    if (!options_.ca_cert.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_cert.c_str());

    if (request.method == "GET") {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.read_body) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(request.body_size));
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, &on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &on_seek);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
        // Bigger reads mean fewer calls to read_body: each is a pread.
        curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        // POSTFIELDS does not copy: the body view outlives the call by contract.
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    }

    curl_slist* headers = nullptr;
    // No "Expect: 100-continue" round trip before each part; no form content type on PUT.
    headers = curl_slist_append(headers, "Expect:");
    bool has_content_type = false;
    for (const auto& h : request.headers) {
        if (h.size() > 13 && (h.starts_with("Content-Type:") || h.starts_with("content-type:"))) {
            has_content_type = true;
        }
        headers = curl_slist_append(headers, h.c_str());
    }
    if (!has_content_type && request.method != "GET" && request.method != "HEAD") {
        headers = curl_slist_append(headers, "Content-Type:");
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
            return Error{ErrorKind::cancelled, 0, "cancelled", "cancelled"};
        }
        if (transfer.sink_refused) {
            return Error{ErrorKind::io, 0, "write_failed", "could not write the downloaded bytes"};
        }
        if (rc == CURLE_SSL_CACERT_BADFILE) {
            return Error{ErrorKind::usage, 0, "ca_cert",
                         "cannot use the CA certificates in " + options_.ca_cert};
        }
        return Error{ErrorKind::network, 0, "network",
                     request.method + " " + request.url.substr(0, request.url.find('?')) + ": " +
                         curl_easy_strerror(rc)};
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace audiodrop::client
