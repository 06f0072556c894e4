// Each SigV4 step against AWS's published examples: the presigned URL in "Authenticating
// Requests: Using Query Parameters", the header-signed GET/PUT/lifecycle/list examples in
// "Authenticating Requests: Using the Authorization Header", and the signing-key example
// in the IAM user guide. botocore_oracle_test.py covers generated inputs.

#include "s3/sigv4.hpp"

#include <gtest/gtest.h>

namespace audiodrop::s3 {
namespace {

const Credentials kAwsExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
const core::TimePoint kAwsExampleTime = core::from_unix(1369353600);  // 2013-05-24T00:00:00Z
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

constexpr std::string_view kAwsQueryCanonical =
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host";
constexpr std::string_view kAwsCanonicalRequest =
    "GET\n/test.txt\n"
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
    "host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD";
constexpr std::string_view kAwsStringToSign =
    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
    "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04";
constexpr std::string_view kAwsSignature =
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

QueryParams aws_example_auth_params() {
    return {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
            {"X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
            {"X-Amz-Date", "20130524T000000Z"},
            {"X-Amz-Expires", "86400"},
            {"X-Amz-SignedHeaders", "host"}};
}

std::string header_value(const SignedRequest& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
        if (n == name) return v;
    }
    return "<missing " + std::string(name) + ">";
}

TEST(UriEncode, KeepsUnreservedCharactersOnly) {
    EXPECT_EQ(uri_encode("AZaz09-._~", true), "AZaz09-._~");
    EXPECT_EQ(uri_encode("a b+c=d", true), "a%20b%2Bc%3Dd");
    EXPECT_EQ(uri_encode("!'()*", true), "%21%27%28%29%2A");
    EXPECT_EQ(uri_encode("&?#%:@,;$", true), "%26%3F%23%25%3A%40%2C%3B%24");
}

TEST(UriEncode, EncodesUtf8BytesInUppercaseHex) {
    EXPECT_EQ(uri_encode("é", true), "%C3%A9");
    EXPECT_EQ(uri_encode("日本", true), "%E6%97%A5%E6%9C%AC");
    EXPECT_EQ(uri_encode("\xF0\x9F\x8E\xB5", true), "%F0%9F%8E%B5");  // U+1F3B5
    EXPECT_EQ(uri_encode(std::string_view("\0\xff", 2), true), "%00%FF");
}

TEST(UriEncode, KeepsSlashOnlyForObjectKeys) {
    EXPECT_EQ(uri_encode("/bucket/a b/c", false), "/bucket/a%20b/c");
    EXPECT_EQ(uri_encode("/bucket/a b/c", true), "%2Fbucket%2Fa%20b%2Fc");
}

TEST(UriDecode, InvertsEncodingAndKeepsPlus) {
    std::string out;
    ASSERT_TRUE(uri_decode("a%20b+c%3d%C3%A9", out));
    EXPECT_EQ(out, "a b+c=é");
    const std::string tricky = "/k ey+=~!'()*&?#%/日本";
    ASSERT_TRUE(uri_decode(uri_encode(tricky, false), out));
    EXPECT_EQ(out, tricky);
}

TEST(UriDecode, RefusesMalformedEscapes) {
    std::string out;
    EXPECT_FALSE(uri_decode("%", out));
    EXPECT_FALSE(uri_decode("abc%4", out));
    EXPECT_FALSE(uri_decode("%G0", out));
    EXPECT_FALSE(uri_decode("%0g", out));
}

TEST(ParseQuery, SplitsAndDecodesInOrder) {
    QueryParams out;
    ASSERT_TRUE(parse_query("b=%20&a=1&uploads&c=x=y&&d=", out));
    const QueryParams expected = {{"b", " "}, {"a", "1"}, {"uploads", ""}, {"c", "x=y"}, {"d", ""}};
    EXPECT_EQ(out, expected);
    ASSERT_TRUE(parse_query("", out));
    EXPECT_TRUE(out.empty());
}

TEST(ParseQuery, RefusesMalformedInput) {
    QueryParams out;
    EXPECT_FALSE(parse_query("a=%zz", out));
    EXPECT_FALSE(parse_query("%zz=1", out));
    EXPECT_FALSE(parse_query("=value", out));
}

TEST(AmzDate, FormatsUtcSeconds) {
    EXPECT_EQ(amz_date(kAwsExampleTime), "20130524T000000Z");
    EXPECT_EQ(date_stamp(kAwsExampleTime), "20130524");
    EXPECT_EQ(amz_date(core::from_unix(951827696) + std::chrono::milliseconds(999)),
              "20000229T123456Z");
}

TEST(AmzDate, ParsesWhatItFormats) {
    core::TimePoint t;
    ASSERT_TRUE(parse_amz_date("20000229T123456Z", t));
    EXPECT_EQ(core::to_unix(t), 951827696);
    ASSERT_TRUE(parse_amz_date("20130524T000000Z", t));
    EXPECT_EQ(t, kAwsExampleTime);
}

TEST(AmzDate, RefusesAnythingButYyyymmddThhmmssZ) {
    core::TimePoint t;
    for (const char* bad :
         {"20130524T000000", "20130524T000000z", "2013-05-24T00:00:00Z", "20131324T000000Z",
          "20130230T000000Z", "20130524T240000Z", "20130524T006000Z", "2013052AT000000Z",
          "20130524 000000Z", "", "20130524T000000ZZ"}) {
        EXPECT_FALSE(parse_amz_date(bad, t)) << bad;
    }
}

TEST(CredentialScope, JoinsDateRegionServiceAndTerminator) {
    EXPECT_EQ(credential_scope("20130524", "us-east-1", "s3"),
              "20130524/us-east-1/s3/aws4_request");
}

TEST(CanonicalQueryString, MatchesAwsPresignedExample) {
    EXPECT_EQ(canonical_query_string(aws_example_auth_params()), kAwsQueryCanonical);
}

TEST(CanonicalQueryString, SortsByEncodedNameThenValue) {
    // Encoded, "aé" is "a%C3%A9", which sorts before "a~" although 'é' > '~' decoded.
    const QueryParams params = {{"b", "2"}, {"a~", "1"}, {"aé", "x"}, {"a", "x y"}, {"a", "1"}};
    EXPECT_EQ(canonical_query_string(params), "a=1&a=x%20y&a%C3%A9=x&a~=1&b=2");
    EXPECT_EQ(canonical_query_string({{"uploads", ""}}), "uploads=");
    EXPECT_EQ(canonical_query_string({}), "");
}

TEST(CanonicalRequest, MatchesAwsPresignedExample) {
    EXPECT_EQ(canonical_request("GET", "/test.txt", kAwsQueryCanonical,
                                "host:examplebucket.s3.amazonaws.com\n", "host", kUnsignedPayload),
              kAwsCanonicalRequest);
}

TEST(StringToSign, MatchesAwsPresignedExample) {
    EXPECT_EQ(string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                             kAwsCanonicalRequest),
              kAwsStringToSign);
}

TEST(SigningKey, MatchesIamUserGuideExample) {
    EXPECT_EQ(core::to_hex(signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                       "us-east-1", "iam")),
              "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(Signature, MatchesAwsPresignedExample) {
    const auto key = signing_key(kAwsExample.secret_key, "20130524", "us-east-1", "s3");
    EXPECT_EQ(signature(key, kAwsStringToSign), kAwsSignature);
}

TEST(PresignUrl, ReproducesAwsPresignedExampleByteForByte) {
    PresignInput in;
    in.method = "GET";
    in.endpoint = "https://examplebucket.s3.amazonaws.com";
    in.path = "/test.txt";
    in.now = kAwsExampleTime;
    in.expires = std::chrono::seconds{86400};
    EXPECT_EQ(presign_url(kAwsExample, in), "https://examplebucket.s3.amazonaws.com/test.txt?" +
                                                std::string(kAwsQueryCanonical) +
                                                "&X-Amz-Signature=" + std::string(kAwsSignature));
}

TEST(PresignUrl, PutsRequestParamsFirstInGivenOrderAndSignatureLast) {
    PresignInput in;
    in.method = "PUT";
    in.endpoint = "http://127.0.0.1:9000";
    in.path = "/audio/file_1/a b+c.mp3";
    in.query = {{"uploadId", "upload_x=y"}, {"partNumber", "2"}};
    in.now = kAwsExampleTime;
    const std::string url = presign_url(kAwsExample, in);
    const std::string prefix =
        "http://127.0.0.1:9000/audio/file_1/a%20b%2Bc.mp3?uploadId=upload_x%3Dy&partNumber=2"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=";
    ASSERT_EQ(url.substr(0, prefix.size()), prefix);
    EXPECT_EQ(url.size(), prefix.size() + 64);
}

// A PUT to `path` on a store on loopback, at the AWS example's time.
PresignInput loopback_put(std::string path) {
    PresignInput in;
    in.method = "PUT";
    in.endpoint = "http://127.0.0.1:9000";
    in.path = std::move(path);
    in.now = kAwsExampleTime;
    return in;
}

// presign_urls splices each value into one presigned template: it must give exactly
// what presign_url gives for each value, however the path and values encode.
void expect_same_as_one_at_a_time(const std::string& path, const std::vector<std::string>& values) {
    PresignInput in = loopback_put(path);
    in.query = {{"partNumber", "ignored"}, {"uploadId", "upload_x=y"}};
    const auto urls = presign_urls(kAwsExample, in, "partNumber", values);
    ASSERT_EQ(urls.size(), values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        PresignInput one = in;
        one.query[0].second = values[i];
        EXPECT_EQ(urls[i], presign_url(kAwsExample, one)) << values[i];
    }
}

TEST(PresignUrls, EqualPresignUrlForEachValue) {
    expect_same_as_one_at_a_time("/audio/file_1/a b+c.mp3", {"1", "2", "10", "10000", "a b/c="});
}

TEST(PresignUrls, EqualPresignUrlWhenThePathHoldsTheSpliceMarker) {
    expect_same_as_one_at_a_time("/audio/AUDIODROPPRESIGNVALUE.mp3", {"1", "2"});
}

TEST(PresignUploadParts, NamesPartsOneToCountInOrder) {
    const auto urls = presign_upload_parts(kAwsExample, loopback_put("/audio/k.mp3"), "mpu_1", 3);
    ASSERT_EQ(urls.size(), 3u);
    for (std::size_t i = 0; i < urls.size(); ++i) {
        const std::string expected =
            "http://127.0.0.1:9000/audio/k.mp3?partNumber=" + std::to_string(i + 1) +
            "&uploadId=mpu_1&";
        EXPECT_EQ(urls[i].substr(0, expected.size()), expected);
    }
}

TEST(PresignUrl, SignsHostLowercasedWithoutDefaultPort) {
    PresignInput in;
    in.method = "GET";
    in.path = "/b/k";
    in.now = kAwsExampleTime;
    auto signature_for = [&](std::string endpoint) {
        in.endpoint = std::move(endpoint);
        const std::string url = presign_url(kAwsExample, in);
        EXPECT_EQ(url.rfind(in.endpoint + "/b/k?", 0), 0u) << url;  // endpoint kept as given
        return url.substr(url.size() - 64);
    };
    EXPECT_EQ(signature_for("http://Example.COM:80"), signature_for("http://example.com"));
    EXPECT_EQ(signature_for("https://example.com:443"), signature_for("https://example.com"));
    EXPECT_NE(signature_for("http://example.com:443"), signature_for("http://example.com"));
    EXPECT_NE(signature_for("http://example.com:9000"), signature_for("http://example.com"));
    EXPECT_EQ(signature_for("http://[::1]:80"), signature_for("http://[::1]"));
}

HeaderSignInput aws_header_example(std::string method, std::string path) {
    HeaderSignInput in;
    in.method = std::move(method);
    in.endpoint = "https://examplebucket.s3.amazonaws.com";
    in.path = std::move(path);
    in.payload_hash = kEmptySha256;
    in.now = kAwsExampleTime;
    return in;
}

TEST(SignHeaders, ReproducesAwsGetObjectExample) {
    HeaderSignInput in = aws_header_example("GET", "/test.txt");
    in.headers = {{"Range", "bytes=0-9"}};
    const SignedRequest out = sign_headers(kAwsExample, in);
    EXPECT_EQ(out.target, "/test.txt");
    EXPECT_EQ(header_value(out, "host"), "examplebucket.s3.amazonaws.com");
    EXPECT_EQ(header_value(out, "x-amz-date"), "20130524T000000Z");
    EXPECT_EQ(header_value(out, "x-amz-content-sha256"), kEmptySha256);
    EXPECT_EQ(header_value(out, "authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
              "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SignHeaders, ReproducesAwsPutObjectExample) {
    HeaderSignInput in = aws_header_example("PUT", "/test$file.text");
    in.headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    in.payload_hash = core::to_hex(core::sha256("Welcome to Amazon S3."));
    const SignedRequest out = sign_headers(kAwsExample, in);
    EXPECT_EQ(out.target, "/test%24file.text");
    EXPECT_EQ(header_value(out, "authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
              "aws4_request, "
              "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
              "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SignHeaders, ReproducesAwsBucketLifecycleAndListExamples) {
    HeaderSignInput lifecycle = aws_header_example("GET", "/");
    lifecycle.query = {{"lifecycle", ""}};
    const SignedRequest a = sign_headers(kAwsExample, lifecycle);
    EXPECT_EQ(a.target, "/?lifecycle=");
    EXPECT_NE(
        header_value(a, "authorization")
            .find("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        std::string::npos);

    HeaderSignInput list = aws_header_example("GET", "/");
    list.query = {{"prefix", "J"}, {"max-keys", "2"}};
    const SignedRequest b = sign_headers(kAwsExample, list);
    EXPECT_EQ(b.target, "/?max-keys=2&prefix=J");
    EXPECT_NE(
        header_value(b, "authorization")
            .find("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        std::string::npos);
}

TEST(SignHeaders, TrimsValuesAndIgnoresNameCase) {
    HeaderSignInput spaced = aws_header_example("GET", "/test.txt");
    spaced.headers = {{"  RANGE ", "  bytes=0-9  "}};
    HeaderSignInput plain = aws_header_example("GET", "/test.txt");
    plain.headers = {{"range", "bytes=0-9"}};
    EXPECT_EQ(header_value(sign_headers(kAwsExample, spaced), "authorization"),
              header_value(sign_headers(kAwsExample, plain), "authorization"));

    HeaderSignInput collapsed = plain;
    collapsed.headers = {{"x-amz-meta-note", "a   b\t c"}};
    HeaderSignInput single = plain;
    single.headers = {{"x-amz-meta-note", "a b c"}};
    EXPECT_EQ(header_value(sign_headers(kAwsExample, collapsed), "authorization"),
              header_value(sign_headers(kAwsExample, single), "authorization"));
}

}  // namespace
}  // namespace audiodrop::s3
