#include "s3/s3_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/request_context.hpp"
#include "core/text.hpp"

namespace audiodrop::s3 {
namespace {

constexpr std::size_t kMaxIdleHandles = 32;
constexpr long kReadBufferBytes = 512 * 1024;  // CURL_MAX_READ_SIZE on older libcurl

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool retryable_status(long status) { return status == 429 || status >= 500; }

// Where a transfer's answer goes; curl's callbacks get it as their user pointer.
struct Transfer {
    S3Response* response = nullptr;
    // For a range of get(): the body goes here instead (see RangeRead).
    std::function<void(std::string_view)> body;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
        t->response->headers.clear();  // a new status line (after 100 Continue) starts over
        return line.size();
    }
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
        t->response->headers.emplace_back(core::ascii_lowercase(trim(line.substr(0, colon))),
                                          std::string(trim(line.substr(colon + 1))));
    }
    return line.size();
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view piece(data, size * count);
    if (t->body) {
        t->body(piece);
    } else {
        // S3's answers and error documents are small; object bytes go to `body`.
        t->response->body.append(piece);
    }
    return piece.size();
}

std::string hex_sha256(std::string_view body) { return core::to_hex(core::sha256(body)); }

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw std::runtime_error("curl_global_init failed");
        }
    });
}

}  // namespace

std::optional<std::string> S3Response::header(std::string_view lowercase_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lowercase_name) return value;
    }
    return std::nullopt;
}

S3Client::S3Client(S3ClientOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {
    init_curl_once();
}

S3Client::~S3Client() {
    for (void* h : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* S3Client::acquire_handle() {
    {
        std::lock_guard lock(pool_mutex_);
        if (!idle_handles_.empty()) {
            void* h = idle_handles_.back();
            idle_handles_.pop_back();
            return h;
        }
    }
    CURL* h = curl_easy_init();
    if (h == nullptr) throw std::runtime_error("curl_easy_init failed");
    return h;
}

void S3Client::release_handle(void* handle) {
    {
        std::lock_guard lock(pool_mutex_);
        if (idle_handles_.size() < kMaxIdleHandles) {
            idle_handles_.push_back(handle);
            return;
        }
    }
    curl_easy_cleanup(static_cast<CURL*>(handle));
}

std::string S3Client::host_endpoint() const {
    const auto& a = options_.address;
    if (a.path_style) return a.endpoint;
    const auto scheme_end = a.endpoint.find("://");
    if (scheme_end == std::string::npos) return a.endpoint;
    return a.endpoint.substr(0, scheme_end + 3) + a.bucket + "." +
           a.endpoint.substr(scheme_end + 3);
}

std::string S3Client::object_path(const std::string& key) const {
    const auto& a = options_.address;
    std::string path = a.path_style ? "/" + a.bucket + "/" : "/";
    return path + key;
}

struct S3Client::Exchange {
    CURLcode code = CURLE_OK;
    S3Response response;
};

void* S3Client::configure(void* handle, const S3Request& request) const {
    auto* curl = static_cast<CURL*>(handle);
    const std::string endpoint = host_endpoint();
    HeaderSignInput in{request.method,
                       endpoint,
                       object_path(request.key),
                       request.query,
                       request.headers,
                       hex_sha256(request.body),
                       clock_.now(),
                       options_.address.region,
                       "s3"};
    const SignedRequest signed_request = sign_headers(options_.credentials, in);

    curl_slist* header_list = nullptr;
    for (const auto* list : {&request.headers, &signed_request.headers}) {
        for (const auto& [name, value] : *list) {
            header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
        }
    }
    // Neither is signed; S3 needs neither, and a 100-continue round trip only adds latency.
    header_list = curl_slist_append(header_list, "Expect:");
    header_list = curl_slist_append(header_list, "Accept:");
    // The request this call is made for, for whoever reads S3's (or a proxy's) logs. Not
    // signed: S3 ignores headers it does not know, and the signature stays the same
    // whatever request asked.
    if (const auto& request_id = core::current_request_id(); !request_id.empty()) {
        header_list = curl_slist_append(header_list, ("X-Request-Id: " + request_id).c_str());
    }

    curl_easy_reset(curl);  // keeps the connection cache: the socket is reused
    const std::string url = endpoint + signed_request.target;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());  // copied by curl
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    // Only a stalled transfer is given up on: reading an object back may take long, and
    // S3 keeps a long CompleteMultipartUpload alive by sending spaces while it works.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, request.method == "GET" ? 1024L : 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options_.stall_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "audiodrop-server");
    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET") {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        // Object bytes come in large reads: fewer calls into the kernel and into the sink.
        curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kReadBufferBytes);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    }
    return header_list;
}

S3Client::Exchange S3Client::perform(const S3Request& request) {
    auto* curl = static_cast<CURL*>(acquire_handle());
    auto* header_list = static_cast<curl_slist*>(configure(curl, request));
    Exchange x;
    Transfer transfer{&x.response, {}};
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    x.code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &x.response.status);
    curl_slist_free_all(header_list);
    release_handle(curl);
    return x;
}

core::Error S3Client::unreachable(int curl_code) const {
    return core::make_error(
        core::ErrorKind::unavailable, "storage_unavailable",
        "the object store at " + options_.address.endpoint +
            " did not answer: " + curl_easy_strerror(static_cast<CURLcode>(curl_code)) + " (" +
            std::to_string(options_.max_attempts) + " attempts)");
}

void S3Client::back_off(unsigned attempt) const {
    thread_local std::mt19937 rng{std::random_device{}()};
    const auto full = options_.first_backoff * (1u << std::min(attempt, 10u));
    std::uniform_int_distribution<std::int64_t> jitter(full.count() / 2, full.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
}

core::Result<S3Response> S3Client::send(const S3Request& request) {
    Exchange x;
    for (unsigned attempt = 0; attempt < options_.max_attempts; ++attempt) {
        if (attempt > 0) back_off(attempt - 1);
        x = perform(request);
        if (x.code == CURLE_OK && !retryable_status(x.response.status)) break;
    }
    if (x.code != CURLE_OK) return unreachable(x.code);
    return std::move(x.response);
}

// One range of get(): the bytes [first, first + length) of the object.
struct S3Client::RangeRead {
    std::uint64_t first = 0;
    std::uint64_t length = 0;
    std::uint64_t received = 0;  // delivered to the sink or waiting in `ahead`
    std::string ahead;           // received before its turn
    bool streaming = false;      // its turn: bytes go straight to the sink
    bool done = false;
    unsigned attempts = 0;
    CURL* curl = nullptr;
    curl_slist* headers = nullptr;
    S3Response response;  // status and, on failure, the error document
    Transfer transfer;    // points at `response` once started
};

core::Error S3Client::range_failed(const std::string& key, const RangeRead& range) const {
    return core::make_error(
        core::ErrorKind::unavailable, "storage_unavailable",
        "the object store broke off reading " + key + " at byte " +
            std::to_string(range.first + range.received) + " (HTTP " +
            std::to_string(range.response.status) + ", " + std::to_string(range.attempts) +
            " attempts)" +
            (range.response.status == 412 ? ": the object changed while it was read" : ""));
}

core::Result<S3Response> S3Client::get(const std::string& key, const BodySink& sink) {
    AUDIODROP_TRY_ASSIGN(auto head, send(S3Request{"HEAD", key, {}, {}, {}}));
    std::uint64_t size = 0;
    const std::string length = head.header("content-length").value_or("");
    const std::string etag = head.header("etag").value_or("");
    const bool sized =
        std::from_chars(length.data(), length.data() + length.size(), size).ec == std::errc{};
    if (head.status != 200 || size == 0) return head;
    if (!sized || etag.empty()) {
        return core::make_error(core::ErrorKind::unavailable, "storage_unavailable",
                                "the object store gave no size or ETag for " + key);
    }

    // One stream reads the object in one request: ranges only pay where several run.
    const std::uint64_t range_bytes = options_.read_parallel > 1 ? options_.read_range_bytes : size;
    std::vector<RangeRead> ranges;  // never grows once a transfer points into it
    ranges.reserve(static_cast<std::size_t>((size - 1) / range_bytes + 1));
    for (std::uint64_t at = 0; at < size; at += range_bytes) {
        ranges.emplace_back();
        ranges.back().first = at;
        ranges.back().length = std::min(range_bytes, size - at);
    }
    CURLM* multi = curl_multi_init();
    const auto stop = [&](RangeRead& r) {
        if (r.curl == nullptr) return;
        curl_multi_remove_handle(multi, r.curl);
        curl_slist_free_all(r.headers);
        release_handle(r.curl);
        r.curl = nullptr;
        r.headers = nullptr;
    };
    // Asks for the part of `r` not received yet, pinned to the object the HEAD saw.
    const auto start = [&](RangeRead& r) {
        ++r.attempts;
        r.response = S3Response{};
        r.transfer.response = &r.response;
        r.curl = static_cast<CURL*>(acquire_handle());
        const S3Request request{"GET",
                                key,
                                {},
                                {{"if-match", etag},
                                 {"range", "bytes=" + std::to_string(r.first + r.received) + "-" +
                                               std::to_string(r.first + r.length - 1)}},
                                {}};
        r.headers = static_cast<curl_slist*>(configure(r.curl, request));
        r.transfer.body = [&r, &sink](std::string_view piece) {
            // The status line has been read by the time the body arrives.
            if (r.response.status == 0) {
                curl_easy_getinfo(r.curl, CURLINFO_RESPONSE_CODE, &r.response.status);
            }
            if (r.response.status != 206) {
                r.response.body.append(piece);  // an error document
                return;
            }
            if (r.streaming) {
                sink(piece);
            } else {
                r.ahead.append(piece);
            }
            r.received += piece.size();
        };
        curl_easy_setopt(r.curl, CURLOPT_HEADERDATA, &r.transfer);
        curl_easy_setopt(r.curl, CURLOPT_WRITEDATA, &r.transfer);
        curl_easy_setopt(r.curl, CURLOPT_PRIVATE, &r);
        curl_multi_add_handle(multi, r.curl);
    };
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.read_parallel));

    std::optional<core::Error> failure;
    std::size_t started = 0, next = 0;
    ranges[0].streaming = true;
    for (; started < ranges.size() && started < options_.read_parallel; ++started) {
        start(ranges[started]);
    }
    while (next < ranges.size() && !failure) {
        int running = 0;
        curl_multi_perform(multi, &running);
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
            if (msg->msg != CURLMSG_DONE) continue;
            RangeRead* r = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
            const CURLcode code = msg->data.result;
            curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->response.status);
            stop(*r);
            if (code == CURLE_OK && r->response.status == 206 && r->received == r->length) {
                r->done = true;
                if (started < ranges.size()) start(ranges[started++]);
            } else if ((code != CURLE_OK || retryable_status(r->response.status) ||
                        r->response.status == 206) &&
                       r->attempts < options_.max_attempts) {
                start(*r);  // resumes after what arrived
            } else {
                failure = range_failed(key, *r);
            }
        }
        // Hand over every range whose turn has come, in order.
        while (next < ranges.size() && ranges[next].done) {
            std::string().swap(ranges[next].ahead);
            if (++next == ranges.size()) break;
            auto& due = ranges[next];
            if (!due.ahead.empty()) sink(due.ahead);
            std::string().swap(due.ahead);
            due.streaming = true;
        }
        if (next < ranges.size() && !failure) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    for (auto& r : ranges) stop(r);
    curl_multi_cleanup(multi);
    if (failure) return *failure;
    return head;
}

core::Result<PresignInput> S3Client::presign_input(std::string_view method, const std::string& key,
                                                   std::chrono::seconds ttl) const {
    AUDIODROP_TRY(check_presign_ttl(ttl));
    return PresignInput{std::string(method),
                        host_endpoint(),
                        object_path(key),
                        {},
                        clock_.now(),
                        ttl,
                        options_.address.region,
                        "s3"};
}

core::Result<std::string> S3Client::presign(std::string_view method, const std::string& key,
                                            QueryParams query, std::chrono::seconds ttl) const {
    AUDIODROP_TRY_ASSIGN(auto in, presign_input(method, key, ttl));
    in.query = std::move(query);
    return presign_url(options_.credentials, in);
}

core::Result<std::vector<std::string>> S3Client::presign_parts(const std::string& key,
                                                               const std::string& upload_id,
                                                               std::uint32_t part_count,
                                                               std::chrono::seconds ttl) const {
    AUDIODROP_TRY_ASSIGN(auto in, presign_input("PUT", key, ttl));
    return presign_upload_parts(options_.credentials, std::move(in), upload_id, part_count);
}

}  // namespace audiodrop::s3
