// What the remote-S3 store computes without a network call: the presigned URLs clients
// are given. Its S3 calls run against a real Ceph RGW in the scale-out tests.

#include "storage/s3_object_store.hpp"

#include <gtest/gtest.h>

#include "local_store_fixture.hpp"
#include "presigned_request.hpp"
#include "s3/sigv4.hpp"

namespace audiodrop::storage {
namespace {

using test_support::as_received;
using test_support::FakeClock;

const s3::Credentials kCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};

S3ObjectStore store_for(const std::string& endpoint, bool path_style, const FakeClock& clock) {
    s3::S3ClientOptions options;
    options.address = s3::BucketAddress{endpoint, "audio-us", "eu-west-1", path_style};
    options.credentials = kCredentials;
    return S3ObjectStore(options, clock);
}

TEST(S3ObjectStore, PartUrlsAreVirtualHostedByDefault) {
    FakeClock clock;
    auto store = store_for("https://s3.eu-west-1.amazonaws.com", false, clock);
    auto urls = store.presign_parts("file_a.mp3", "2~upload", 3, std::chrono::seconds{3600});
    ASSERT_TRUE(urls) << urls.error().message;
    ASSERT_EQ(urls->size(), 3u);
    const auto* url = &urls->back();
    EXPECT_TRUE(url->starts_with("https://audio-us.s3.eu-west-1.amazonaws.com/file_a.mp3?"))
        << *url;
    EXPECT_NE(url->find("partNumber=3"), std::string::npos);
    EXPECT_NE(url->find("uploadId=2~upload"), std::string::npos);
    EXPECT_NE(url->find("%2Feu-west-1%2Fs3%2Faws4_request"), std::string::npos);

    auto verified =
        s3::verify_presigned(as_received("PUT", *url), kCredentials, "eu-west-1", clock.now());
    EXPECT_TRUE(verified) << verified.error().message;
}

TEST(S3ObjectStore, PathStyleUrlsPutTheBucketInThePath) {
    FakeClock clock;
    auto store = store_for("http://127.0.0.1:7480", true, clock);
    auto url = store.presign_get("file_a.mp3", std::chrono::seconds{86400});
    ASSERT_TRUE(url) << url.error().message;
    EXPECT_TRUE(url->starts_with("http://127.0.0.1:7480/audio-us/file_a.mp3?")) << *url;
    EXPECT_NE(url->find("X-Amz-Expires=86400"), std::string::npos);
    auto verified =
        s3::verify_presigned(as_received("GET", *url), kCredentials, "eu-west-1", clock.now());
    EXPECT_TRUE(verified) << verified.error().message;
    // A download URL is not an upload URL.
    EXPECT_FALSE(
        s3::verify_presigned(as_received("PUT", *url), kCredentials, "eu-west-1", clock.now()));
}

TEST(S3ObjectStore, RefusesLifetimesS3DoesNotAllow) {
    FakeClock clock;
    auto store = store_for("http://127.0.0.1:7480", true, clock);
    for (auto ttl : {std::chrono::seconds{0}, std::chrono::seconds{7 * 24 * 3600 + 1}}) {
        auto url = store.presign_get("k", ttl);
        ASSERT_FALSE(url);
        EXPECT_EQ(url.error().kind, core::ErrorKind::invalid_input);
    }
}

}  // namespace
}  // namespace audiodrop::storage
