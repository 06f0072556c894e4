#include "s3/s3_xml.hpp"

#include <gtest/gtest.h>

namespace audiodrop::s3 {
namespace {

TEST(S3Xml, ReadsAnErrorDocument) {
    const auto e = parse_error_body(
        R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code>)"
        R"(<Message>The specified upload does not exist.</Message><RequestId>1</RequestId></Error>)");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, "NoSuchUpload");
    EXPECT_EQ(e->message, "The specified upload does not exist.");
}

TEST(S3Xml, AnythingElseIsNotAnErrorDocument) {
    EXPECT_FALSE(parse_error_body(""));
    EXPECT_FALSE(parse_error_body("<html><body>502 Bad Gateway</body></html>"));
    EXPECT_FALSE(parse_error_body("<Error><Code>unterminated"));
}

TEST(S3Xml, ReadsTheUploadIdOfANamespacedResult) {
    const auto id = parse_upload_id(
        R"(<?xml version="1.0" encoding="UTF-8"?>)"
        R"(<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
        R"(<Bucket>b</Bucket><Key>k.mp3</Key><UploadId>2~abc_DEF</UploadId>)"
        R"(</InitiateMultipartUploadResult>)");
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, "2~abc_DEF");
    EXPECT_FALSE(parse_upload_id("<InitiateMultipartUploadResult/>"));
    EXPECT_FALSE(parse_upload_id("not xml"));
}

TEST(S3Xml, ReadsAPageOfParts) {
    const auto page = parse_parts_page(
        R"(<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
        R"(<IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>)"
        R"(<Part><PartNumber>1</PartNumber><ETag>"aa"</ETag><Size>5242880</Size></Part>)"
        R"(<Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag><Size>17</Size></Part>)"
        R"(</ListPartsResult>)");
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_TRUE(page->truncated);
    EXPECT_EQ(page->next_part_number_marker, 2u);
    ASSERT_EQ(page->parts.size(), 2u);
    EXPECT_EQ(page->parts[0].part_number, 1u);
    EXPECT_EQ(page->parts[0].etag, "\"aa\"");
    EXPECT_EQ(page->parts[0].size, 5242880u);
    EXPECT_EQ(page->parts[1].etag, "\"bb\"");
}

TEST(S3Xml, RefusesPartsItCannotRead) {
    EXPECT_FALSE(
        parse_parts_page("<ListPartsResult><Part><PartNumber>x</PartNumber><Size>1</Size></Part></"
                         "ListPartsResult>"));
    EXPECT_FALSE(
        parse_parts_page("<ListPartsResult><IsTruncated>true</IsTruncated>"
                         "</ListPartsResult>"));  // truncated without a marker
    EXPECT_FALSE(parse_parts_page("<Error><Code>NoSuchUpload</Code></Error>"));
}

TEST(S3Xml, TheCompletedEtagMayBeEmpty) {
    const auto etag = parse_completed_etag(
        "<CompleteMultipartUploadResult><Location>x</Location><ETag></ETag>"
        "</CompleteMultipartUploadResult>");
    ASSERT_TRUE(etag);
    EXPECT_EQ(*etag, "");
    // S3 can answer 200 and then put the failure in the body.
    EXPECT_FALSE(parse_completed_etag("<Error><Code>InternalError</Code></Error>"));
}

TEST(S3Xml, WritesTheCompleteBodyWithQuotedEtags) {
    EXPECT_EQ(complete_multipart_body({{1, "aa"}, {2, "bb"}}),
              "<CompleteMultipartUpload>"
              "<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag></Part>"
              "<Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag></Part>"
              "</CompleteMultipartUpload>");
}

}  // namespace
}  // namespace audiodrop::s3
