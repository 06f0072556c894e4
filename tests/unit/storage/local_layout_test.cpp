#include "storage/local_layout.hpp"

#include <gtest/gtest.h>

namespace audiodrop::storage {
namespace {

TEST(LocalLayout, KeysAreOneSafeDirectoryName) {
    EXPECT_TRUE(is_valid_key("file_abc123.mp3"));
    EXPECT_TRUE(is_valid_key("A-b_c.9"));
    EXPECT_TRUE(is_valid_key(std::string(200, 'k')));
    EXPECT_FALSE(is_valid_key(std::string(201, 'k')));
    EXPECT_FALSE(is_valid_key(""));
    EXPECT_FALSE(is_valid_key("."));
    EXPECT_FALSE(is_valid_key(".."));
    EXPECT_FALSE(is_valid_key("../x"));
    EXPECT_FALSE(is_valid_key(".hidden"));
    EXPECT_FALSE(is_valid_key("a/b"));
    EXPECT_FALSE(is_valid_key("a b"));
    EXPECT_FALSE(is_valid_key("a\\b"));
    EXPECT_FALSE(is_valid_key(std::string("a\0b", 3)));
}

TEST(LocalLayout, UploadIdsMustBeOnesTheStoreMints) {
    EXPECT_TRUE(is_valid_upload_id("mpu_abcdefghijklmnopqrstuvwxyz"));
    EXPECT_FALSE(is_valid_upload_id("mpu_../../../../etc/passwd"));
    EXPECT_FALSE(is_valid_upload_id("../mpu_abcdefghijklmnopqrstuvw"));
    EXPECT_FALSE(is_valid_upload_id("upload_abcdefghijklmnopqrstuvwxyz"));
    EXPECT_FALSE(is_valid_upload_id(""));
}

TEST(LocalLayout, PartFileNamesRoundTripAndSortByNumber) {
    const std::string etag = "9e107d9d372bb6826bd81d3542a419d6";
    EXPECT_EQ(part_file_name(42, etag), "00042." + etag);
    EXPECT_LT(part_file_name(9, etag), part_file_name(10, etag));
    auto parsed = parse_part_file_name(part_file_name(10000, etag));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->part_number, 10000u);
    EXPECT_EQ(parsed->etag, etag);
}

TEST(LocalLayout, OtherFileNamesAreNotParts) {
    const std::string etag = "9e107d9d372bb6826bd81d3542a419d6";
    EXPECT_FALSE(parse_part_file_name("upload.json"));
    EXPECT_FALSE(parse_part_file_name("manifest.json"));
    EXPECT_FALSE(parse_part_file_name("00000." + etag));
    EXPECT_FALSE(parse_part_file_name("10001." + etag));
    EXPECT_FALSE(parse_part_file_name("0001a." + etag));
    EXPECT_FALSE(parse_part_file_name("00001." + std::string(32, 'A')));
    EXPECT_FALSE(parse_part_file_name("00001." + etag + ".tmp"));
}

TEST(LocalLayout, ManifestRoundTrips) {
    Manifest m;
    m.key = "file_x.mp3";
    m.upload_id = "mpu_abcdefghijklmnopqrstuvwxyz";
    m.size = 12;
    m.md5 = "0123456789abcdef0123456789abcdef";
    m.completed_at = 1'750'000'000;
    m.parts = {{1, part_file_name(1, std::string(32, 'a')), 5, std::string(32, 'a')},
               {2, part_file_name(2, std::string(32, 'b')), 7, std::string(32, 'b')}};
    auto back = decode_manifest(encode(m));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->key, m.key);
    EXPECT_EQ(back->upload_id, m.upload_id);
    EXPECT_EQ(back->size, m.size);
    EXPECT_EQ(back->md5, m.md5);
    EXPECT_EQ(back->completed_at, m.completed_at);
    ASSERT_EQ(back->parts.size(), 2u);
    EXPECT_EQ(back->parts[1].file, m.parts[1].file);
    EXPECT_EQ(back->parts[1].size, 7u);
    EXPECT_TRUE(same_parts(*back, {{1, std::string(32, 'a')}, {2, std::string(32, 'b')}}));
    EXPECT_FALSE(same_parts(*back, {{1, std::string(32, 'a')}}));
}

TEST(LocalLayout, ManifestNamingAFileOutsideTheObjectIsRejected) {
    Manifest m;
    m.key = "k";
    m.upload_id = "mpu_abcdefghijklmnopqrstuvwxyz";
    m.parts = {{1, "../../etc/passwd", 5, std::string(32, 'a')}};
    auto back = decode_manifest(encode(m));
    ASSERT_FALSE(back.has_value());
    EXPECT_EQ(back.error().kind, core::ErrorKind::internal);
    EXPECT_FALSE(decode_manifest("{not json").has_value());
}

}  // namespace
}  // namespace audiodrop::storage
