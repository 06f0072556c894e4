#include <gtest/gtest.h>

#include "local_store_fixture.hpp"
#include "presigned_request.hpp"
#include "s3/sigv4.hpp"

namespace audiodrop::storage {
namespace {

using test_support::as_received;
using test_support::LocalStoreTest;

const std::string kKey = "file_url.mp3";

std::string query_value(const s3::QueryParams& q, const std::string& name) {
    for (const auto& [k, v] : q) {
        if (k == name) return v;
    }
    return "<absent>";
}

TEST_F(LocalStoreTest, PartUrlIsAPathStylePresignedPut) {
    const auto id = create(kKey);
    auto urls = store_->presign_parts(kKey, id, 7, core::Seconds{600});
    ASSERT_TRUE(urls.has_value()) << urls.error().message;
    ASSERT_EQ(urls->size(), 7u);
    const auto* url = &urls->back();
    EXPECT_TRUE(url->starts_with("http://127.0.0.1:8081/audiodrop/file_url.mp3?")) << *url;
    EXPECT_NE(url->find("partNumber=7"), std::string::npos);
    EXPECT_NE(url->find("uploadId=" + id), std::string::npos);
    EXPECT_NE(url->find("X-Amz-Expires=600"), std::string::npos);

    auto verified = s3::verify_presigned(as_received("PUT", *url), options().credentials,
                                         "us-east-1", clock_.now());
    ASSERT_TRUE(verified.has_value()) << verified.error().message;
    EXPECT_EQ(verified->path, "/audiodrop/file_url.mp3");
    EXPECT_EQ(query_value(verified->query, "partNumber"), "7");
    EXPECT_EQ(query_value(verified->query, "uploadId"), id);

    EXPECT_FALSE(s3::verify_presigned(as_received("GET", *url), options().credentials, "us-east-1",
                                      clock_.now()));
    EXPECT_FALSE(s3::verify_presigned(as_received("PUT", *url), options().credentials, "us-east-1",
                                      clock_.now() + core::Seconds{601}));
}

TEST_F(LocalStoreTest, DownloadUrlIsAPresignedGet) {
    auto url = store_->presign_get(kKey, core::Seconds{24 * 3600});
    ASSERT_TRUE(url.has_value());
    EXPECT_TRUE(url->starts_with("http://127.0.0.1:8081/audiodrop/file_url.mp3?")) << *url;
    EXPECT_EQ(url->find("partNumber"), std::string::npos);
    auto verified = s3::verify_presigned(as_received("GET", *url), options().credentials,
                                         "us-east-1", clock_.now() + core::Seconds{3600});
    ASSERT_TRUE(verified.has_value()) << verified.error().message;
    EXPECT_EQ(verified->path, "/audiodrop/file_url.mp3");
    auto other_secret = options().credentials;
    other_secret.secret_key = "not the secret";
    EXPECT_FALSE(
        s3::verify_presigned(as_received("GET", *url), other_secret, "us-east-1", clock_.now()));
}

TEST_F(LocalStoreTest, PresignRefusesLifetimesS3WouldRefuse) {
    const auto id = create(kKey);
    EXPECT_EQ(store_->presign_get(kKey, core::Seconds{0}).error().kind,
              core::ErrorKind::invalid_input);
    EXPECT_EQ(store_->presign_parts(kKey, id, 1, core::Seconds{8 * 24 * 3600}).error().kind,
              core::ErrorKind::invalid_input);
    EXPECT_EQ(store_->presign_parts(kKey, id, 10001, core::Seconds{60}).error().kind,
              core::ErrorKind::invalid_input);
    EXPECT_TRUE(store_->presign_get(kKey, core::Seconds{7 * 24 * 3600}).has_value());
}

}  // namespace
}  // namespace audiodrop::storage
