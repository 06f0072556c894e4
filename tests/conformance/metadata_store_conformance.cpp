#include "conformance/metadata_store_conformance.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "conformance/postgres_test_schema.hpp"
#include "conformance/temp_dir.hpp"
#include "metadata/postgres_metadata_store.hpp"
#include "metadata/sqlite_metadata_store.hpp"

namespace audiodrop::metadata::conformance {

void MetadataStoreConformance::SetUp() {
    if (!GetParam().skip_reason.empty()) GTEST_SKIP() << GetParam().skip_reason;
    backend_ = GetParam().make();
    auto store = backend_->connect();
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
}

namespace {

constexpr int kRacers = 8;

// Whole seconds: stores keep unix seconds.
core::TimePoint at(std::int64_t seconds_after_base) {
    return core::from_unix(1'700'000'000 + seconds_after_base);
}

UploadRecord make_upload(const std::string& name, std::int64_t expires_in = 3600) {
    UploadRecord u;
    u.file_id = "file_" + name;
    u.upload_id = "upload_" + name;
    u.client_id = "pc_partner";
    u.user_id = "user-000001";
    u.filesize = 10 * 1024 * 1024 + 17;
    u.filetype = "mp3";
    u.chunk_size = 5 * 1024 * 1024;
    u.part_count = 3;
    u.object_key = "uploads/" + name;
    u.storage_upload_id = "mpu-" + name;
    u.state = UploadState::open;
    u.created_at = at(0);
    u.expires_at = at(expires_in);
    return u;
}

void expect_same_upload(const UploadRecord& want, const UploadRecord& got) {
    EXPECT_EQ(want.file_id, got.file_id);
    EXPECT_EQ(want.upload_id, got.upload_id);
    EXPECT_EQ(want.client_id, got.client_id);
    EXPECT_EQ(want.user_id, got.user_id);
    EXPECT_EQ(want.filesize, got.filesize);
    EXPECT_EQ(want.filetype, got.filetype);
    EXPECT_EQ(want.chunk_size, got.chunk_size);
    EXPECT_EQ(want.part_count, got.part_count);
    EXPECT_EQ(want.object_key, got.object_key);
    EXPECT_EQ(want.storage_upload_id, got.storage_upload_id);
    EXPECT_EQ(want.state, got.state);
    EXPECT_EQ(want.created_at, got.created_at);
    EXPECT_EQ(want.expires_at, got.expires_at);
    EXPECT_EQ(want.completed_at, got.completed_at);
    EXPECT_EQ(want.file_md5, got.file_md5);
    EXPECT_EQ(want.part_list_digest, got.part_list_digest);
}

std::vector<std::string> file_ids(const std::vector<UploadRecord>& uploads) {
    std::vector<std::string> ids;
    for (const auto& u : uploads) ids.push_back(u.file_id);
    return ids;
}

// Starts `attempt(i)` on kRacers threads released at the same instant and returns
// how many of them answered true.
template <class Attempt>
int count_winners(Attempt attempt) {
    std::latch start(kRacers);
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRacers; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            if (attempt(i)) ++winners;
        });
    }
    for (auto& t : threads) t.join();
    return winners.load();
}

// kRacers stores on the backend's database, as separate replicas would have.
std::vector<std::unique_ptr<MetadataStore>> connect_racers(Backend& backend) {
    std::vector<std::unique_ptr<MetadataStore>> stores;
    for (int i = 0; i < kRacers; ++i) {
        auto s = backend.connect();
        if (!s) {
            ADD_FAILURE() << s.error().message;
            return {};
        }
        stores.push_back(std::move(*s));
    }
    return stores;
}

// --- partners ---

TEST_P(MetadataStoreConformance, CreatedPartnerIsFoundWithEveryField) {
    const Partner p = sample_partner("pc_alpha");
    ASSERT_TRUE(store().create_partner(p));

    auto found = store().find_partner("pc_alpha");
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->client_id, p.client_id);
    EXPECT_EQ((*found)->name, p.name);
    EXPECT_EQ((*found)->region, p.region);
    EXPECT_EQ((*found)->secret_hash, p.secret_hash);
    EXPECT_EQ((*found)->created_at, p.created_at);
}

TEST_P(MetadataStoreConformance, UnknownPartnerIsEmptyNotAnError) {
    ASSERT_TRUE(store().create_partner(sample_partner("pc_alpha")));
    auto found = store().find_partner("pc_beta");
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_FALSE(found->has_value());
}

TEST_P(MetadataStoreConformance, PartnerWithTakenClientIdIsConflictAndKeepsTheFirst) {
    ASSERT_TRUE(store().create_partner(sample_partner("pc_alpha")));
    Partner again = sample_partner("pc_alpha");
    again.name = "Impostor";
    auto created = store().create_partner(again);
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().kind, core::ErrorKind::conflict);
    EXPECT_EQ(created.error().code, "partner_exists");

    auto found = store().find_partner("pc_alpha");
    ASSERT_TRUE(found && found->has_value());
    EXPECT_EQ((*found)->name, sample_partner("pc_alpha").name);
}

TEST_P(MetadataStoreConformance, TextIsStoredVerbatim) {
    Partner p = sample_partner("pc_unicode");
    p.name = "Ünïcødé 'quoted' \"names\"; DROP TABLE partners; -- 录音";
    ASSERT_TRUE(store().create_partner(p));
    auto found = store().find_partner("pc_unicode");
    ASSERT_TRUE(found && found->has_value());
    EXPECT_EQ((*found)->name, p.name);
}

// --- refresh tokens ---

TEST_P(MetadataStoreConformance, RefreshTokenIsSpentOnceWithItsFields) {
    const RefreshToken t{std::string(64, 'a'), "pc_alpha", at(600)};
    ASSERT_TRUE(store().add_refresh_token(t));

    auto first = store().spend_refresh_token(t.token_hash, at(0));
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_TRUE(first->has_value());
    EXPECT_EQ((*first)->token_hash, t.token_hash);
    EXPECT_EQ((*first)->client_id, t.client_id);
    EXPECT_EQ((*first)->expires_at, t.expires_at);

    auto second = store().spend_refresh_token(t.token_hash, at(1));
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_FALSE(second->has_value());
}

TEST_P(MetadataStoreConformance, FindingARefreshTokenDoesNotSpendIt) {
    const RefreshToken t{std::string(64, 'f'), "pc_alpha", at(600)};
    ASSERT_TRUE(store().add_refresh_token(t));
    for (int i = 0; i < 2; ++i) {
        auto found = store().find_refresh_token(t.token_hash, at(0));
        ASSERT_TRUE(found) << found.error().message;
        ASSERT_TRUE(found->has_value());
        EXPECT_EQ((*found)->client_id, t.client_id);
        EXPECT_EQ((*found)->expires_at, t.expires_at);
    }
    auto expired = store().find_refresh_token(t.token_hash, at(600));
    ASSERT_TRUE(expired) << expired.error().message;
    EXPECT_FALSE(expired->has_value());
    auto unknown = store().find_refresh_token(std::string(64, 'e'), at(0));
    ASSERT_TRUE(unknown) << unknown.error().message;
    EXPECT_FALSE(unknown->has_value());

    auto spent = store().spend_refresh_token(t.token_hash, at(1));
    ASSERT_TRUE(spent && spent->has_value());
    auto after = store().find_refresh_token(t.token_hash, at(2));
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_FALSE(after->has_value());
}

TEST_P(MetadataStoreConformance, UnknownRefreshTokenIsEmpty) {
    ASSERT_TRUE(store().add_refresh_token({std::string(64, 'a'), "pc_alpha", at(600)}));
    auto spent = store().spend_refresh_token(std::string(64, 'b'), at(0));
    ASSERT_TRUE(spent) << spent.error().message;
    EXPECT_FALSE(spent->has_value());
}

TEST_P(MetadataStoreConformance, ExpiredRefreshTokenIsRefused) {
    const RefreshToken t{std::string(64, 'c'), "pc_alpha", at(600)};
    ASSERT_TRUE(store().add_refresh_token(t));

    // Expiry is exclusive: at expires_at the token is already dead.
    for (auto now : {at(600), at(601), at(100'000)}) {
        auto spent = store().spend_refresh_token(t.token_hash, now);
        ASSERT_TRUE(spent) << spent.error().message;
        EXPECT_FALSE(spent->has_value());
    }
    // Refusing it did not spend it: a clock one second earlier still could.
    auto spent = store().spend_refresh_token(t.token_hash, at(599));
    ASSERT_TRUE(spent) << spent.error().message;
    EXPECT_TRUE(spent->has_value());
}

TEST_P(MetadataStoreConformance, DuplicateRefreshTokenIsConflict) {
    const RefreshToken t{std::string(64, 'd'), "pc_alpha", at(600)};
    ASSERT_TRUE(store().add_refresh_token(t));
    auto again = store().add_refresh_token(t);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, core::ErrorKind::conflict);
}

TEST_P(MetadataStoreConformance, RefreshTokenRacedByEightThreadsIsWonOnce) {
    const RefreshToken t{std::string(64, 'e'), "pc_alpha", at(600)};
    ASSERT_TRUE(store().add_refresh_token(t));
    const int winners = count_winners([&](int) {
        auto spent = store().spend_refresh_token(t.token_hash, at(0));
        if (!spent) ADD_FAILURE() << spent.error().message;
        return spent && spent->has_value();
    });
    EXPECT_EQ(winners, 1);
}

TEST_P(MetadataStoreConformance, RefreshTokenRacedByEightConnectionsIsWonOnce) {
    const RefreshToken t{std::string(64, 'f'), "pc_alpha", at(600)};
    ASSERT_TRUE(store().add_refresh_token(t));
    auto racers = connect_racers(backend());
    ASSERT_EQ(racers.size(), static_cast<std::size_t>(kRacers));
    const int winners = count_winners([&](int i) {
        auto spent = racers[static_cast<std::size_t>(i)]->spend_refresh_token(t.token_hash, at(0));
        if (!spent) ADD_FAILURE() << spent.error().message;
        return spent && spent->has_value();
    });
    EXPECT_EQ(winners, 1);
}

// --- uploads: create and find ---

TEST_P(MetadataStoreConformance, CreatedUploadIsFoundWithEveryField) {
    UploadRecord u = make_upload("roundtrip");
    u.filesize = 5ULL * 1024 * 1024 * 1024 + 1;  // past 32 bits
    u.part_count = 10'000;
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));

    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_TRUE(found->has_value());
    expect_same_upload(u, **found);
    EXPECT_FALSE((*found)->completed_at.has_value());
}

TEST_P(MetadataStoreConformance, SizesRoundTripUpToUint64Max) {
    UploadRecord u = make_upload("huge");
    u.filesize = std::numeric_limits<std::uint64_t>::max();
    u.chunk_size = std::uint64_t{1} << 63;
    u.part_count = std::numeric_limits<std::uint32_t>::max();
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));

    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_TRUE(found->has_value());
    expect_same_upload(u, **found);
}

TEST_P(MetadataStoreConformance, UploadCreatedCompletedKeepsItsResultFields) {
    UploadRecord u = make_upload("done");
    u.state = UploadState::completed;
    u.completed_at = at(120);
    u.file_md5 = "9e107d9d372bb6826bd81d3542a419d6";
    u.part_list_digest = std::string(64, '7');
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));

    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found && found->has_value());
    expect_same_upload(u, **found);
}

TEST_P(MetadataStoreConformance, UnknownUploadIsEmptyNotAnError) {
    ASSERT_TRUE(store().create_upload(make_upload("one"), kNoUploadQuota));
    auto found = store().find_upload("file_other");
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_FALSE(found->has_value());
}

TEST_P(MetadataStoreConformance, UploadWithTakenFileIdIsConflict) {
    ASSERT_TRUE(store().create_upload(make_upload("one"), kNoUploadQuota));
    UploadRecord again = make_upload("one");
    again.upload_id = "upload_fresh";
    auto created = store().create_upload(again, kNoUploadQuota);
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().kind, core::ErrorKind::conflict);
    EXPECT_EQ(created.error().code, "upload_exists");
}

TEST_P(MetadataStoreConformance, UploadWithTakenUploadIdIsConflict) {
    ASSERT_TRUE(store().create_upload(make_upload("one"), kNoUploadQuota));
    UploadRecord again = make_upload("two");
    again.upload_id = make_upload("one").upload_id;
    auto created = store().create_upload(again, kNoUploadQuota);
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().kind, core::ErrorKind::conflict);
    EXPECT_EQ(created.error().code, "upload_exists");

    auto found = store().find_upload(again.file_id);
    ASSERT_TRUE(found);
    EXPECT_FALSE(found->has_value());
}

TEST_P(MetadataStoreConformance, CountOpenUploadsCountsOnlyThatUsersOpenOnes) {
    auto add = [&](const std::string& name, const std::string& client, const std::string& user,
                   UploadState state) {
        UploadRecord u = make_upload(name);
        u.client_id = client;
        u.user_id = user;
        u.state = state;
        ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    };
    add("a1", "pc_a", "user-1", UploadState::open);
    add("a2", "pc_a", "user-1", UploadState::open);
    add("a3", "pc_a", "user-1", UploadState::completed);
    add("a4", "pc_a", "user-1", UploadState::aborted);
    add("a5", "pc_a", "user-1", UploadState::expired);
    add("b1", "pc_a", "user-2", UploadState::open);
    add("c1", "pc_b", "user-1", UploadState::open);  // same user id, other partner

    auto count = [&](const std::string& client, const std::string& user) -> std::uint64_t {
        auto n = store().count_open_uploads(client, user);
        EXPECT_TRUE(n) << n.error().message;
        return n ? *n : 999;
    };
    EXPECT_EQ(count("pc_a", "user-1"), 2u);
    EXPECT_EQ(count("pc_a", "user-2"), 1u);
    EXPECT_EQ(count("pc_b", "user-1"), 1u);
    EXPECT_EQ(count("pc_c", "user-9"), 0u);

    ASSERT_TRUE(store().transition("file_a1", UploadState::open, UploadState::aborted, nullptr));
    EXPECT_EQ(count("pc_a", "user-1"), 1u);
}

// create_upload_async's answer, waited for (bounded).
core::Result<void> created_async(MetadataStore& store, const UploadRecord& u, std::uint64_t quota) {
    std::promise<core::Result<void>> answer;
    store.create_upload_async(u, quota,
                              [&answer](core::Result<void> r) { answer.set_value(std::move(r)); });
    auto future = answer.get_future();
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return core::make_error(core::ErrorKind::internal, "test", "no answer in 30 s");
    }
    return future.get();
}

TEST_P(MetadataStoreConformance, AnUploadCreatedAsynchronouslyIsThereOnceAnswered) {
    UploadRecord u = make_upload("async");
    auto created = created_async(store(), u, 10);
    ASSERT_TRUE(created) << created.error().message;
    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found && found->has_value());
    EXPECT_EQ((*found)->upload_id, u.upload_id);
}

TEST_P(MetadataStoreConformance, AsynchronousCreatesKeepTheQuota) {
    std::vector<std::thread> threads;
    std::atomic<int> stored{0}, refused{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, i] {
            auto r = created_async(store(), make_upload("aq" + std::to_string(i)), 3);
            if (r) {
                ++stored;
            } else if (r.error().reason == core::Reason::open_upload_quota) {
                ++refused;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(stored.load(), 3);
    EXPECT_EQ(refused.load(), 5);
}

TEST_P(MetadataStoreConformance, EveryWayOutOfOpenFreesAQuotaSlot) {
    auto add = [&](const std::string& name) {
        UploadRecord u = make_upload(name);
        auto created = store().create_upload(u, 3);
        EXPECT_TRUE(created) << created.error().message;
    };
    add("q1");
    add("q2");
    add("q3");
    UploadRecord extra = make_upload("q4");
    ASSERT_FALSE(store().create_upload(extra, 3));

    auto done = store().mark_completed("file_q1", {"md5", "digest", at(5), "", ""}, nullptr);
    ASSERT_TRUE(done && *done);
    add("q4");
    ASSERT_TRUE(store().transition("file_q2", UploadState::open, UploadState::expired, nullptr));
    add("q5");
    ASSERT_TRUE(store().remove_upload("file_q3", nullptr));
    add("q6");
    // Removing what was no longer open frees nothing.
    ASSERT_TRUE(store().remove_upload("file_q1", nullptr));
    UploadRecord over = make_upload("q7");
    auto refused = store().create_upload(over, 3);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().reason, core::Reason::open_upload_quota);
}

TEST_P(MetadataStoreConformance, APartnersUsersShareThePartnersQuota) {
    UploadQuota quota;  // no per-user limit
    quota.open_per_partner = 3;
    auto for_user = [](const std::string& name, const std::string& user) {
        UploadRecord u = make_upload(name);
        u.user_id = user;
        return u;
    };
    for (int i = 0; i < 3; ++i) {
        const auto n = std::to_string(i);
        ASSERT_TRUE(store().create_upload(for_user("p" + n, "user-00000" + n), quota));
    }
    auto refused = store().create_upload(for_user("p3", "user-000009"), quota);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, core::ErrorKind::rate_limited);
    EXPECT_EQ(refused.error().reason, core::Reason::partner_upload_quota);
    // Another partner is not affected, and an upload leaving open frees a slot.
    UploadRecord elsewhere = for_user("e1", "user-000009");
    elsewhere.client_id = "pc_other";
    ASSERT_TRUE(store().create_upload(elsewhere, quota));
    ASSERT_TRUE(store().transition("file_p1", UploadState::open, UploadState::aborted, nullptr));
    ASSERT_TRUE(store().create_upload(for_user("p3", "user-000009"), quota));
}

TEST_P(MetadataStoreConformance, APartnersOpenUploadsMayDeclareSoManyBytes) {
    UploadQuota quota;
    quota.bytes_per_partner = 100;
    auto sized = [](const std::string& name, std::uint64_t size) {
        UploadRecord u = make_upload(name);
        u.filesize = size;
        return u;
    };
    ASSERT_TRUE(store().create_upload(sized("b1", 60), quota));
    auto refused = store().create_upload(sized("b2", 41), quota);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().reason, core::Reason::partner_bytes_quota);
    // Up to the limit exactly, then nothing more.
    ASSERT_TRUE(store().create_upload(sized("b2", 40), quota));
    ASSERT_FALSE(store().create_upload(sized("b3", 1), quota));
    // A completed upload's bytes are no longer in flight.
    auto done = store().mark_completed("file_b1", {"md5", "digest", at(5), "", ""}, nullptr);
    ASSERT_TRUE(done && *done);
    ASSERT_TRUE(store().create_upload(sized("b3", 60), quota));
    ASSERT_TRUE(store().remove_upload("file_b3", nullptr));
    ASSERT_TRUE(store().create_upload(sized("b4", 60), quota));
    // A file bigger than the whole allowance never fits.
    UploadQuota tiny;
    tiny.bytes_per_partner = 10;
    UploadRecord big = sized("b5", 11);
    big.client_id = "pc_other";
    EXPECT_FALSE(store().create_upload(big, tiny));
}

// --- uploads: state changes ---

TEST_P(MetadataStoreConformance, UploadPastTheOwnersQuotaIsRefusedAndOthersStillFit) {
    ASSERT_TRUE(store().create_upload(make_upload("q1"), 2));
    ASSERT_TRUE(store().create_upload(make_upload("q2"), 2));
    auto refused = store().create_upload(make_upload("q3"), 2);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, core::ErrorKind::rate_limited);
    EXPECT_EQ(refused.error().code, "open_upload_quota");
    auto missing = store().find_upload("file_q3");
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->has_value());
    // Another user of the partner has a quota of their own; a finished upload frees a slot.
    UploadRecord other = make_upload("other");
    other.user_id = "user-000002";
    EXPECT_TRUE(store().create_upload(other, 2));
    ASSERT_TRUE(store().transition("file_q1", UploadState::open, UploadState::aborted, nullptr));
    EXPECT_TRUE(store().create_upload(make_upload("q3"), 2));
}

TEST_P(MetadataStoreConformance, UploadsRacingForAQuotaOfThreeGetThreeSlots) {
    auto racers = connect_racers(backend());
    ASSERT_EQ(racers.size(), static_cast<std::size_t>(kRacers));
    const int created = count_winners([&](int i) {
        auto done = racers[static_cast<std::size_t>(i)]->create_upload(
            make_upload("racer" + std::to_string(i)), 3);
        if (!done && done.error().code != "open_upload_quota") {
            ADD_FAILURE() << done.error().message;
        }
        return static_cast<bool>(done);
    });
    EXPECT_EQ(created, 3);
    auto open = store().count_open_uploads("pc_partner", "user-000001");
    ASSERT_TRUE(open);
    EXPECT_EQ(*open, 3u);
}

TEST_P(MetadataStoreConformance, MarkCompletedSetsResultFieldsAndSucceedsOnce) {
    const UploadRecord u = make_upload("one");
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));

    auto first = store().mark_completed(
        u.file_id, {"9e107d9d372bb6826bd81d3542a419d6", "digest-1", at(60), "", ""}, nullptr);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_TRUE(*first);

    auto second = store().mark_completed(
        u.file_id, {"00000000000000000000000000000000", "digest-2", at(90), "", ""}, nullptr);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_FALSE(*second);

    UploadRecord want = u;
    want.state = UploadState::completed;
    want.file_md5 = "9e107d9d372bb6826bd81d3542a419d6";
    want.part_list_digest = "digest-1";
    want.completed_at = at(60);
    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found && found->has_value());
    expect_same_upload(want, **found);
}

TEST_P(MetadataStoreConformance, MarkCompletedOfUnknownUploadIsFalse) {
    auto done = store().mark_completed("file_missing", {"md5", "digest", at(60), "", ""}, nullptr);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_FALSE(*done);
}

TEST_P(MetadataStoreConformance, MarkCompletedOfAbortedOrExpiredUploadIsFalse) {
    for (auto state : {UploadState::aborted, UploadState::expired}) {
        UploadRecord u = make_upload(std::string(to_string(state)));
        u.state = state;
        ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
        auto done = store().mark_completed(u.file_id, {"md5", "digest", at(60), "", ""}, nullptr);
        ASSERT_TRUE(done) << done.error().message;
        EXPECT_FALSE(*done);
        auto found = store().find_upload(u.file_id);
        ASSERT_TRUE(found && found->has_value());
        expect_same_upload(u, **found);
    }
}

TEST_P(MetadataStoreConformance, MarkCompletedRacedByEightThreadsIsWonOnce) {
    const UploadRecord u = make_upload("race");
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    std::vector<int> won;
    std::mutex won_mutex;
    const int winners = count_winners([&](int i) {
        auto done = store().mark_completed(
            u.file_id, {"md5-" + std::to_string(i), "digest", at(60 + i), "", ""}, nullptr);
        if (!done) ADD_FAILURE() << done.error().message;
        if (done && *done) {
            std::lock_guard lock(won_mutex);
            won.push_back(i);
        }
        return done && *done;
    });
    ASSERT_EQ(winners, 1);
    // The stored result is the winner's, untouched by the losers.
    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found && found->has_value());
    EXPECT_EQ((*found)->file_md5, "md5-" + std::to_string(won.at(0)));
    EXPECT_EQ((*found)->completed_at, at(60 + won.at(0)));
}

TEST_P(MetadataStoreConformance, MarkCompletedRacedByEightConnectionsIsWonOnce) {
    const UploadRecord u = make_upload("race");
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    auto racers = connect_racers(backend());
    ASSERT_EQ(racers.size(), static_cast<std::size_t>(kRacers));
    const int winners = count_winners([&](int i) {
        auto done = racers[static_cast<std::size_t>(i)]->mark_completed(
            u.file_id, {"md5-" + std::to_string(i), "digest", at(60), "", ""}, nullptr);
        if (!done) ADD_FAILURE() << done.error().message;
        return done && *done;
    });
    EXPECT_EQ(winners, 1);
}

TEST_P(MetadataStoreConformance, TransitionIsCompareAndSet) {
    const UploadRecord u = make_upload("one");
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));

    auto wrong_from =
        store().transition(u.file_id, UploadState::aborted, UploadState::expired, nullptr);
    ASSERT_TRUE(wrong_from) << wrong_from.error().message;
    EXPECT_FALSE(*wrong_from);

    auto aborted = store().transition(u.file_id, UploadState::open, UploadState::aborted, nullptr);
    ASSERT_TRUE(aborted) << aborted.error().message;
    EXPECT_TRUE(*aborted);

    auto again = store().transition(u.file_id, UploadState::open, UploadState::expired, nullptr);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_FALSE(*again);

    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found && found->has_value());
    UploadRecord want = u;
    want.state = UploadState::aborted;
    expect_same_upload(want, **found);
}

TEST_P(MetadataStoreConformance, TransitionOfUnknownUploadIsFalse) {
    auto moved =
        store().transition("file_missing", UploadState::open, UploadState::aborted, nullptr);
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_FALSE(*moved);
}

TEST_P(MetadataStoreConformance, CompletingAndExpiringAtOnceHaveOneWinner) {
    const UploadRecord u = make_upload("contest");
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    const int winners = count_winners([&](int i) {
        core::Result<bool> r =
            (i % 2 == 0)
                ? store().mark_completed(u.file_id, {"md5", "digest", at(60), "", ""}, nullptr)
                : store().transition(u.file_id, UploadState::open, UploadState::expired, nullptr);
        if (!r) ADD_FAILURE() << r.error().message;
        return r && *r;
    });
    EXPECT_EQ(winners, 1);
    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found && found->has_value());
    EXPECT_NE((*found)->state, UploadState::open);
}

// --- uploads: removal and sweeping ---

TEST_P(MetadataStoreConformance, RemovedUploadIsGoneAndItsIdsFree) {
    const UploadRecord u = make_upload("one");
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    ASSERT_TRUE(store().create_upload(make_upload("two"), kNoUploadQuota));
    ASSERT_TRUE(store().remove_upload(u.file_id, nullptr));

    auto found = store().find_upload(u.file_id);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_FALSE(found->has_value());
    auto other = store().find_upload("file_two");
    ASSERT_TRUE(other && other->has_value());
    auto open = store().count_open_uploads(u.client_id, u.user_id);
    ASSERT_TRUE(open);
    EXPECT_EQ(*open, 1u);

    EXPECT_TRUE(store().create_upload(u, kNoUploadQuota));
}

TEST_P(MetadataStoreConformance, RemovingUnknownUploadSucceeds) {
    auto removed = store().remove_upload("file_missing", nullptr);
    EXPECT_TRUE(removed) << removed.error().message;
    const UploadRecord u = make_upload("one");
    ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    ASSERT_TRUE(store().remove_upload(u.file_id, nullptr));
    EXPECT_TRUE(store().remove_upload(u.file_id, nullptr));
}

TEST_P(MetadataStoreConformance, FindExpiredOpenReturnsOldestFirstUpToLimit) {
    // expires_at relative to the base time; "now" below is at(350).
    ASSERT_TRUE(store().create_upload(make_upload("e300", 300), kNoUploadQuota));
    ASSERT_TRUE(store().create_upload(make_upload("e100", 100), kNoUploadQuota));
    ASSERT_TRUE(store().create_upload(make_upload("e200", 200), kNoUploadQuota));
    ASSERT_TRUE(
        store().create_upload(make_upload("e350", 350), kNoUploadQuota));  // expires exactly now
    ASSERT_TRUE(store().create_upload(make_upload("e400", 400), kNoUploadQuota));  // still live
    for (auto state : {UploadState::completed, UploadState::aborted, UploadState::expired}) {
        UploadRecord u = make_upload("e050-" + std::string(to_string(state)), 50);
        u.state = state;
        ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    }

    auto all = store().find_expired_open(at(350), 100);
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(file_ids(*all), (std::vector<std::string>{"file_e100", "file_e200", "file_e300"}));

    auto two = store().find_expired_open(at(350), 2);
    ASSERT_TRUE(two) << two.error().message;
    EXPECT_EQ(file_ids(*two), (std::vector<std::string>{"file_e100", "file_e200"}));

    auto none = store().find_expired_open(at(350), 0);
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_TRUE(none->empty());

    auto early = store().find_expired_open(at(0), 100);
    ASSERT_TRUE(early) << early.error().message;
    EXPECT_TRUE(early->empty());

    ASSERT_FALSE(all->empty());
    expect_same_upload(make_upload("e100", 100), all->front());
}

TEST_P(MetadataStoreConformance, FindAbandonedReturnsAbortedAndExpiredUpToLimit) {
    auto add = [&](const std::string& name, UploadState state) {
        UploadRecord u = make_upload(name);
        u.state = state;
        ASSERT_TRUE(store().create_upload(u, kNoUploadQuota));
    };
    add("open", UploadState::open);
    add("completed", UploadState::completed);
    add("aborted", UploadState::aborted);
    add("expired", UploadState::expired);
    ASSERT_TRUE(store().create_upload(make_upload("later"), kNoUploadQuota));
    ASSERT_TRUE(store().transition("file_later", UploadState::open, UploadState::aborted, nullptr));

    auto all = store().find_abandoned(100);
    ASSERT_TRUE(all) << all.error().message;
    auto ids = file_ids(*all);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
              (std::set<std::string>{"file_aborted", "file_expired", "file_later"}));
    EXPECT_EQ(ids.size(), 3u);

    auto two = store().find_abandoned(2);
    ASSERT_TRUE(two) << two.error().message;
    EXPECT_EQ(two->size(), 2u);

    // What the sweep does with them: forget them, after which they are not found again.
    for (const auto& u : *all) ASSERT_TRUE(store().remove_upload(u.file_id, nullptr));
    auto after = store().find_abandoned(100);
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_TRUE(after->empty());
}

// --- token revocation ---

TEST_P(MetadataStoreConformance, RevokingRaisesTheGenerationAndForgetsRefreshTokens) {
    ASSERT_TRUE(store().create_partner(sample_partner("pc_rev")));
    ASSERT_TRUE(store().create_partner(sample_partner("pc_kept")));
    ASSERT_TRUE(store().add_refresh_token({"h_rev", "pc_rev", at(3600), 0}));
    ASSERT_TRUE(store().add_refresh_token({"h_kept", "pc_kept", at(3600), 0}));
    auto none = store().revoked_token_generations();
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_TRUE(none->empty());

    auto first = store().revoke_partner_tokens("pc_rev");
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(*first, 1);
    EXPECT_EQ(store().revoke_partner_tokens("pc_rev").value(), 2);
    EXPECT_EQ(store().find_partner("pc_rev").value()->token_generation, 2);
    EXPECT_EQ(store().find_partner("pc_kept").value()->token_generation, 0);
    EXPECT_FALSE(store().find_refresh_token("h_rev", at(0)).value());
    EXPECT_TRUE(store().find_refresh_token("h_kept", at(0)).value());
    auto revoked = store().revoked_token_generations();
    ASSERT_TRUE(revoked) << revoked.error().message;
    ASSERT_EQ(revoked->size(), 1u);
    EXPECT_EQ((*revoked)[0].first, "pc_rev");
    EXPECT_EQ((*revoked)[0].second, 2);
}

TEST_P(MetadataStoreConformance, RefreshTokensKeepTheirGeneration) {
    ASSERT_TRUE(store().create_partner(sample_partner("pc_gen")));
    ASSERT_TRUE(store().add_refresh_token({"h_gen", "pc_gen", at(3600), 3}));
    EXPECT_EQ(store().find_refresh_token("h_gen", at(0)).value()->token_generation, 3);
    EXPECT_EQ(store().spend_refresh_token("h_gen", at(0)).value()->token_generation, 3);
}

TEST_P(MetadataStoreConformance, RevokingAnUnknownPartnerIsNotFound) {
    auto refused = store().revoke_partner_tokens("pc_nobody");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, core::ErrorKind::not_found);
    EXPECT_EQ(refused.error().code, "partner_not_found");
}

// --- request counts ---

TEST_P(MetadataStoreConformance, RequestsAreCountedPerKeyAndWindow) {
    for (std::uint64_t n = 1; n <= 3; ++n) {
        auto count = store().count_requests("token:pc_a", at(0), 1);
        ASSERT_TRUE(count) << count.error().message;
        EXPECT_EQ(*count, n);
    }
    EXPECT_EQ(store().count_requests("token:pc_b", at(0), 1).value(), 1u);
    // A new window starts over.
    EXPECT_EQ(store().count_requests("token:pc_a", at(60), 1).value(), 1u);
    EXPECT_EQ(store().count_requests("token:pc_a", at(60), 1).value(), 2u);
}

TEST_P(MetadataStoreConformance, RequestsAreCountedInBatches) {
    EXPECT_EQ(store().count_requests("batch", at(0), 0).value(), 0u);  // a read
    EXPECT_EQ(store().count_requests("batch", at(0), 7).value(), 7u);
    EXPECT_EQ(store().count_requests("batch", at(0), 5).value(), 12u);
    EXPECT_EQ(store().count_requests("batch", at(0), 0).value(), 12u);
    EXPECT_EQ(store().count_requests("batch", at(60), 3).value(), 3u);
}

TEST_P(MetadataStoreConformance, ARequestForAnOlderWindowCountsInTheLatest) {
    EXPECT_EQ(store().count_requests("k", at(60), 1).value(), 1u);
    // A replica whose clock lags does not reset the window nor escape the count.
    EXPECT_EQ(store().count_requests("k", at(0), 1).value(), 2u);
    EXPECT_EQ(store().count_requests("k", at(60), 1).value(), 3u);
}

TEST_P(MetadataStoreConformance, ForgottenRequestCountsStartOver) {
    ASSERT_TRUE(store().count_requests("old", at(0), 1));
    ASSERT_TRUE(store().count_requests("old", at(0), 1));
    ASSERT_TRUE(store().count_requests("new", at(60), 1));
    ASSERT_TRUE(store().forget_request_counts(at(60)));
    EXPECT_EQ(store().count_requests("new", at(60), 1).value(), 2u);  // kept
    EXPECT_EQ(store().count_requests("old", at(0), 1).value(), 1u);   // forgotten
}

TEST_P(MetadataStoreConformance, RequestsCountedByEightConnectionsGetDistinctCounts) {
    auto racers = connect_racers(backend());
    ASSERT_EQ(racers.size(), static_cast<std::size_t>(kRacers));
    std::mutex mutex;
    std::set<std::uint64_t> seen;
    count_winners([&](int i) {
        auto count = racers[static_cast<std::size_t>(i)]->count_requests("hot", at(0), 1);
        if (!count) ADD_FAILURE() << count.error().message;
        std::lock_guard lock(mutex);
        return count && seen.insert(*count).second;
    });
    std::set<std::uint64_t> want;
    for (std::uint64_t n = 1; n <= kRacers; ++n) want.insert(n);
    EXPECT_EQ(seen, want);
}

// --- backends ---

class SqliteBackend final : public Backend {
  public:
    core::Result<std::unique_ptr<MetadataStore>> connect() override {
        auto store = SqliteMetadataStore::open(dir_.file("metadata.db"));
        if (!store) return store.error();
        return std::unique_ptr<MetadataStore>(std::move(*store));
    }

  private:
    test_support::TempDir dir_;
};

// A schema of its own in the database AUDIODROP_TEST_DATABASE_URL names.
class PostgresBackend final : public Backend {
  public:
    PostgresBackend() : schema_(test_support::PostgresTestSchema::create()) {}

    core::Result<std::unique_ptr<MetadataStore>> connect() override {
        if (!schema_) return schema_.error();
        auto store = PostgresMetadataStore::open((*schema_)->url());
        if (!store) return store.error();
        return std::unique_ptr<MetadataStore>(std::move(*store));
    }

  private:
    core::Result<std::unique_ptr<test_support::PostgresTestSchema>> schema_;
};

}  // namespace

Partner sample_partner(const std::string& client_id) {
    return Partner{client_id, "Acme Recorders " + client_id, "us",
                   "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", at(-3600)};
}

UploadRecord sample_upload(const std::string& name, const std::string& client_id) {
    UploadRecord u;
    u.file_id = "file_" + name;
    u.upload_id = "upload_" + name;
    u.client_id = client_id;
    u.user_id = "user-000001";
    u.filesize = 1000;
    u.filetype = "mp3";
    u.chunk_size = 5 * 1024 * 1024;
    u.part_count = 1;
    u.object_key = "uploads/" + name;
    u.storage_upload_id = "mpu-" + name;
    u.created_at = at(0);
    u.expires_at = at(3600);
    return u;
}

void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

std::vector<BackendFactory> backends() {
    std::vector<BackendFactory> out;
    out.push_back({"sqlite", [] { return std::make_unique<SqliteBackend>(); }, ""});
    out.push_back({"postgres", [] { return std::make_unique<PostgresBackend>(); },
                   test_support::PostgresTestSchema::skip_reason()});
    return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, MetadataStoreConformance, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<BackendFactory>& info) {
                             return info.param.name;
                         });

}  // namespace audiodrop::metadata::conformance
