#include "storage/local_object_reader.hpp"

#include <gtest/gtest.h>

#include <random>

#include "local_store_fixture.hpp"

namespace audiodrop::storage {
namespace {

using test_support::LocalStoreTest;
using test_support::pattern_bytes;

const std::string kKey = "file_ranges.wav";

class LocalObjectReaderTest : public LocalStoreTest {
  protected:
    // Parts of uneven sizes, including one byte and an empty last part, so reads
    // start, end and cross at every kind of boundary.
    void SetUp() override {
        LocalStoreTest::SetUp();
        const auto id = create(kKey);
        std::vector<PartRef> refs;
        const std::vector<std::size_t> sizes = {4096, 1, 777, 10000, 3, 0};
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            const std::string body = pattern_bytes(sizes[i], static_cast<unsigned>(i + 10));
            auto part = put_part(kKey, id, static_cast<std::uint32_t>(i + 1), body);
            ASSERT_TRUE(part.has_value());
            refs.push_back({part->part_number, part->etag});
            expected_ += body;
        }
        ASSERT_TRUE(store_->complete(kKey, id, refs, std::nullopt).has_value());
        auto reader = store_->open_object(kKey);
        ASSERT_TRUE(reader.has_value());
        reader_ = std::move(*reader);
    }

    std::string read(std::uint64_t offset, std::size_t length) {
        std::string out(length, '\0');
        auto n = reader_->read(
            offset, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), length));
        EXPECT_TRUE(n.has_value());
        out.resize(n ? *n : 0);
        return out;
    }

    std::string expected_;
    std::unique_ptr<ObjectReader> reader_;
};

TEST_F(LocalObjectReaderTest, SizeAndMd5DescribeTheWholeObject) {
    EXPECT_EQ(reader_->size(), expected_.size());
    EXPECT_EQ(reader_->md5(), test_support::md5_hex(expected_));
}

TEST_F(LocalObjectReaderTest, RandomRangesMatchTheBytesWritten) {
    std::mt19937_64 rng(20240601);
    for (int i = 0; i < 2000; ++i) {
        const std::uint64_t offset = rng() % (expected_.size() + 10);
        const std::size_t length = static_cast<std::size_t>(rng() % 12000);
        SCOPED_TRACE("offset " + std::to_string(offset) + " length " + std::to_string(length));
        const std::string want =
            offset >= expected_.size() ? std::string() : expected_.substr(offset, length);
        ASSERT_EQ(read(offset, length), want);
    }
}

TEST_F(LocalObjectReaderTest, ReadsAtEachPartBoundary) {
    for (std::uint64_t boundary : {4096u, 4097u, 4874u, 14874u}) {
        SCOPED_TRACE(boundary);
        EXPECT_EQ(read(boundary - 1, 2), expected_.substr(boundary - 1, 2));
        EXPECT_EQ(read(boundary, 1), expected_.substr(boundary, 1));
    }
}

TEST_F(LocalObjectReaderTest, ReadingAtOrPastTheEndReturnsNothing) {
    EXPECT_EQ(read(expected_.size(), 10), "");
    EXPECT_EQ(read(expected_.size() + 100, 10), "");
    EXPECT_EQ(read(expected_.size() - 1, 10), expected_.substr(expected_.size() - 1));
    EXPECT_EQ(read(0, 0), "");
}

TEST_F(LocalObjectReaderTest, TruncatedPartFileIsReportedNotServed) {
    // Disk damage behind the store's back: the manifest no longer matches a part.
    for (const auto& entry : std::filesystem::directory_iterator(object_dir(kKey))) {
        if (entry.path().filename().string().starts_with("00004.")) {
            std::filesystem::resize_file(entry.path(), 10);
        }
    }
    auto reader = store_->open_object(kKey);
    ASSERT_FALSE(reader.has_value());
    EXPECT_EQ(reader.error().kind, core::ErrorKind::internal);
}

}  // namespace
}  // namespace audiodrop::storage
