// libFuzzer target: the storage endpoint's check of a presigned request,
// s3::verify_presigned called as StorageHandler::handle calls it (a fixed key pair,
// region and clock), and the presigning it must agree with.
//
// Input: byte 0 picks what the rest is.
//   even: a request as it arrives: method, NUL, Host header, NUL, raw path, NUL, raw query.
//   odd: a request to presign: byte 1 picks the endpoint, bytes 2-4 the expiry; then
//        method, NUL, decoded path, NUL, and query parameters as name, NUL, value, NUL...
//
// Properties beyond "no crash": a verified request's decoded path is never empty and its
// query holds no X-Amz-* parameter; a URL presign_url signs verifies (on the endpoint's
// Host) into the same path and parameters, and is refused with SignatureDoesNotMatch once
// one digit of its signature changes; presign_upload_parts gives, byte for byte, the URL
// presign_url gives for each part, and the part's URL carries partNumber and uploadId.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "s3/sigv4.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

const s3::Credentials kCredentials{"AKIDFUZZEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
constexpr std::string_view kRegion = "us-east-1";

struct Endpoint {
    std::string_view url;   // as presigned
    std::string_view host;  // the Host header a client sends to it
};
constexpr std::array kEndpoints = {
    Endpoint{"http://127.0.0.1:8081", "127.0.0.1:8081"},
    Endpoint{"https://storage.example.com", "storage.example.com"},
    Endpoint{"http://[::1]:9000", "[::1]:9000"},
};

// X-Amz-*, in any case, as the endpoint tells its own parameters from the request's.
// Not beast::iequals: Boost 1.81's reads a byte past both strings when they differ only
// in case, here past the end of the input.
bool is_amz(std::string_view name) {
    constexpr std::string_view kPrefix = "x-amz-";
    if (name.size() < kPrefix.size()) return false;
    for (std::size_t i = 0; i < kPrefix.size(); ++i) {
        const char c = name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] + 32) : name[i];
        if (c != kPrefix[i]) return false;
    }
    return true;
}

core::Result<s3::VerifiedRequest> verify(const s3::ReceivedRequest& req) {
    auto verified = s3::verify_presigned(req, kCredentials, kRegion, fuzz::kNow);
    if (verified) {
        check(!verified->path.empty(), "a verified path is never empty");
        for (const auto& [name, value] : verified->query) {
            check(!is_amz(name), "the verified query holds no X-Amz-* parameter");
        }
    }
    return verified;
}

// The request a client sends for `url`, presigned for `endpoint`.
s3::ReceivedRequest received(const std::string& method, const Endpoint& endpoint,
                             const std::string& url) {
    const auto rest = url.substr(endpoint.url.size());
    const auto q = rest.find('?');
    return {method, std::string(endpoint.host), rest.substr(0, q), rest.substr(q + 1)};
}

void presign_and_verify(std::string_view rest) {
    const auto& endpoint = kEndpoints[fuzz::next_byte(rest) % kEndpoints.size()];
    std::uint32_t expires = fuzz::next_byte(rest);
    expires |= std::uint32_t{fuzz::next_byte(rest)} << 8;
    expires |= std::uint32_t{fuzz::next_byte(rest)} << 16;
    s3::PresignInput in;
    in.method = std::string(fuzz::next_field(rest));
    in.endpoint = std::string(endpoint.url);
    in.path = std::string(fuzz::next_field(rest));
    if (in.path.empty() || in.path.front() != '/') in.path.insert(0, "/");
    in.now = fuzz::kNow;
    in.expires = std::chrono::seconds(1 + expires % s3::kMaxExpiresSeconds);
    in.region = std::string(kRegion);
    // Parameter names as the stores use them: unique, not empty, not X-Amz-*.
    while (!rest.empty()) {
        const auto name = fuzz::next_field(rest);
        const auto value = fuzz::next_field(rest);
        bool fresh = !name.empty() && !is_amz(name);
        for (const auto& [n, v] : in.query) fresh = fresh && n != name;
        if (fresh) in.query.emplace_back(name, value);
    }

    std::string url = s3::presign_url(kCredentials, in);
    const auto verified = verify(received(in.method, endpoint, url));
    check(verified && verified->path == in.path && verified->query == in.query,
          "a presigned URL verifies into its own path and parameters");
    url.back() = url.back() == '0' ? '1' : '0';
    const auto tampered = verify(received(in.method, endpoint, url));
    check(!tampered && tampered.error().reason == core::Reason::signature_mismatch,
          "a changed signature does not verify");

    // The part URLs of generate-presigned-urls.
    const std::string upload_id = in.query.empty() ? "upload_id" : in.query.front().second;
    const auto part_count = 1 + static_cast<std::uint32_t>(in.path.size() % 3);
    const auto parts = s3::presign_upload_parts(kCredentials, in, upload_id, part_count);
    check(parts.size() == part_count, "one URL per part");
    for (std::uint32_t n = 1; n <= part_count; ++n) {
        in.query = {{"partNumber", std::to_string(n)}, {"uploadId", upload_id}};
        check(parts[n - 1] == s3::presign_url(kCredentials, in),
              "a part's URL is the one presign_url gives");
    }
    const auto part = verify(received(in.method, endpoint, parts.back()));
    check(part && part->query == in.query, "a part's URL verifies with its part and upload");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    if (fuzz::next_byte(rest) % 2 == 1) {
        presign_and_verify(rest);
        return 0;
    }
    s3::ReceivedRequest req;
    req.method = std::string(fuzz::next_field(rest));
    req.host = std::string(fuzz::next_field(rest));
    req.raw_path = std::string(fuzz::next_field(rest));
    req.raw_query = std::string(rest);
    const auto verified = verify(req);
    // A HEAD is also checked as the GET its URL may have been presigned for.
    if (!verified && verified.error().reason == core::Reason::signature_mismatch) {
        req.method = "GET";
        (void)verify(req);  // any outcome is fine; it must only be safe to compute
    }
    return 0;
}
