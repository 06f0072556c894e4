// The whole-file MD5 frontier (md5_frontier.hpp), through the local store with a real
// hash pool: what the background hashes, how it reacts to parts arriving out of order
// or stored again, and what survives a restart. Whatever the frontier does, complete's
// MD5 must be that of the bytes the complete names.

#include "storage/md5_frontier.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "hashing_store_fixture.hpp"

namespace audiodrop::storage {
namespace {

using test_support::HashingStoreTest;
using test_support::md5_hex;
using test_support::part_bytes;

const std::string kKey = "file_frontier.mp3";

// Part n's bytes in `versions[n]` (0 when absent), for the parts `numbers` in order.
std::string joined(const std::vector<std::uint32_t>& numbers,
                   const std::map<std::uint32_t, unsigned>& versions = {}) {
    std::string out;
    for (auto n : numbers) {
        auto v = versions.find(n);
        out += part_bytes(n, v == versions.end() ? 0 : v->second);
    }
    return out;
}

void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::int64_t mtime_ns_of(const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

void set_mtime_ns(const std::filesystem::path& path, std::int64_t ns) {
    const timespec times[2] = {{0, UTIME_OMIT},
                               {static_cast<time_t>(ns / 1'000'000'000), ns % 1'000'000'000}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class Md5FrontierTest : public HashingStoreTest {
  protected:
    void SetUp() override {
        HashingStoreTest::SetUp();
        id_ = create(kKey, kMaxPart);
    }

    // Completes the upload with `parts` and checks the object's MD5 is `want`.
    void expect_completes_to(const std::map<std::uint32_t, std::string>& parts,
                             const std::string& want) {
        auto info = store_->complete(kKey, id_, refs(parts), std::nullopt);
        ASSERT_TRUE(info.has_value()) << info.error().code << ": " << info.error().message;
        EXPECT_EQ(info->md5, md5_hex(want));
        EXPECT_EQ(read_all(kKey), want);
    }

    // The stored part files as list_parts names them (ETag by part number).
    std::map<std::uint32_t, std::string> listed_parts() {
        std::map<std::uint32_t, std::string> out;
        auto parts = store_->list_parts(kKey, id_);
        EXPECT_TRUE(parts.has_value());
        if (parts) {
            for (const auto& p : *parts) out[p.part_number] = p.etag;
        }
        return out;
    }

    std::filesystem::path part_file(std::uint32_t n, const std::string& etag) const {
        return upload_dir(id_) / part_file_name(n, etag);
    }

    std::string id_;
};

TEST_F(Md5FrontierTest, PartsStoredInOrderAreHashedInTheBackground) {
    const auto etags = put_parts(kKey, id_, {1, 2, 3, 4});
    EXPECT_TRUE(hashed_reaches(id_, 4));
    expect_completes_to(etags, joined({1, 2, 3, 4}));
    EXPECT_FALSE(std::filesystem::exists(object_dir(kKey) / Md5Frontiers::kFileName));
}

// Stores the parts in the order given; after each, the frontier covers exactly the
// parts 1..k all present by then.
class Md5FrontierArrivalTest : public Md5FrontierTest,
                               public ::testing::WithParamInterface<std::vector<std::uint32_t>> {};

TEST_P(Md5FrontierArrivalTest, PartsStoredOutOfOrderAreHashedOnceTheGapFills) {
    std::set<std::uint32_t> stored;
    std::map<std::uint32_t, std::string> etags;
    for (auto n : GetParam()) {
        etags.merge(put_parts(kKey, id_, {n}));
        stored.insert(n);
        std::uint32_t prefix = 0;
        while (stored.contains(prefix + 1)) ++prefix;
        EXPECT_TRUE(hashed_reaches(id_, prefix)) << "after part " << n;
    }
    std::vector<std::uint32_t> all(stored.begin(), stored.end());
    expect_completes_to(etags, joined(all));
}

INSTANTIATE_TEST_SUITE_P(Orders, Md5FrontierArrivalTest,
                         ::testing::Values(std::vector<std::uint32_t>{3, 1, 2},
                                           std::vector<std::uint32_t>{5, 4, 3, 2, 1},
                                           std::vector<std::uint32_t>{2, 4, 1, 3}));

class Md5FrontierReuploadTest : public Md5FrontierTest,
                                public ::testing::WithParamInterface<std::uint32_t> {};

TEST_P(Md5FrontierReuploadTest, APartStoredAgainBehindTheFrontierIsHashedAgain) {
    const std::uint32_t again = GetParam();
    auto etags = put_parts(kKey, id_, {1, 2, 3, 4});
    ASSERT_TRUE(hashed_reaches(id_, 4));

    // The pool is held, so the frontier shows where the re-upload put it back to.
    audiodrop::test_support::PoolGate gate;
    ASSERT_TRUE(gate.close(*pool_));
    etags[again] = put_parts(kKey, id_, {again}, 1).at(again);
    EXPECT_EQ(store_->parts_hashed(id_), again - 1);
    gate.open();

    EXPECT_TRUE(hashed_reaches(id_, 4));
    expect_completes_to(etags, joined({1, 2, 3, 4}, {{again, 1}}));
}

INSTANTIATE_TEST_SUITE_P(Parts, Md5FrontierReuploadTest, ::testing::Values(1u, 2u, 4u));

TEST_F(Md5FrontierTest, AWrongFileMd5LeavesTheUploadOpenAndTheFrontierAtTheEnd) {
    const auto etags = put_parts(kKey, id_, {1, 2, 3});
    auto wrong = store_->complete(kKey, id_, refs(etags), md5_hex("other bytes"));
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().reason, core::Reason::digest_mismatch);
    EXPECT_EQ(wrong.error().kind, core::ErrorKind::invalid_input);
    EXPECT_EQ(listed_parts(), etags);
    EXPECT_FALSE(store_->stat(kKey).has_value());
    EXPECT_EQ(store_->parts_hashed(id_), 3u);

    auto right = store_->complete(kKey, id_, refs(etags), md5_hex(joined({1, 2, 3})));
    ASSERT_TRUE(right.has_value()) << right.error().message;
    EXPECT_EQ(right->md5, md5_hex(joined({1, 2, 3})));
}

// Parts stored before a restart, and the part that arrives after it.
struct RestartCase {
    std::vector<std::uint32_t> before;
    std::uint32_t after;
    std::uint32_t frontier;  // parts hashed before the restart
};

void PrintTo(const RestartCase& c, std::ostream* os) {
    *os << c.before.size() << " parts, then part " << c.after;
}

class Md5FrontierRestartTest : public Md5FrontierTest,
                               public ::testing::WithParamInterface<RestartCase> {};

TEST_P(Md5FrontierRestartTest, TheFrontierResumesAfterARestart) {
    const auto& [before, after, frontier] = GetParam();
    auto etags = put_parts(kKey, id_, before);
    ASSERT_TRUE(hashed_reaches(id_, frontier));
    restart();
    EXPECT_EQ(store_->parts_hashed(id_), frontier);

    etags.merge(put_parts(kKey, id_, {after}));
    EXPECT_TRUE(hashed_reaches(id_, 4));
    expect_completes_to(etags, joined({1, 2, 3, 4}));
}

INSTANTIATE_TEST_SUITE_P(Cases, Md5FrontierRestartTest,
                         ::testing::Values(RestartCase{{1, 2, 3}, 4, 3},
                                           // stopped at a gap
                                           RestartCase{{1, 2, 4}, 3, 2}));

// A damaged md5.frontier, given the size of one record, and how many records before
// the damage are intact.
struct Damage {
    std::string name;
    std::function<void(const std::filesystem::path& file, std::uintmax_t record)> apply;
    std::uint32_t intact;
};

void PrintTo(const Damage& damage, std::ostream* os) { *os << damage.name; }

void flip_byte(const std::filesystem::path& file, std::uintmax_t at) {
    std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(at));
    const char c = static_cast<char>(f.get() ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(c);
}

class Md5FrontierDamageTest : public Md5FrontierTest,
                              public ::testing::WithParamInterface<Damage> {};

TEST_P(Md5FrontierDamageTest, ADamagedFrontierFileCostsARehashNeverAWrongMd5) {
    const auto etags = put_parts(kKey, id_, {1, 2, 3});
    ASSERT_TRUE(hashed_reaches(id_, 3));
    const auto file = frontier_file(id_);
    const auto record = std::filesystem::file_size(file) / 3;
    ASSERT_GT(record, 0u);

    restart([&] { GetParam().apply(file, record); });
    EXPECT_EQ(store_->parts_hashed(id_), GetParam().intact);
    expect_completes_to(etags, joined({1, 2, 3}));
}

INSTANTIATE_TEST_SUITE_P(
    Damages, Md5FrontierDamageTest,
    ::testing::Values(
        Damage{"FirstRecordFlipped", [](auto& f, auto r) { flip_byte(f, r / 2); }, 0},
        Damage{"SecondRecordFlipped", [](auto& f, auto r) { flip_byte(f, r + r / 2); }, 1},
        Damage{"LastByteFlipped", [](auto& f, auto r) { flip_byte(f, 3 * r - 1); }, 2},
        Damage{"CutInTheSecondRecord",
               [](auto& f, auto r) { std::filesystem::resize_file(f, r + r / 2); }, 1},
        Damage{"CutInTheLastRecord",
               [](auto& f, auto r) { std::filesystem::resize_file(f, 3 * r - 1); }, 2},
        Damage{"Emptied", [](auto& f, auto) { std::filesystem::resize_file(f, 0); }, 0},
        Damage{"Removed", [](auto& f, auto) { std::filesystem::remove(f); }, 0},
        Damage{"GarbageAppended",
               [](auto& f, auto r) {
                   std::ofstream(f, std::ios::binary | std::ios::app) << std::string(r, 'x');
               },
               3}),
    [](const auto& info) { return info.param.name; });

TEST_F(Md5FrontierTest, APartFileRewrittenWhileTheStoreWasDownIsNotTrusted) {
    auto etags = put_parts(kKey, id_, {1, 2, 3});
    ASSERT_TRUE(hashed_reaches(id_, 3));
    // Other bytes under the same name: only the file's mtime tells it apart.
    const auto file = part_file(2, etags.at(2));
    restart([&] {
        const auto before = mtime_ns_of(file);
        write_bytes(file, part_bytes(2, 7));
        set_mtime_ns(file, before + 1'000'000);
    });
    EXPECT_EQ(store_->parts_hashed(id_), 1u);
    expect_completes_to(listed_parts(), joined({1, 2, 3}, {{2, 7}}));
}

TEST_F(Md5FrontierTest, APartStoredAgainJustBeforeACrashIsNotTrusted) {
    auto etags = put_parts(kKey, id_, {1, 2, 3});
    ASSERT_TRUE(hashed_reaches(id_, 3));
    // The re-upload renamed its file in and dropped the old one; the crash came before
    // the frontier heard of it.
    restart([&] {
        const std::string bytes = part_bytes(2, 7);
        std::filesystem::remove(part_file(2, etags.at(2)));
        write_bytes(part_file(2, md5_hex(bytes)), bytes);
    });
    EXPECT_EQ(store_->parts_hashed(id_), 1u);
    expect_completes_to(listed_parts(), joined({1, 2, 3}, {{2, 7}}));
}

TEST_F(Md5FrontierTest, AStoreWithoutAHashPoolStillCompletesCorrectly) {
    restart({}, /*with_pool=*/false);
    const auto etags = put_parts(kKey, id_, {3, 1, 2});
    EXPECT_EQ(store_->parts_hashed(id_), 0u);

    auto wrong = store_->complete(kKey, id_, refs(etags), md5_hex("other bytes"));
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().reason, core::Reason::digest_mismatch);
    EXPECT_EQ(store_->parts_hashed(id_), 3u);
    expect_completes_to(etags, joined({1, 2, 3}));
}

// S3 completes any ascending subset of the stored parts.
class Md5FrontierSubsetTest : public Md5FrontierTest,
                              public ::testing::WithParamInterface<std::vector<std::uint32_t>> {};

TEST_P(Md5FrontierSubsetTest, ACompleteOfSomePartsHashesExactlyThoseParts) {
    const auto stored = put_parts(kKey, id_, {1, 2, 3});
    ASSERT_TRUE(hashed_reaches(id_, 3));
    std::map<std::uint32_t, std::string> named;
    for (auto n : GetParam()) named[n] = stored.at(n);
    expect_completes_to(named, joined(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Subsets, Md5FrontierSubsetTest,
                         ::testing::Values(std::vector<std::uint32_t>{1, 3},
                                           std::vector<std::uint32_t>{2, 3},
                                           std::vector<std::uint32_t>{2},
                                           std::vector<std::uint32_t>{1, 2},
                                           std::vector<std::uint32_t>{1}));

// A client completes right after its last part, while the background still hashes.
// Here the background is held back while the parts land, then runs beside the
// complete; a small first part lets it record progress while the complete hashes the
// rest. Whether the two overlap is up to the scheduler, so the race is run a few times.
TEST_F(Md5FrontierTest, ACompleteRacingTheBackgroundLeavesAFrontierThatSurvivesARestart) {
    constexpr std::uint32_t kParts = 5;
    for (int round = 0; round < 8 && !HasFailure(); ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const auto id = create(kKey, kMaxPart);
        std::map<std::uint32_t, std::string> etags;
        std::string whole;
        audiodrop::test_support::PoolGate gate;
        ASSERT_TRUE(gate.close(*pool_));
        for (std::uint32_t n = 1; n <= kParts; ++n) {
            const auto bytes = test_support::pattern_bytes(n == 1 ? 1000 : kMaxPart, n);
            auto part = put_part(kKey, id, n, bytes);
            ASSERT_TRUE(part.has_value());
            etags[n] = part->etag;
            whole += bytes;
        }
        core::Result<ObjectInfo> wrong = core::Error{};
        {
            std::jthread completing(
                [&] { wrong = store_->complete(kKey, id, refs(etags), md5_hex("other bytes")); });
            gate.open();
        }
        ASSERT_FALSE(wrong.has_value());
        EXPECT_EQ(wrong.error().reason, core::Reason::digest_mismatch);
        EXPECT_EQ(store_->parts_hashed(id), kParts);
        // Let the background settle, as it would before a clean shutdown.
        ASSERT_TRUE(audiodrop::test_support::eventually([&] {
            const auto s = pool_->stats();
            return s.queued == 0 && s.running == 0;
        }));

        restart();
        EXPECT_EQ(store_->parts_hashed(id), kParts);
        auto info = store_->complete(kKey, id, refs(etags), md5_hex(whole));
        EXPECT_TRUE(info.has_value()) << info.error().message;
    }
}

}  // namespace
}  // namespace audiodrop::storage
