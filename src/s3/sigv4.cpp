#include "s3/sigv4.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <set>

namespace audiodrop::s3 {
namespace {

constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kHexUpper = "0123456789ABCDEF";
// S3 accepts a request dated at most 15 minutes ahead of its own clock.
constexpr std::chrono::minutes kMaxClockSkew{15};

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char to_lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string to_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), to_lower_ascii);
    return out;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// SigV4 "Trimall": outer whitespace removed, inner runs collapsed to one space.
std::string trim_all(std::string_view s) {
    std::string out;
    bool pending_space = false;
    for (char c : trim(s)) {
        if (is_space(c)) {
            pending_space = true;
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        out.push_back(c);
    }
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int digits_value(std::string_view s) {
    int v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v;
}

}  // namespace

std::string signing_host(std::string_view endpoint) {
    std::string_view scheme;
    std::string_view authority = endpoint;
    if (auto pos = endpoint.find("://"); pos != std::string_view::npos) {
        scheme = endpoint.substr(0, pos);
        authority = endpoint.substr(pos + 3);
    }
    authority = authority.substr(0, authority.find_first_of("/?#"));
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        host = authority.substr(0, close == std::string_view::npos ? authority.size() : close + 1);
        auto rest = authority.substr(host.size());
        if (!rest.empty() && rest.front() == ':') port = rest.substr(1);
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    std::string out = to_lower(host);
    if (port.empty()) return out;
    const std::string lower_scheme = to_lower(scheme);
    if (all_digits(port) && port.size() <= 5) {
        const int number = digits_value(port);
        if ((lower_scheme == "http" && number == 80) ||
            (lower_scheme == "https" && number == 443)) {
            return out;
        }
    }
    out.push_back(':');
    out.append(port);
    return out;
}

namespace {

// Operation parameters as botocore appends them: in the order given, not sorted.
std::string encode_in_order(const QueryParams& params) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) out.push_back('&');
        out += uri_encode(name, true);
        out.push_back('=');
        out += uri_encode(value, true);
    }
    return out;
}

std::string canonical_path(std::string_view decoded_path) {
    return uri_encode(decoded_path.empty() ? std::string_view("/") : decoded_path, false);
}

// The signing key changes once a day for a given secret, region and service, and
// deriving it costs four HMACs: each thread keeps the last one it derived.
const core::Sha256Digest& cached_signing_key(std::string_view secret_key, std::string_view date,
                                             std::string_view region, std::string_view service) {
    thread_local struct {
        std::string secret_key, date, region, service;
        core::Sha256Digest key{};
    } last;
    if (last.secret_key != secret_key || last.date != date || last.region != region ||
        last.service != service) {
        last.key = signing_key(secret_key, date, region, service);
        last.secret_key = secret_key;
        last.date = date;
        last.region = region;
        last.service = service;
    }
    return last.key;
}

std::string sign(const Credentials& creds, std::string_view date, std::string_view region,
                 std::string_view service, std::string_view time, std::string_view request) {
    const std::string scope = credential_scope(date, region, service);
    return signature(cached_signing_key(creds.secret_key, date, region, service),
                     string_to_sign(time, scope, request));
}

core::Error denied(std::string message) {
    return core::make_error(core::ErrorKind::forbidden, "AccessDenied", std::move(message));
}

const std::string* find_param(const QueryParams& params, std::string_view name) {
    for (const auto& [n, v] : params) {
        if (n == name) return &v;
    }
    return nullptr;
}

bool is_amz_param(std::string_view name) {
    return name.size() >= 6 && to_lower(name.substr(0, 6)) == "x-amz-";
}

// X-Amz-Credential is <access-key>/<date>/<region>/<service>/aws4_request; split from the
// right so the four scope parts are exact whatever the key holds.
struct CredentialParts {
    std::string_view access_key, date, region, service, terminator;
};
std::optional<CredentialParts> split_credential(std::string_view value) {
    std::string_view parts[4];
    for (int i = 3; i >= 0; --i) {
        auto slash = value.rfind('/');
        if (slash == std::string_view::npos) return std::nullopt;
        parts[i] = value.substr(slash + 1);
        value = value.substr(0, slash);
    }
    if (value.empty()) return std::nullopt;
    return CredentialParts{value, parts[0], parts[1], parts[2], parts[3]};
}

}  // namespace

std::string uri_encode(std::string_view s, bool encode_slash) {
    std::string out;
    out.reserve(s.size() * 3);
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHexUpper[c >> 4]);
            out.push_back(kHexUpper[c & 0x0F]);
        }
    }
    return out;
}

bool uri_decode(std::string_view s, std::string& out) {
    out.clear();
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) return false;
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return true;
}

bool parse_query(std::string_view raw, QueryParams& out) {
    out.clear();
    while (!raw.empty()) {
        const auto amp = raw.find('&');
        const std::string_view piece = raw.substr(0, amp);
        raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
        if (piece.empty()) continue;  // "a=1&&b=2": nothing between the separators
        const auto eq = piece.find('=');
        std::string name, value;
        if (!uri_decode(piece.substr(0, eq), name) || name.empty()) return false;
        if (eq != std::string_view::npos && !uri_decode(piece.substr(eq + 1), value)) return false;
        out.emplace_back(std::move(name), std::move(value));
    }
    return true;
}

std::string amz_date(core::TimePoint t) {
    const auto secs = std::chrono::floor<std::chrono::seconds>(t);
    const auto days = std::chrono::floor<std::chrono::days>(secs);
    const std::chrono::year_month_day ymd{days};
    const std::chrono::hh_mm_ss hms{secs - days};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::string date_stamp(core::TimePoint t) { return amz_date(t).substr(0, 8); }

bool parse_amz_date(std::string_view s, core::TimePoint& out) {
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
    if (!all_digits(s.substr(0, 8)) || !all_digits(s.substr(9, 6))) return false;
    // TimePoint counts nanoseconds in 64 bits, from 1678 to 2262: a year outside it
    // would overflow, and no signing time is before 1970.
    const int year = digits_value(s.substr(0, 4));
    if (year < 1970 || year > 2261) return false;
    const std::chrono::year_month_day ymd{
        std::chrono::year{year}, std::chrono::month{unsigned(digits_value(s.substr(4, 2)))},
        std::chrono::day{unsigned(digits_value(s.substr(6, 2)))}};
    const int hours = digits_value(s.substr(9, 2));
    const int minutes = digits_value(s.substr(11, 2));
    const int seconds = digits_value(s.substr(13, 2));
    if (!ymd.ok() || hours > 23 || minutes > 59 || seconds > 59) return false;
    out = std::chrono::sys_days{ymd} + std::chrono::hours{hours} + std::chrono::minutes{minutes} +
          std::chrono::seconds{seconds};
    return true;
}

std::string credential_scope(std::string_view date, std::string_view region,
                             std::string_view service) {
    std::string out;
    out.append(date).append("/").append(region).append("/").append(service).append("/");
    out.append(kTerminator);
    return out;
}

std::string canonical_query_string(const QueryParams& params) {
    // Sorted by the encoded forms, as SigV4 specifies (and botocore does).
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(params.size());
    for (const auto& [name, value] : params) {
        encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) out.push_back('&');
        out.append(name).append("=").append(value);
    }
    return out;
}

std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              std::string_view canonical_query, std::string_view canonical_headers,
                              std::string_view signed_headers, std::string_view payload_hash) {
    std::string out;
    out.append(method).append("\n");
    out.append(canonical_uri).append("\n");
    out.append(canonical_query).append("\n");
    out.append(canonical_headers).append("\n");
    out.append(signed_headers).append("\n");
    out.append(payload_hash);
    return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request) {
    std::string out;
    out.append(kAlgorithm).append("\n");
    out.append(amz_date).append("\n");
    out.append(scope).append("\n");
    out.append(core::to_hex(core::sha256(canonical_request)));
    return out;
}

core::Sha256Digest signing_key(std::string_view secret_key, std::string_view date,
                               std::string_view region, std::string_view service) {
    const std::string secret = "AWS4" + std::string(secret_key);
    const auto k_date = core::hmac_sha256(std::string_view(secret), date);
    const auto k_region = core::hmac_sha256(k_date, region);
    const auto k_service = core::hmac_sha256(k_region, service);
    return core::hmac_sha256(k_service, kTerminator);
}

std::string signature(const core::Sha256Digest& key, std::string_view string_to_sign) {
    return core::to_hex(core::hmac_sha256(key, string_to_sign));
}

namespace {

// presign_url's work up to the signature: the canonical request and the URL without
// its signature.
struct Unsigned {
    std::string time, date, request, url;
};

Unsigned unsigned_presign(const Credentials& creds, const PresignInput& in) {
    Unsigned out;
    out.time = amz_date(in.now);
    out.date = out.time.substr(0, 8);
    const QueryParams auth = {
        {"X-Amz-Algorithm", std::string(kAlgorithm)},
        {"X-Amz-Credential",
         creds.access_key + "/" + credential_scope(out.date, in.region, in.service)},
        {"X-Amz-Date", out.time},
        {"X-Amz-Expires", std::to_string(in.expires.count())},
        {"X-Amz-SignedHeaders", "host"},
    };
    QueryParams all = in.query;
    all.insert(all.end(), auth.begin(), auth.end());

    const std::string path = canonical_path(in.path);
    out.request =
        canonical_request(in.method, path, canonical_query_string(all),
                          "host:" + signing_host(in.endpoint) + "\n", "host", kUnsignedPayload);
    out.url = in.endpoint + path + "?";
    if (!in.query.empty()) out.url += encode_in_order(in.query) + "&";
    out.url += encode_in_order(auth);
    out.url += "&X-Amz-Signature=";
    return out;
}

// `text` split around the one place `marker` occurs; nullopt unless exactly one.
std::optional<std::pair<std::string, std::string>> split_at(const std::string& text,
                                                            std::string_view marker) {
    const auto at = text.find(marker);
    if (at == std::string::npos || text.find(marker, at + 1) != std::string::npos) {
        return std::nullopt;
    }
    return std::pair{text.substr(0, at), text.substr(at + marker.size())};
}

}  // namespace

std::string presign_url(const Credentials& creds, const PresignInput& in) {
    auto u = unsigned_presign(creds, in);
    return u.url + sign(creds, u.date, in.region, in.service, u.time, u.request);
}

core::Result<void> check_presign_ttl(std::chrono::seconds ttl) {
    if (ttl.count() <= 0 || ttl.count() > kMaxExpiresSeconds) {
        return core::make_error(core::ErrorKind::invalid_input, "InvalidArgument",
                                "a presigned URL must expire within 1 second to 7 days");
    }
    return {};
}

std::vector<std::string> presign_upload_parts(const Credentials& creds, PresignInput in,
                                              const std::string& upload_id,
                                              std::uint32_t part_count) {
    in.query = {{"partNumber", ""}, {"uploadId", upload_id}};
    std::vector<std::string> numbers;
    numbers.reserve(part_count);
    for (std::uint32_t n = 1; n <= part_count; ++n) numbers.push_back(std::to_string(n));
    return presign_urls(creds, in, "partNumber", numbers);
}

std::vector<std::string> presign_urls(const Credentials& creds, const PresignInput& in,
                                      std::string_view varying,
                                      const std::vector<std::string>& values) {
    // Presign once with a marker for the varying value, then only splice values in.
    constexpr std::string_view kMarker = "AUDIODROPPRESIGNVALUE";
    PresignInput marked = in;
    for (auto& [name, value] : marked.query) {
        if (name == varying) value = kMarker;
    }
    const auto u = unsigned_presign(creds, marked);
    const auto request = split_at(u.request, kMarker);
    const auto url = split_at(u.url, kMarker);
    std::vector<std::string> out;
    out.reserve(values.size());
    if (!request || !url) {
        // The marker also occurs elsewhere (a key that holds it): the plain way.
        for (const auto& value : values) {
            for (auto& [name, v] : marked.query) {
                if (name == varying) v = value;
            }
            out.push_back(presign_url(creds, marked));
        }
        return out;
    }
    const auto& key = cached_signing_key(creds.secret_key, u.date, in.region, in.service);
    const std::string scope = credential_scope(u.date, in.region, in.service);
    std::string one_request;
    for (const auto& value : values) {
        const std::string encoded = uri_encode(value, true);
        one_request.assign(request->first).append(encoded).append(request->second);
        std::string one_url = url->first;
        one_url.append(encoded).append(url->second);
        one_url += signature(key, string_to_sign(u.time, scope, one_request));
        out.push_back(std::move(one_url));
    }
    return out;
}

SignedRequest sign_headers(const Credentials& creds, const HeaderSignInput& in) {
    const std::string time = amz_date(in.now);
    const std::string date = time.substr(0, 8);

    // Lowercase name -> values in the order given; a repeated header's values join with ','.
    std::vector<std::pair<std::string, std::string>> canonical;
    auto add = [&canonical](std::string name, std::string_view value) {
        for (auto& [n, v] : canonical) {
            if (n == name) {
                v.append(",").append(trim_all(value));
                return;
            }
        }
        canonical.emplace_back(std::move(name), trim_all(value));
    };
    bool has_host = false;
    for (const auto& [name, value] : in.headers) {
        std::string lower = to_lower(trim(name));
        has_host = has_host || lower == "host";
        add(std::move(lower), value);
    }
    SignedRequest out;
    if (!has_host) {
        const std::string host = signing_host(in.endpoint);
        add("host", host);
        out.headers.emplace_back("host", host);
    }
    add("x-amz-content-sha256", in.payload_hash);
    add("x-amz-date", time);
    std::sort(canonical.begin(), canonical.end());

    std::string headers_block, signed_list;
    for (const auto& [name, value] : canonical) {
        headers_block.append(name).append(":").append(value).append("\n");
        if (!signed_list.empty()) signed_list.push_back(';');
        signed_list += name;
    }
    const std::string query = canonical_query_string(in.query);
    const std::string path = canonical_path(in.path);
    const std::string request =
        canonical_request(in.method, path, query, headers_block, signed_list, in.payload_hash);
    const std::string sig = sign(creds, date, in.region, in.service, time, request);

    out.target = query.empty() ? path : path + "?" + query;
    out.headers.emplace_back("x-amz-content-sha256", in.payload_hash);
    out.headers.emplace_back("x-amz-date", time);
    out.headers.emplace_back("authorization",
                             std::string(kAlgorithm) + " Credential=" + creds.access_key + "/" +
                                 credential_scope(date, in.region, in.service) +
                                 ", SignedHeaders=" + signed_list + ", Signature=" + sig);
    return out;
}

core::Result<VerifiedRequest> verify_presigned(const ReceivedRequest& req, const Credentials& creds,
                                               std::string_view region, core::TimePoint now) {
    QueryParams params;
    if (!parse_query(req.raw_query, params)) {
        return denied("The query string is not valid percent-encoding.");
    }
    std::set<std::string_view> seen;
    for (const auto& [name, value] : params) {
        if (!seen.insert(name).second) {
            return denied("Query parameter '" + name + "' appears more than once.");
        }
    }
    for (std::string_view required : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                      "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}) {
        if (find_param(params, required) == nullptr) {
            return denied("Query-string authentication requires the " + std::string(required) +
                          " parameter.");
        }
    }
    if (find_param(params, "X-Amz-Security-Token") != nullptr) {
        return denied(
            "X-Amz-Security-Token is not accepted: this endpoint has no temporary "
            "credentials.");
    }
    if (*find_param(params, "X-Amz-Algorithm") != kAlgorithm) {
        return denied("X-Amz-Algorithm must be " + std::string(kAlgorithm) + ".");
    }

    const std::string& time = *find_param(params, "X-Amz-Date");
    core::TimePoint signed_at;
    if (!parse_amz_date(time, signed_at)) {
        return denied("X-Amz-Date must be a UTC time written yyyyMMddTHHmmssZ.");
    }
    const std::string& expires_text = *find_param(params, "X-Amz-Expires");
    std::int64_t expires = 0;
    if (!all_digits(expires_text) || expires_text.size() > 7 ||
        std::from_chars(expires_text.data(), expires_text.data() + expires_text.size(), expires)
                .ec != std::errc{} ||
        expires < 1 || expires > kMaxExpiresSeconds) {
        return denied("X-Amz-Expires must be a whole number of seconds from 1 to " +
                      std::to_string(kMaxExpiresSeconds) + ".");
    }

    const auto credential = split_credential(*find_param(params, "X-Amz-Credential"));
    if (!credential) {
        return denied("X-Amz-Credential must be <access-key>/<yyyyMMdd>/<region>/s3/aws4_request.");
    }
    if (credential->date != std::string_view(time).substr(0, 8)) {
        return denied("The date in X-Amz-Credential does not match X-Amz-Date.");
    }
    if (credential->region != region) {
        return denied("X-Amz-Credential names region '" + std::string(credential->region) +
                      "'; this endpoint expects '" + std::string(region) + "'.");
    }
    if (credential->service != "s3" || credential->terminator != kTerminator) {
        return denied("X-Amz-Credential must be scoped to <region>/s3/aws4_request.");
    }
    if (*find_param(params, "X-Amz-SignedHeaders") != "host") {
        return denied("Only URLs presigned with X-Amz-SignedHeaders=host are accepted here.");
    }

    if (signed_at > now + kMaxClockSkew) return denied("Request is not valid yet");
    if (now > signed_at + std::chrono::seconds{expires}) return denied("Request has expired");

    if (credential->access_key != creds.access_key) {
        return core::make_error(
            core::ErrorKind::forbidden, "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.");
    }

    VerifiedRequest out;
    if (!uri_decode(req.raw_path, out.path)) {
        return denied("The request path is not valid percent-encoding.");
    }
    if (out.path.empty()) out.path = "/";
    QueryParams signed_params;
    for (const auto& param : params) {
        if (param.first != "X-Amz-Signature") signed_params.push_back(param);
        if (!is_amz_param(param.first)) out.query.push_back(param);
    }
    const std::string request = canonical_request(
        req.method, canonical_path(out.path), canonical_query_string(signed_params),
        "host:" + std::string(trim(req.host)) + "\n", "host", kUnsignedPayload);
    const std::string expected = sign(creds, credential->date, region, "s3", time, request);
    if (!core::constant_time_equal(expected, *find_param(params, "X-Amz-Signature"))) {
        return core::make_error(core::ErrorKind::forbidden, "SignatureDoesNotMatch",
                                "The request signature we calculated does not match the "
                                "signature you provided. Check your key and signing method.",
                                core::Reason::signature_mismatch);
    }
    return out;
}

}  // namespace audiodrop::s3
