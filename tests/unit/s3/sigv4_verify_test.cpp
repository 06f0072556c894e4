// verify_presigned: accepts what presign_url (and AWS's documented example) produce, and
// refuses every way a presigned URL can be wrong, with S3's error codes.

#include <gtest/gtest.h>

#include "s3/sigv4.hpp"

namespace audiodrop::s3 {
namespace {

using namespace std::chrono_literals;

const Credentials kCreds{"AKIDAUDIODROPTEST", "s3cr3t/K7MDENG+bPxRfiCY"};
const core::TimePoint kSignedAt = core::from_unix(1700000000);  // 2023-11-14T22:13:20Z
constexpr std::string_view kHost = "127.0.0.1:9000";

PresignInput part_upload(std::chrono::seconds expires = 3600s) {
    PresignInput in;
    in.method = "PUT";
    in.endpoint = "http://127.0.0.1:9000";
    in.path = "/audio/file_abc/my recording+1=é.mp3";
    in.query = {{"partNumber", "2"}, {"uploadId", "upload_x y+z"}};
    in.now = kSignedAt;
    in.expires = expires;
    return in;
}

// The request an HTTP client sends for a presigned URL.
ReceivedRequest received(const std::string& url, std::string method = "PUT",
                         std::string host = std::string(kHost)) {
    const auto path_start = url.find('/', url.find("://") + 3);
    const auto query_start = url.find('?');
    return {std::move(method), std::move(host), url.substr(path_start, query_start - path_start),
            url.substr(query_start + 1)};
}

ReceivedRequest presigned(std::chrono::seconds expires = 3600s) {
    return received(presign_url(kCreds, part_upload(expires)));
}

void replace(std::string& s, std::string_view from, std::string_view to) {
    const auto pos = s.find(from);
    ASSERT_NE(pos, std::string::npos) << from << " not in " << s;
    s.replace(pos, from.size(), to);
}

std::string param(const ReceivedRequest& r, std::string_view name) {
    QueryParams params;
    EXPECT_TRUE(parse_query(r.raw_query, params));
    for (const auto& [n, v] : params) {
        if (n == name) return v;
    }
    return {};
}

// Every refusal is a 403 carrying S3's code and a message that says why.
void expect_refused(const core::Result<VerifiedRequest>& result, std::string_view code,
                    std::string_view message_part) {
    ASSERT_FALSE(result.has_value()) << "accepted, expected " << code;
    EXPECT_EQ(result.error().kind, core::ErrorKind::forbidden);
    EXPECT_EQ(result.error().code, code);
    EXPECT_NE(result.error().message.find(message_part), std::string::npos)
        << result.error().message;
}

auto verify(const ReceivedRequest& r, core::TimePoint now = kSignedAt,
            const Credentials& creds = kCreds, std::string_view region = "us-east-1") {
    return verify_presigned(r, creds, region, now);
}

TEST(VerifyPresigned, AcceptsUrlFromPresignUrlAndReturnsPathAndOwnParams) {
    const auto result = verify(presigned());
    ASSERT_TRUE(result.has_value()) << result.error().code << ": " << result.error().message;
    EXPECT_EQ(result->path, "/audio/file_abc/my recording+1=é.mp3");
    const QueryParams own = {{"partNumber", "2"}, {"uploadId", "upload_x y+z"}};
    EXPECT_EQ(result->query, own);
}

TEST(VerifyPresigned, AcceptsAwsDocumentedExampleUrl) {
    const Credentials aws{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    const ReceivedRequest r = received(
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        "GET", "examplebucket.s3.amazonaws.com");
    const auto result = verify(r, core::from_unix(1369353600 + 3600), aws);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(result->path, "/test.txt");
    EXPECT_TRUE(result->query.empty());
}

TEST(VerifyPresigned, AcceptsEquivalentEncodingsOfThePathAndTrimmedHost) {
    ReceivedRequest r = presigned();
    replace(r.raw_path, "my%20recording", "my%20r%65cording");  // %65 is 'e'
    r.host = " 127.0.0.1:9000 ";
    EXPECT_TRUE(verify(r).has_value());
}

TEST(VerifyPresigned, AcceptsParamsInAnyOrder) {
    ReceivedRequest r = presigned();
    const std::string own = "partNumber=2&uploadId=" + uri_encode("upload_x y+z", true);
    replace(r.raw_query, own + "&", "");
    r.raw_query += "&" + own;
    EXPECT_TRUE(verify(r).has_value());
}

TEST(VerifyPresigned, RefusesTamperedPath) {
    ReceivedRequest r = presigned();
    replace(r.raw_path, "file_abc", "file_abd");
    expect_refused(verify(r), "SignatureDoesNotMatch", "signature");
}

TEST(VerifyPresigned, RefusesTamperedOrAddedQueryParam) {
    ReceivedRequest changed = presigned();
    replace(changed.raw_query, "partNumber=2", "partNumber=3");
    expect_refused(verify(changed), "SignatureDoesNotMatch", "signature");

    ReceivedRequest added = presigned();
    added.raw_query += "&acl=public-read";
    expect_refused(verify(added), "SignatureDoesNotMatch", "signature");

    ReceivedRequest removed = presigned();
    replace(removed.raw_query, "partNumber=2&", "");
    expect_refused(verify(removed), "SignatureDoesNotMatch", "signature");
}

TEST(VerifyPresigned, RefusesTamperedSignature) {
    ReceivedRequest flipped = presigned();
    std::string sig = param(flipped, "X-Amz-Signature");
    std::string other = sig;
    other[10] = other[10] == '0' ? '1' : '0';
    replace(flipped.raw_query, sig, other);
    expect_refused(verify(flipped), "SignatureDoesNotMatch", "signature");

    ReceivedRequest truncated = presigned();
    replace(truncated.raw_query, sig, sig.substr(0, 63));
    expect_refused(verify(truncated), "SignatureDoesNotMatch", "signature");
}

TEST(VerifyPresigned, RefusesOtherMethodOrHost) {
    expect_refused(verify(received(presign_url(kCreds, part_upload()), "GET")),
                   "SignatureDoesNotMatch", "signature");
    expect_refused(verify(received(presign_url(kCreds, part_upload()), "PUT", "localhost:9000")),
                   "SignatureDoesNotMatch", "signature");
}

TEST(VerifyPresigned, RefusesWrongSecret) {
    const Credentials other{kCreds.access_key, kCreds.secret_key + "x"};
    expect_refused(verify(presigned(), kSignedAt, other), "SignatureDoesNotMatch", "signature");
}

TEST(VerifyPresigned, RefusesUnknownAccessKey) {
    const Credentials other{"AKIDSOMEONEELSE", kCreds.secret_key};
    expect_refused(verify(presigned(), kSignedAt, other), "InvalidAccessKeyId", "Access Key");
}

TEST(VerifyPresigned, RefusesExpiredUrlButAcceptsItsLastSecond) {
    EXPECT_TRUE(verify(presigned(3600s), kSignedAt + 3600s).has_value());
    expect_refused(verify(presigned(3600s), kSignedAt + 3601s), "AccessDenied",
                   "Request has expired");
    expect_refused(verify(presigned(1s), kSignedAt + 1500ms), "AccessDenied",
                   "Request has expired");
}

TEST(VerifyPresigned, RefusesDateMoreThanFifteenMinutesAhead) {
    EXPECT_TRUE(verify(presigned(), kSignedAt - 15min).has_value());
    expect_refused(verify(presigned(), kSignedAt - 15min - 1s), "AccessDenied",
                   "Request is not valid yet");
}

TEST(VerifyPresigned, RefusesExpiresOutsideOneSecondToSevenDays) {
    EXPECT_TRUE(verify(presigned(604800s)).has_value());
    // Correctly signed, yet refused for the value itself.
    expect_refused(verify(presigned(604801s)), "AccessDenied", "X-Amz-Expires");
    expect_refused(verify(presigned(0s)), "AccessDenied", "X-Amz-Expires");
    for (const char* bad : {"-5", "abc", "", "%2B10", "1e3", "99999999999999999999"}) {
        ReceivedRequest r = presigned();
        replace(r.raw_query, "X-Amz-Expires=3600", std::string("X-Amz-Expires=") + bad);
        expect_refused(verify(r), "AccessDenied", "X-Amz-Expires");
    }
}

TEST(VerifyPresigned, RefusesEachMissingAuthParamByName) {
    for (const char* name : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                             "X-Amz-SignedHeaders", "X-Amz-Signature"}) {
        ReceivedRequest r = presigned();
        const std::string pair = std::string(name) + "=" + uri_encode(param(r, name), true);
        const auto pos = r.raw_query.find(pair);
        ASSERT_NE(pos, std::string::npos) << pair;
        r.raw_query.erase(pos, pair.size());
        expect_refused(verify(r), "AccessDenied", name);
    }
}

TEST(VerifyPresigned, RefusesCredentialForAnotherRegion) {
    expect_refused(verify(presigned(), kSignedAt, kCreds, "eu-west-1"), "AccessDenied",
                   "region 'us-east-1'");
}

TEST(VerifyPresigned, RefusesMalformedOrMismatchedCredential) {
    const std::string good = "%2F20231114%2Fus-east-1%2Fs3%2Faws4_request";
    const std::pair<const char*, const char*> cases[] = {
        {"%2F20231115%2Fus-east-1%2Fs3%2Faws4_request", "does not match X-Amz-Date"},
        {"%2F20231114%2Fus-east-1%2Fsqs%2Faws4_request", "s3/aws4_request"},
        {"%2F20231114%2Fus-east-1%2Fs3%2Faws5_request", "s3/aws4_request"},
        {"%2Fus-east-1%2Fs3%2Faws4_request", "X-Amz-Credential"},
    };
    for (const auto& [scope, message] : cases) {
        ReceivedRequest r = presigned();
        replace(r.raw_query, good, scope);
        expect_refused(verify(r), "AccessDenied", message);
    }
}

TEST(VerifyPresigned, RefusesSignedHeadersOtherThanHost) {
    for (const char* headers : {"content-length%3Bhost", "host%3Bx-amz-date", "Host", ""}) {
        ReceivedRequest r = presigned();
        replace(r.raw_query, "X-Amz-SignedHeaders=host",
                std::string("X-Amz-SignedHeaders=") + headers);
        expect_refused(verify(r), "AccessDenied", "X-Amz-SignedHeaders=host");
    }
}

TEST(VerifyPresigned, RefusesOtherAlgorithm) {
    ReceivedRequest r = presigned();
    replace(r.raw_query, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1");
    expect_refused(verify(r), "AccessDenied", "X-Amz-Algorithm");
}

TEST(VerifyPresigned, RefusesMalformedDate) {
    ReceivedRequest r = presigned();
    replace(r.raw_query, "X-Amz-Date=20231114T221320Z", "X-Amz-Date=2023-11-14T22%3A13%3A20Z");
    expect_refused(verify(r), "AccessDenied", "X-Amz-Date");
}

TEST(VerifyPresigned, RefusesDuplicateParams) {
    for (const char* extra :
         {"&partNumber=2", "&X-Amz-Date=20231114T221320Z", "&X-Amz-Signature=0000"}) {
        ReceivedRequest r = presigned();
        r.raw_query += extra;
        expect_refused(verify(r), "AccessDenied", "more than once");
    }
}

TEST(VerifyPresigned, RefusesSecurityToken) {
    ReceivedRequest r = presigned();
    r.raw_query += "&X-Amz-Security-Token=abc";
    expect_refused(verify(r), "AccessDenied", "X-Amz-Security-Token");
}

TEST(VerifyPresigned, RefusesMalformedPercentEncoding) {
    ReceivedRequest query = presigned();
    query.raw_query += "&x=%G1";
    expect_refused(verify(query), "AccessDenied", "percent-encoding");
    ReceivedRequest path = presigned();
    path.raw_path += "%4";
    expect_refused(verify(path), "AccessDenied", "percent-encoding");
}

}  // namespace
}  // namespace audiodrop::s3
