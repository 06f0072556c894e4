#include "metadata/sqlite_metadata_store.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <latch>
#include <thread>

#include "conformance/temp_dir.hpp"

namespace audiodrop::metadata {
namespace {

using test_support::TempDir;

core::TimePoint at(std::int64_t s) { return core::from_unix(1'700'000'000 + s); }

std::unique_ptr<SqliteMetadataStore> open_or_fail(const std::string& path) {
    auto store = SqliteMetadataStore::open(path);
    if (!store) {
        ADD_FAILURE() << store.error().message;
        return nullptr;
    }
    return std::move(*store);
}

// A second, independent connection for looking under the store.
sqlite::Connection raw_connection(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    return sqlite::Connection(db);
}

std::string query_text(sqlite3* db, const std::string& sql) {
    auto stmt = sqlite::Statement::prepare(db, sql);
    EXPECT_TRUE(stmt) << stmt.error().message;
    if (!stmt) return {};
    auto row = stmt->step("query");
    EXPECT_TRUE(row && *row) << sql;
    return row && *row ? stmt->text(0) : std::string();
}

// Takes a database back to an older schema, undoing the migrations since.
const std::string kBackToSchema8 = "ALTER TABLE webhook_events DROP COLUMN request_id; ";
const std::string kBackToSchema7 =
    kBackToSchema8 + "ALTER TABLE partners DROP COLUMN disabled_at; DROP TABLE deleted_partners; ";
const std::string kBackToSchema6 =
    kBackToSchema7 +
    "DROP TABLE webhook_subscriptions; DROP TABLE webhook_events; "
    "DROP TABLE webhook_deliveries; DROP TABLE webhook_attempts; "
    "ALTER TABLE uploads DROP COLUMN audio; ALTER TABLE uploads DROP COLUMN audio_problem; ";
const std::string kBackToSchema5 = kBackToSchema6 +
                                   "ALTER TABLE partners DROP COLUMN token_generation; "
                                   "ALTER TABLE refresh_tokens DROP COLUMN token_generation; ";
const std::string kBackToSchema4 =
    kBackToSchema5 +
    "DROP TRIGGER partner_upload_counted; DROP TRIGGER partner_upload_closed; "
    "DROP TRIGGER partner_upload_removed; DROP TABLE partner_open_uploads; ";
const std::string kBackToSchema2 =
    kBackToSchema4 +
    "CREATE INDEX uploads_by_owner ON uploads (client_id, user_id, state); "
    "DROP TRIGGER open_upload_counted; DROP TRIGGER open_upload_closed; "
    "DROP TRIGGER open_upload_removed; DROP TABLE open_upload_counts;";

UploadRecord sample_upload() {
    UploadRecord u;
    u.file_id = "file_keep";
    u.upload_id = "upload_keep";
    u.client_id = "pc_keep";
    u.user_id = "user-keep";
    u.filesize = 123;
    u.filetype = "wav";
    u.chunk_size = 5 * 1024 * 1024;
    u.part_count = 1;
    u.object_key = "uploads/keep";
    u.storage_upload_id = "mpu-keep";
    u.created_at = at(0);
    u.expires_at = at(3600);
    return u;
}

// Stores uploads a, b and c of sample_upload (users a0000.. when distinct_users) and
// completes c, then takes the database back to `version` with `downgrade`.
void store_three_uploads_then_downgrade(const std::string& path, bool distinct_users,
                                        const std::string& downgrade, int version) {
    {
        auto store = open_or_fail(path);
        ASSERT_TRUE(store);
        for (const char* id : {"a", "b", "c"}) {
            UploadRecord u = sample_upload();
            u.file_id = std::string("file_") + id;
            u.upload_id = std::string("upload_") + id;
            if (distinct_users) u.user_id = std::string("user-") + id + "0000";
            ASSERT_TRUE(store->create_upload(u, kNoUploadQuota));
        }
        auto done = store->mark_completed("file_c", {"md5", "digest", at(10), "", ""}, nullptr);
        ASSERT_TRUE(done && *done);
    }
    auto raw = raw_connection(path);
    ASSERT_TRUE(sqlite::exec(raw.get(), downgrade, "drop"));
    ASSERT_TRUE(
        sqlite::exec(raw.get(), "PRAGMA user_version = " + std::to_string(version), "downgrade"));
}

TEST(SqliteMetadataStore, DataSurvivesCloseAndReopen) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    {
        auto store = open_or_fail(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->create_partner({"pc_keep", "Keep", "eu", "$argon2id$x", at(0)}));
        ASSERT_TRUE(store->add_refresh_token({"spent", "pc_keep", at(600)}));
        ASSERT_TRUE(store->add_refresh_token({"fresh", "pc_keep", at(600)}));
        auto spent = store->spend_refresh_token("spent", at(1));
        ASSERT_TRUE(spent && spent->has_value());
        ASSERT_TRUE(store->create_upload(sample_upload(), kNoUploadQuota));
        ASSERT_TRUE(
            store->mark_completed("file_keep", {"md5", "digest", at(5), "", ""}, nullptr).value());
    }
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);

    auto partner = store->find_partner("pc_keep");
    ASSERT_TRUE(partner && partner->has_value());
    EXPECT_EQ((*partner)->region, "eu");

    auto upload = store->find_upload("file_keep");
    ASSERT_TRUE(upload && upload->has_value());
    EXPECT_EQ((*upload)->state, UploadState::completed);
    EXPECT_EQ((*upload)->file_md5, "md5");
    EXPECT_EQ((*upload)->completed_at, at(5));

    auto spent_again = store->spend_refresh_token("spent", at(2));
    ASSERT_TRUE(spent_again);
    EXPECT_FALSE(spent_again->has_value());
    auto fresh = store->spend_refresh_token("fresh", at(2));
    ASSERT_TRUE(fresh);
    EXPECT_TRUE(fresh->has_value());
}

TEST(SqliteMetadataStore, NewDatabaseIsAtLatestSchemaInWalMode) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    ASSERT_TRUE(open_or_fail(path));
    auto raw = raw_connection(path);
    EXPECT_EQ(query_text(raw.get(), "PRAGMA user_version"),
              std::to_string(SqliteMetadataStore::schema_version()));
    EXPECT_EQ(query_text(raw.get(), "PRAGMA journal_mode"), "wal");
}

TEST(SqliteMetadataStore, ReopeningDoesNotRerunMigrations) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    ASSERT_TRUE(open_or_fail(path));
    {
        // Remove something the first migration creates; a rerun would bring it back
        // (or fail on the tables that still exist).
        auto raw = raw_connection(path);
        ASSERT_TRUE(sqlite::exec(raw.get(), "DROP INDEX uploads_by_state_expiry", "drop"));
    }
    ASSERT_TRUE(open_or_fail(path));
    ASSERT_TRUE(open_or_fail(path));
    auto raw = raw_connection(path);
    EXPECT_EQ(
        query_text(raw.get(),
                   "SELECT COUNT(*) FROM sqlite_master WHERE name = 'uploads_by_state_expiry'"),
        "0");
    EXPECT_EQ(query_text(raw.get(), "PRAGMA user_version"),
              std::to_string(SqliteMetadataStore::schema_version()));
}

TEST(SqliteMetadataStore, ADatabaseOfSchema1IsUpgradedKeepingItsRows) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    {
        auto store = open_or_fail(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->create_partner(Partner{"pc_kept", "Kept", "us",
                                                  "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
                                                  core::from_unix(1'700'000'000)}));
    }
    {
        // What a build of schema 1 left: no request_counts (migration 2), no
        // open_upload_counts (migration 3).
        auto raw = raw_connection(path);
        ASSERT_TRUE(sqlite::exec(raw.get(), kBackToSchema2, "drop"));
        ASSERT_TRUE(sqlite::exec(raw.get(), "DROP TABLE request_counts", "drop"));
        ASSERT_TRUE(sqlite::exec(raw.get(), "PRAGMA user_version = 1", "downgrade"));
    }
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    auto kept = store->find_partner("pc_kept");
    ASSERT_TRUE(kept && kept->has_value());
    auto counted = store->count_requests("k", core::from_unix(1'700'000'000), 1);
    ASSERT_TRUE(counted) << counted.error().message;
    EXPECT_EQ(*counted, 1u);
}

TEST(SqliteMetadataStore, ADatabaseOfSchema2CountsTheOpenUploadsItHolds) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    ASSERT_NO_FATAL_FAILURE(
        store_three_uploads_then_downgrade(path, /*distinct_users=*/false, kBackToSchema2, 2));
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    auto open = store->count_open_uploads("pc_keep", "user-keep");
    ASSERT_TRUE(open) << open.error().message;
    EXPECT_EQ(*open, 2u);
    // The quota holds against what the database held before the upgrade.
    UploadRecord d = sample_upload();
    d.file_id = "file_d";
    d.upload_id = "upload_d";
    auto refused = store->create_upload(d, 2);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().reason, core::Reason::open_upload_quota);
    ASSERT_TRUE(store->create_upload(d, 3));
}

TEST(SqliteMetadataStore, ADatabaseOfSchema4CountsThePartnersOpenUploadsAndBytes) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    ASSERT_NO_FATAL_FAILURE(
        store_three_uploads_then_downgrade(path, /*distinct_users=*/true, kBackToSchema4, 4));
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    // Two uploads of 123 bytes were open before the upgrade.
    UploadRecord d = sample_upload();
    d.file_id = "file_d";
    d.upload_id = "upload_d";
    UploadQuota by_count;
    by_count.open_per_partner = 2;
    auto refused = store->create_upload(d, by_count);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().reason, core::Reason::partner_upload_quota);
    UploadQuota by_bytes;
    by_bytes.bytes_per_partner = 3 * 123 - 1;
    refused = store->create_upload(d, by_bytes);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().reason, core::Reason::partner_bytes_quota);
    by_bytes.bytes_per_partner = 3 * 123;
    ASSERT_TRUE(store->create_upload(d, by_bytes));
}

TEST(SqliteMetadataStore, ADatabaseOfSchema5KeepsItsTokensAtTheFirstGeneration) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    {
        auto store = open_or_fail(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->create_partner(Partner{
            "pc_kept", "Kept", "us", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", at(0)}));
        ASSERT_TRUE(store->add_refresh_token({"h_kept", "pc_kept", at(3600), 0}));
        auto raw = raw_connection(path);
        ASSERT_TRUE(sqlite::exec(raw.get(), kBackToSchema5, "drop"));
        ASSERT_TRUE(sqlite::exec(raw.get(), "PRAGMA user_version = 5", "downgrade"));
    }
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->find_partner("pc_kept").value()->token_generation, 0);
    EXPECT_EQ(store->find_refresh_token("h_kept", at(0)).value()->token_generation, 0);
    EXPECT_EQ(store->revoke_partner_tokens("pc_kept").value(), 1);
    EXPECT_FALSE(store->find_refresh_token("h_kept", at(0)).value());
}

TEST(SqliteMetadataStore, ADatabaseOfSchema6KeepsItsFilesWithoutAudioFacts) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    {
        auto store = open_or_fail(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->create_upload(sample_upload(), UploadQuota(10)));
        auto raw = raw_connection(path);
        ASSERT_TRUE(sqlite::exec(raw.get(), kBackToSchema6, "drop"));
        ASSERT_TRUE(sqlite::exec(raw.get(), "PRAGMA user_version = 6", "downgrade"));
    }
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    auto kept = store->find_upload(sample_upload().file_id);
    ASSERT_TRUE(kept && *kept);
    EXPECT_EQ((*kept)->audio, "");
    EXPECT_EQ((*kept)->audio_problem, "");
    EXPECT_TRUE(store->list_webhooks("pc_any").value().empty());
}

TEST(SqliteMetadataStore, ADatabaseOfSchema7KeepsItsPartnersEnabled) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    {
        auto store = open_or_fail(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->create_partner(Partner{
            "pc_kept", "Kept", "us", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", at(0)}));
        ASSERT_TRUE(store->revoke_partner_tokens("pc_kept"));
        auto raw = raw_connection(path);
        ASSERT_TRUE(sqlite::exec(raw.get(), kBackToSchema7, "drop"));
        ASSERT_TRUE(sqlite::exec(raw.get(), "PRAGMA user_version = 7", "downgrade"));
    }
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    auto kept = store->find_partner("pc_kept");
    ASSERT_TRUE(kept && *kept);
    EXPECT_FALSE((*kept)->disabled_at);
    EXPECT_EQ((*kept)->token_generation, 1);
    EXPECT_EQ(store->revoked_token_generations().value().size(), 1u);
    auto deleted = store->delete_partner("pc_kept", at(10), false);
    ASSERT_TRUE(deleted) << deleted.error().message;
    EXPECT_EQ(store->revoked_token_generations().value().front().second, kDeletedPartnerGeneration);
}

TEST(SqliteMetadataStore, ADatabaseOfSchema8DeliversItsQueuedEventsWithoutARequestId) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    {
        auto store = open_or_fail(path);
        ASSERT_TRUE(store);
        WebhookSubscription w;
        w.id = "whk_kept";
        w.client_id = "pc_kept";
        w.url = "https://hooks.example.com/kept";
        w.events = {"file.deleted"};
        w.secret = "whsec_kept";
        ASSERT_TRUE(store->create_webhook(w, 10));
        OutboxEvent e;
        e.id = "evt_kept";
        e.client_id = "pc_kept";
        e.type = "file.deleted";
        e.data = "{}";
        e.created_at = at(0);
        e.request_id = "req_lost_in_the_downgrade";
        ASSERT_TRUE(store->add_event(e).value());
        auto raw = raw_connection(path);
        ASSERT_TRUE(sqlite::exec(raw.get(), kBackToSchema8, "drop"));
        ASSERT_TRUE(sqlite::exec(raw.get(), "PRAGMA user_version = 8", "downgrade"));
    }
    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    auto claimed = store->claim_deliveries(at(1), std::chrono::seconds(30), 10, "claim");
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().event.id, "evt_kept");
    EXPECT_EQ(claimed->front().event.request_id, "");
}

TEST(SqliteMetadataStore, DatabaseFromNewerBuildIsRefused) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    ASSERT_TRUE(open_or_fail(path));
    {
        auto raw = raw_connection(path);
        ASSERT_TRUE(sqlite::exec(
            raw.get(),
            "PRAGMA user_version = " + std::to_string(SqliteMetadataStore::schema_version() + 1),
            "bump"));
    }
    auto store = SqliteMetadataStore::open(path);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(store.error().code, "metadata_schema_too_new");
}

TEST(SqliteMetadataStore, PathInMissingDirectoryIsAnError) {
    TempDir dir;
    auto store = SqliteMetadataStore::open(dir.file("no/such/dir/metadata.db"));
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(store.error().code, "metadata_unavailable");
    EXPECT_NE(store.error().message.find("no/such/dir/metadata.db"), std::string::npos)
        << store.error().message;
}

TEST(SqliteMetadataStore, FileThatIsNotADatabaseIsAnError) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    std::ofstream(path) << std::string(4096, 'x');
    auto store = SqliteMetadataStore::open(path);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(store.error().code, "metadata_unavailable");
}

TEST(SqliteMetadataStore, EightThreadsOpeningANewFileAtOnceAllSucceed) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    constexpr int kOpeners = 8;
    std::latch start(kOpeners);
    std::vector<std::unique_ptr<SqliteMetadataStore>> stores(kOpeners);
    std::vector<std::thread> threads;
    for (int i = 0; i < kOpeners; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            stores[static_cast<std::size_t>(i)] = open_or_fail(path);
        });
    }
    for (auto& t : threads) t.join();
    for (auto& s : stores) ASSERT_TRUE(s);

    // They share one database.
    ASSERT_TRUE(stores[0]->create_partner({"pc_shared", "Shared", "us", "$h", at(0)}));
    for (auto& s : stores) {
        auto found = s->find_partner("pc_shared");
        ASSERT_TRUE(found) << found.error().message;
        EXPECT_TRUE(found->has_value());
    }
}

TEST(SqliteMetadataStore, ProcessesOpeningANewFileAtOnceAllSucceed) {
    TempDir dir;
    const std::string path = dir.file("metadata.db");
    constexpr int kProcesses = 4;
    int gate[2];
    ASSERT_EQ(pipe(gate), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kProcesses; ++i) {
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            // Child: wait at the gate, then open and use the store. Exit status is
            // the verdict; no GoogleTest calls here.
            close(gate[1]);
            char c;
            if (read(gate[0], &c, 1) != 0) _exit(3);
            auto store = SqliteMetadataStore::open(path);
            if (!store) {
                std::fprintf(stderr, "child %d: %s\n", i, store.error().message.c_str());
                _exit(1);
            }
            const std::string id = "pc_child" + std::to_string(i);
            if (!(*store)->create_partner({id, "Child", "us", "$h", at(0)})) _exit(2);
            _exit(0);
        }
        children.push_back(pid);
    }
    close(gate[0]);
    close(gate[1]);  // releases every child at once (read sees end of file)
    for (pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0);
    }

    auto store = open_or_fail(path);
    ASSERT_TRUE(store);
    for (int i = 0; i < kProcesses; ++i) {
        auto found = store->find_partner("pc_child" + std::to_string(i));
        ASSERT_TRUE(found) << found.error().message;
        EXPECT_TRUE(found->has_value()) << i;
    }
}

}  // namespace
}  // namespace audiodrop::metadata
