#pragma once

// AWS Signature Version 4 as S3 uses it, as small pure functions named after the
// steps in AWS's "Signature Version 4 signing process" and "Authenticating Requests:
// Using Query Parameters (AWS Signature Version 4)" documentation. Shared by the
// embedded storage endpoint (verifying) and both object stores (presigning).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/hashing.hpp"

namespace audiodrop::s3 {

struct Credentials {
    std::string access_key;
    std::string secret_key;
};

// Decoded name/value pairs, in the order given.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// S3: presigned URLs are valid for at most 7 days.
inline constexpr std::int64_t kMaxExpiresSeconds = 7 * 24 * 3600;

// RFC 3986 percent-encoding as SigV4 requires: unreserved (A-Z a-z 0-9 - . _ ~) kept,
// everything else %XX uppercase; '/' kept when encode_slash is false (object keys).
std::string uri_encode(std::string_view s, bool encode_slash);
// Percent-decoding; returns false on a malformed escape. '+' is kept as '+'.
bool uri_decode(std::string_view s, std::string& out);
// Splits a raw query string "a=1&b=%20" into decoded pairs; false if malformed.
bool parse_query(std::string_view raw, QueryParams& out);

std::string amz_date(core::TimePoint t);    // 20130524T000000Z
std::string date_stamp(core::TimePoint t);  // 20130524
// Parses an X-Amz-Date value; false when it is not exactly yyyymmddThhmmssZ.
bool parse_amz_date(std::string_view s, core::TimePoint& out);
std::string credential_scope(std::string_view date, std::string_view region,
                             std::string_view service);

// The Host of an endpoint URL as botocore signs it, which is also the host part of the
// Origin a browser sends for pages there: lowercase, the scheme's default port dropped
// ("HTTPS://S3.Example.com:443/x" -> "s3.example.com").
std::string signing_host(std::string_view endpoint);

// Canonical query string: each name and value uri-encoded (slash too), sorted by
// name then value, joined with '&'.
std::string canonical_query_string(const QueryParams& params);
// `canonical_uri` is the already-encoded absolute path (S3 encodes the key once).
std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              std::string_view canonical_query,
                              std::string_view canonical_headers,  // "host:x\n..."
                              std::string_view signed_headers,     // "host"
                              std::string_view payload_hash);
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);
core::Sha256Digest signing_key(std::string_view secret_key, std::string_view date,
                               std::string_view region, std::string_view service);
std::string signature(const core::Sha256Digest& key, std::string_view string_to_sign);

// A request to presign with query parameters, headers signed: host only.
struct PresignInput {
    std::string method;    // "PUT", "GET"
    std::string endpoint;  // scheme://host[:port], no trailing slash
    std::string path;      // decoded absolute path, e.g. "/bucket/some key.mp3"
    QueryParams query;     // extra decoded parameters, e.g. partNumber, uploadId
    core::TimePoint now;
    std::chrono::seconds expires{3600};
    std::string region = "us-east-1";
    std::string service = "s3";
};

// The full URL, byte for byte as botocore's S3SigV4QueryAuth writes it: endpoint +
// encoded path + "?" + the request's own parameters in the order given, then
// X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, and X-Amz-Signature last.
// The host signed is the endpoint's, lowercased, without a default port. Parameter names
// must be unique (verify_presigned refuses duplicates) and `expires` within
// 1..kMaxExpiresSeconds (it refuses others).
std::string presign_url(const Credentials& creds, const PresignInput& in);

// invalid_input "InvalidArgument" unless `ttl` is within S3's 1 second to 7 days.
core::Result<void> check_presign_ttl(std::chrono::seconds ttl);

// The UploadPart URLs of parts 1..part_count of multipart upload `upload_id`: `in`
// (method PUT, the object's path) with partNumber and uploadId in its query.
std::vector<std::string> presign_upload_parts(const Credentials& creds, PresignInput in,
                                              const std::string& upload_id,
                                              std::uint32_t part_count);

// presign_url for requests that differ only in the value of one query parameter, such
// as the parts of a multipart upload (partNumber): everything else is encoded,
// canonicalised and keyed once, and each URL then costs one SHA-256 and one HMAC.
// `in.query` names `varying` (its value there is ignored). The URLs are byte for byte
// what presign_url gives for each value.
std::vector<std::string> presign_urls(const Credentials& creds, const PresignInput& in,
                                      std::string_view varying,
                                      const std::vector<std::string>& values);

// Header list in the order given; names compared case-insensitively where it matters.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A request to sign with an Authorization header (the remote-S3 store's own calls).
struct HeaderSignInput {
    std::string method;
    std::string endpoint;      // scheme://host[:port], no trailing slash
    std::string path;          // decoded absolute path
    QueryParams query;         // decoded parameters; "uploads" with an empty value for "?uploads"
    HeaderList headers;        // further headers to sign, e.g. content-type, content-md5, range;
                               // not x-amz-date or x-amz-content-sha256 (set here)
    std::string payload_hash;  // lowercase hex SHA-256 of the body, or kUnsignedPayload
    core::TimePoint now;
    std::string region = "us-east-1";
    std::string service = "s3";
};

// What to send: the request-target and the headers this signature depends on, beyond
// the caller's own `headers` (which must be sent unchanged).
struct SignedRequest {
    std::string target;  // encoded path, then "?" and the canonical query when there is one
    HeaderList headers;  // host (unless given), x-amz-content-sha256, x-amz-date, authorization
};

// Signs every given header plus host, x-amz-content-sha256 and x-amz-date, as botocore's
// S3SigV4Auth does (same Authorization value for the same input; botocore would rewrite
// a Date header to its own clock, this signs it as given). Values are trimmed and inner
// whitespace runs collapsed; a repeated name's values are joined with ','.
SignedRequest sign_headers(const Credentials& creds, const HeaderSignInput& in);

// A request as it arrived at the embedded endpoint.
struct ReceivedRequest {
    std::string method;
    std::string host;       // the Host header, as sent
    std::string raw_path;   // the request-target path, still percent-encoded
    std::string raw_query;  // after '?', still percent-encoded
};

// What a verified presigned request says, beyond being authentic.
struct VerifiedRequest {
    std::string path;   // decoded path
    QueryParams query;  // decoded non-X-Amz-* parameters
};

// Checks a query-presigned request the way S3 does: all X-Amz-* parameters present
// and well formed, the access key known, the signature equal (in constant time),
// X-Amz-Date not in the future beyond a small skew, and not expired. Errors carry
// S3's codes: "AccessDenied" (missing/expired/malformed), "InvalidAccessKeyId",
// "SignatureDoesNotMatch", all with ErrorKind::forbidden.
// Stricter than S3 where we only ever issue one shape of URL: X-Amz-SignedHeaders must be
// exactly "host", the credential scope must be <date of X-Amz-Date>/`region`/s3, any
// repeated parameter name and X-Amz-Security-Token are refused. The clock skew allowed
// is 15 minutes; valid through X-Amz-Date + X-Amz-Expires inclusive. The canonical URI is
// raw_path decoded then encoded once, so equivalent encodings of a key verify alike.
core::Result<VerifiedRequest> verify_presigned(const ReceivedRequest& req, const Credentials& creds,
                                               std::string_view region, core::TimePoint now);

}  // namespace audiodrop::s3
