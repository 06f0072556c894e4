#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/hashing.hpp"
#include "storage/local_object_store.hpp"

namespace audiodrop::storage::test_support {

class FakeClock final : public core::Clock {
  public:
    core::TimePoint now() const override { return now_; }
    void advance(core::Seconds s) { now_ += s; }

  private:
    core::TimePoint now_ = core::from_unix(1'750'000'000);
};

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string md5_hex(std::string_view s) { return core::to_hex(core::md5(s)); }

// Deterministic, non-repeating-looking bytes so a misplaced range is caught.
inline std::string pattern_bytes(std::size_t size, unsigned seed) {
    std::string out(size, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : out) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

// A store on a fresh directory under the system temp dir, removed afterwards.
class LocalStoreTest : public ::testing::Test {
  protected:
    static constexpr std::uint64_t kPartSize = 64 * 1024;

    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "audiodrop-storage-XXXXXX");
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        base_ = tmpl;
        root_ = base_ / "data";
        store_ = open_store();
        ASSERT_NE(store_, nullptr);
    }

    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(base_);
    }

    LocalObjectStore::Options options() const {
        LocalObjectStore::Options o;
        o.root = root_;
        o.bucket = "audiodrop";
        o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
        o.region = "us-east-1";
        o.public_url = "http://127.0.0.1:8081/";
        return o;
    }

    std::unique_ptr<LocalObjectStore> open_store() {
        auto s = LocalObjectStore::open(options(), clock_);
        EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().code + ": " + s.error().message);
        return s ? std::move(*s) : nullptr;
    }

    // What a kill -9 and restart does to the store object: drop it, open anew.
    void reopen() {
        store_.reset();
        store_ = open_store();
        ASSERT_NE(store_, nullptr);
    }

    std::string create(const std::string& key, std::uint64_t part_size = kPartSize) {
        auto id = store_->create_multipart(key, part_size);
        EXPECT_TRUE(id.has_value());
        return id ? *id : std::string();
    }

    core::Result<PartInfo> put_part(const std::string& key, const std::string& upload_id,
                                    std::uint32_t part_number, std::string_view body,
                                    std::optional<core::Md5Digest> content_md5 = std::nullopt) {
        auto writer = store_->begin_part(key, upload_id, part_number, body.size());
        if (!writer) return writer.error();
        // Several writes, as bytes arrive off a socket.
        for (std::size_t at = 0; at < body.size(); at += 1000) {
            if (auto r = (*writer)->write(as_bytes(body.substr(at, 1000))); !r) return r.error();
        }
        return (*writer)->commit(content_md5);
    }

    std::string read_all(const std::string& key) {
        auto reader = store_->open_object(key);
        EXPECT_TRUE(reader.has_value());
        if (!reader) return {};
        std::string out((*reader)->size(), '\0');
        auto n = (*reader)->read(
            0, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
        EXPECT_TRUE(n.has_value() && *n == out.size());
        return out;
    }

    std::filesystem::path upload_dir(const std::string& id) const { return root_ / "uploads" / id; }
    std::filesystem::path object_dir(const std::string& key) const {
        return root_ / "objects" / key;
    }

    static std::size_t count_entries(const std::filesystem::path& dir) {
        std::size_t n = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
        return n;
    }

    FakeClock clock_;
    std::filesystem::path base_;
    std::filesystem::path root_;
    std::unique_ptr<LocalObjectStore> store_;
};

}  // namespace audiodrop::storage::test_support
