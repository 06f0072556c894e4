// What the PostgreSQL store promises beyond the conformance suite: replicas starting
// at once, a quota shared by separate pools, bounded waits, healing after the server
// ends its sessions or restarts, and passwords kept out of messages.
//
// PostgresStoreWithoutServer runs everywhere (it needs only loopback sockets);
// PostgresStore needs AUDIODROP_TEST_DATABASE_URL and skips without it.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <latch>
#include <thread>

#include "conformance/metadata_store_conformance.hpp"
#include "conformance/postgres_test_schema.hpp"
#include "core/ids.hpp"
#include "metadata/postgres_metadata_store.hpp"

namespace audiodrop::metadata {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using conformance::sample_partner;
using test_support::PostgresTestSchema;

constexpr int kRacers = 8;

// A loopback TCP socket bound to a free port: listening, it is a server that accepts
// connections (the kernel completes the handshake) but never answers; not listening,
// it is a closed port that refuses them.
class LoopbackSocket {
  public:
    explicit LoopbackSocket(bool listening) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
        if (listening) {
            EXPECT_EQ(::listen(fd_, 8), 0);
        }
        EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
        port_ = ntohs(addr.sin_port);
    }
    ~LoopbackSocket() { ::close(fd_); }
    LoopbackSocket(const LoopbackSocket&) = delete;
    LoopbackSocket& operator=(const LoopbackSocket&) = delete;

    int port() const { return port_; }

  private:
    int fd_;
    int port_ = 0;
};

constexpr const char* kSecret = "hunter2-do-not-print";

std::string url_with_secret(int port) {
    return "postgresql://audiodrop:" + std::string(kSecret) + "@127.0.0.1:" + std::to_string(port) +
           "/audiodrop";
}

// The conformance suite's sample upload, of partner "pc_partner"'s user `user_id`.
UploadRecord upload_of(const std::string& name, const std::string& user_id) {
    auto u = conformance::sample_upload(name, "pc_partner");
    u.user_id = user_id;
    return u;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- without a server ---

TEST(PostgresStoreWithoutServer, ClosedPortIsUnavailableAtOnceWithoutThePassword) {
    LoopbackSocket closed(/*listening=*/false);
    const auto start = Clock::now();
    auto store = PostgresMetadataStore::open(url_with_secret(closed.port()),
                                             PostgresMetadataStore::Options{.connect_timeout = 2s});
    ASSERT_FALSE(store);
    EXPECT_LT(seconds_since(start), 2.0);
    EXPECT_EQ(store.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(store.error().code, "metadata_unavailable");
    EXPECT_NE(store.error().message.find("127.0.0.1"), std::string::npos) << store.error().message;
    EXPECT_EQ(store.error().message.find(kSecret), std::string::npos) << store.error().message;
}

TEST(PostgresStoreWithoutServer, SilentServerIsGivenUpOnWithinTheConnectTimeout) {
    LoopbackSocket silent(/*listening=*/true);
    const auto start = Clock::now();
    auto store = PostgresMetadataStore::open(url_with_secret(silent.port()),
                                             PostgresMetadataStore::Options{.connect_timeout = 2s});
    const double elapsed = seconds_since(start);
    ASSERT_FALSE(store);
    // libpq counts the deadline in whole seconds of the wall clock: 1 to 2 s here.
    EXPECT_GE(elapsed, 0.9);
    EXPECT_LT(elapsed, 4.0);
    EXPECT_EQ(store.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(store.error().code, "metadata_unavailable");
    EXPECT_EQ(store.error().message.find(kSecret), std::string::npos) << store.error().message;
}

TEST(PostgresStoreWithoutServer, MalformedUrlIsInvalidInputWithoutThePassword) {
    for (const std::string& url : {
             "mysql://audiodrop:" + std::string(kSecret) + "@127.0.0.1/audiodrop",
             "postgresql://audiodrop:" + std::string(kSecret) + "%zz@127.0.0.1/audiodrop",
             "postgresql://audiodrop:" + std::string(kSecret) + "@127.0.0.1/audiodrop?nosuch=1",
         }) {
        auto store = PostgresMetadataStore::open(url);
        ASSERT_FALSE(store) << url;
        EXPECT_EQ(store.error().kind, core::ErrorKind::invalid_input) << url;
        EXPECT_EQ(store.error().code, "metadata_url_invalid") << url;
        EXPECT_EQ(store.error().message.find(kSecret), std::string::npos) << store.error().message;
    }
}

// --- with a server ---

class PostgresStore : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto reason = PostgresTestSchema::skip_reason(); !reason.empty()) {
            GTEST_SKIP() << reason;
        }
        auto schema = PostgresTestSchema::create();
        ASSERT_TRUE(schema) << schema.error().message;
        schema_ = std::move(*schema);
    }

    PostgresTestSchema& schema() { return *schema_; }

    std::unique_ptr<PostgresMetadataStore> open_store(const std::string& url,
                                                      PostgresMetadataStore::Options options = {}) {
        auto store = PostgresMetadataStore::open(url, options);
        if (!store) {
            ADD_FAILURE() << store.error().message;
            return nullptr;
        }
        return std::move(*store);
    }

    postgres::Connection connect_under() {
        auto c = schema_->connect();
        EXPECT_TRUE(c) << c.error().message;
        return std::move(c.value());
    }

  private:
    std::unique_ptr<PostgresTestSchema> schema_;
};

// Waits (bounded) until a session of `application_name` waits on a lock.
bool wait_until_blocked(postgres::Connection& observer, const std::string& application_name) {
    for (int i = 0; i < 250; ++i) {
        auto r = observer.exec(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = $1 AND wait_event_type = 'Lock'",
            postgres::Params().add(application_name), "look for a blocked session");
        if (r && r->text(0, 0) != "0") return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

TEST_F(PostgresStore, ReplicasOpeningAFreshSchemaAtOnceMigrateItOnce) {
    std::latch start(kRacers);
    std::atomic<int> opened{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRacers; ++i) {
        threads.emplace_back([&] {
            start.arrive_and_wait();
            auto store = PostgresMetadataStore::open(schema().url());
            if (store) {
                ++opened;
            } else {
                ADD_FAILURE() << store.error().message;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(opened.load(), kRacers);

    auto c = connect_under();
    auto applied = c.exec("SELECT count(*), min(version), max(version) FROM schema_migrations", {},
                          "read the migrations");
    ASSERT_TRUE(applied) << applied.error().message;
    const std::string latest = std::to_string(PostgresMetadataStore::schema_version());
    EXPECT_EQ(applied->text(0, 0), latest);
    EXPECT_EQ(applied->text(0, 1), "1");
    EXPECT_EQ(applied->text(0, 2), latest);
}

TEST_F(PostgresStore, ASchemaAtVersion1IsUpgradedKeepingItsRows) {
    {
        auto store = open_store(schema().url());
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->create_partner(sample_partner("pc_kept")));
    }
    {
        // What a build of schema 1 left: no request_counts (migration 2) and nothing after.
        auto c = connect_under();
        ASSERT_TRUE(
            c.exec_script("ALTER TABLE partners DROP COLUMN disabled_at; "
                          "DROP TABLE deleted_partners; "
                          "DROP TABLE webhook_subscriptions; DROP TABLE webhook_events; "
                          "DROP TABLE webhook_deliveries; DROP TABLE webhook_attempts; "
                          "ALTER TABLE uploads DROP COLUMN audio; "
                          "ALTER TABLE uploads DROP COLUMN audio_problem; "
                          "DROP TABLE request_counts; DROP TABLE partner_open_uploads; "
                          "DROP FUNCTION partner_open_uploads_keep() CASCADE; "
                          "ALTER TABLE partners DROP COLUMN token_generation; "
                          "ALTER TABLE refresh_tokens DROP COLUMN token_generation; "
                          "DELETE FROM schema_migrations WHERE version > 1",
                          "downgrade"));
    }
    auto store = open_store(schema().url());
    ASSERT_TRUE(store);
    auto kept = store->find_partner("pc_kept");
    ASSERT_TRUE(kept && kept->has_value());
    EXPECT_EQ((*kept)->token_generation, 0);
    auto counted = store->count_requests("k", core::from_unix(1'700'000'000), 1);
    ASSERT_TRUE(counted) << counted.error().message;
    EXPECT_EQ(*counted, 1u);
    auto webhooks = store->list_webhooks("pc_kept");
    ASSERT_TRUE(webhooks) << webhooks.error().message;
    EXPECT_TRUE(webhooks->empty());
}

TEST_F(PostgresStore, ASchemaAtVersion5KeepsItsPartnersEnabled) {
    {
        auto store = open_store(schema().url());
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->create_partner(sample_partner("pc_kept")));
        ASSERT_TRUE(store->revoke_partner_tokens("pc_kept"));
    }
    {
        // What a build of schema 5 left: no disabled_at, no deleted_partners, no
        // request_id on events.
        auto c = connect_under();
        ASSERT_TRUE(
            c.exec_script("ALTER TABLE webhook_events DROP COLUMN request_id; "
                          "ALTER TABLE partners DROP COLUMN disabled_at; "
                          "DROP TABLE deleted_partners; "
                          "DELETE FROM schema_migrations WHERE version > 5",
                          "downgrade"));
    }
    auto store = open_store(schema().url());
    ASSERT_TRUE(store);
    auto kept = store->find_partner("pc_kept");
    ASSERT_TRUE(kept && kept->has_value());
    EXPECT_FALSE((*kept)->disabled_at);
    EXPECT_EQ((*kept)->token_generation, 1);
    auto deleted = store->delete_partner("pc_kept", core::from_unix(1'700'000'100), false);
    ASSERT_TRUE(deleted) << deleted.error().message;
    auto generations = store->revoked_token_generations();
    ASSERT_TRUE(generations) << generations.error().message;
    ASSERT_EQ(generations->size(), 1u);
    EXPECT_EQ(generations->front().second, kDeletedPartnerGeneration);
}

TEST_F(PostgresStore, SchemaOfANewerBuildIsRefused) {
    ASSERT_TRUE(open_store(schema().url()));
    auto c = connect_under();
    ASSERT_TRUE(
        c.exec("INSERT INTO schema_migrations (version) VALUES ($1)",
               postgres::Params().add(std::int64_t{PostgresMetadataStore::schema_version() + 1}),
               "pretend a newer build migrated"));
    auto store = PostgresMetadataStore::open(schema().url());
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(store.error().code, "metadata_schema_too_new");
}

TEST_F(PostgresStore, QuotaHoldsAcrossSeparateStoresRoundAfterRound) {
    std::vector<std::unique_ptr<PostgresMetadataStore>> stores;
    for (int i = 0; i < kRacers; ++i) {
        stores.push_back(open_store(schema().url()));
        ASSERT_TRUE(stores.back());
    }
    constexpr int kQuota = 3;
    for (int round = 0; round < 5; ++round) {
        const std::string user = "user-" + std::to_string(round);
        std::latch start(kRacers);
        std::atomic<int> created{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < kRacers; ++i) {
            threads.emplace_back([&, i] {
                start.arrive_and_wait();
                auto done = stores[static_cast<std::size_t>(i)]->create_upload(
                    upload_of(user + "-" + std::to_string(i), user), kQuota);
                if (done) {
                    ++created;
                } else if (done.error().code != "open_upload_quota") {
                    ADD_FAILURE() << done.error().message;
                }
            });
        }
        for (auto& t : threads) t.join();
        EXPECT_EQ(created.load(), kQuota) << "round " << round;
        auto open = stores[0]->count_open_uploads("pc_partner", user);
        ASSERT_TRUE(open) << open.error().message;
        EXPECT_EQ(*open, static_cast<std::uint64_t>(kQuota)) << "round " << round;
    }
}

TEST_F(PostgresStore, TextWithANulByteIsRefusedNotCut) {
    auto store = open_store(schema().url());
    ASSERT_TRUE(store);
    for (const std::string& user_id : {std::string("user\0other", 10), std::string("bad\xff")}) {
        auto created = store->create_upload(upload_of("nul", user_id), kNoUploadQuota);
        ASSERT_FALSE(created);
        EXPECT_EQ(created.error().kind, core::ErrorKind::invalid_input);
        EXPECT_EQ(created.error().code, "metadata_invalid_text") << created.error().message;
    }
    auto found = store->find_upload("file_nul");
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_FALSE(found->has_value());
}

TEST_F(PostgresStore, WrongPasswordIsUnavailableWithoutEitherPassword) {
    const std::string url = schema().url();
    const auto scheme_end = url.find("://") + 3;
    const auto colon = url.find(':', scheme_end);
    const auto at_sign = url.find('@', scheme_end);
    ASSERT_TRUE(colon < at_sign && at_sign != std::string::npos) << "no password in the URL";
    const std::string real_password = url.substr(colon + 1, at_sign - colon - 1);
    const std::string wrong_url = url.substr(0, colon + 1) + kSecret + url.substr(at_sign);

    auto store = PostgresMetadataStore::open(wrong_url);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(store.error().code, "metadata_unavailable");
    EXPECT_NE(store.error().message.find("password authentication failed"), std::string::npos)
        << store.error().message;
    EXPECT_EQ(store.error().message.find(kSecret), std::string::npos) << store.error().message;
    EXPECT_EQ(store.error().message.find(real_password), std::string::npos)
        << store.error().message;
}

TEST_F(PostgresStore, SessionsTheServerEndsAreReplacedOnTheNextCall) {
    const std::string app = core::new_id("ended_");
    auto store = open_store(schema().url("application_name=" + app));
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_partner(sample_partner("pc_alpha")));

    auto admin = connect_under();
    // The timeout makes pg_terminate_backend wait until the session is gone.
    auto ended = admin.exec(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE application_name = $1",
        postgres::Params().add(app), "end the store's sessions");
    ASSERT_TRUE(ended) << ended.error().message;
    ASSERT_GE(ended->rows(), 1);
    for (int row = 0; row < ended->rows(); ++row) EXPECT_EQ(ended->text(row, 0), "t");

    for (int call = 0; call < 3; ++call) {
        auto found = store->find_partner("pc_alpha");
        ASSERT_TRUE(found) << found.error().message;
        EXPECT_TRUE(found->has_value());
    }
}

TEST_F(PostgresStore, ServerRestartIsSurvivedWithoutReopening) {
    const char* restart = std::getenv("AUDIODROP_TEST_POSTGRES_RESTART");
    if (restart == nullptr || *restart == '\0') {
        GTEST_SKIP()
            << "AUDIODROP_TEST_POSTGRES_RESTART is not set (postgres_cluster.py run sets it)";
    }
    auto store = open_store(schema().url());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_partner(sample_partner("pc_alpha")));

    ASSERT_EQ(std::system(restart), 0);

    auto found = store->find_partner("pc_alpha");
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_TRUE(found->has_value());
    EXPECT_TRUE(store->create_partner(sample_partner("pc_beta")));
}

TEST_F(PostgresStore, AllConnectionsBusyIsUnavailableAfterTheAcquireTimeout) {
    const std::string app = core::new_id("busy_");
    auto store =
        open_store(schema().url("application_name=" + app), {.size = 1, .acquire_timeout = 300ms});
    ASSERT_TRUE(store);

    auto blocker = connect_under();
    auto tx = postgres::Transaction::begin(blocker);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(blocker.exec("LOCK TABLE partners IN ACCESS EXCLUSIVE MODE", {}, "lock partners"));
    // The store's only connection waits behind the lock.
    std::thread holder([&] {
        auto found = store->find_partner("pc_alpha");
        EXPECT_TRUE(found) << found.error().message;
    });
    auto observer = connect_under();
    ASSERT_TRUE(wait_until_blocked(observer, app));

    const auto start = Clock::now();
    auto refused = store->find_partner("pc_beta");
    const double elapsed = seconds_since(start);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(refused.error().code, "metadata_unavailable");
    EXPECT_GE(elapsed, 0.25);
    EXPECT_LT(elapsed, 3.0);

    ASSERT_TRUE(tx->commit());
    holder.join();
    EXPECT_TRUE(store->find_partner("pc_beta"));
}

TEST_F(PostgresStore, StatementPastTheTimeoutIsUnavailableAndTheStoreCarriesOn) {
    auto store = open_store(schema().url(), {.size = 1, .statement_timeout = 300ms});
    ASSERT_TRUE(store);
    {
        auto blocker = connect_under();
        auto tx = postgres::Transaction::begin(blocker);
        ASSERT_TRUE(tx);
        ASSERT_TRUE(
            blocker.exec("LOCK TABLE partners IN ACCESS EXCLUSIVE MODE", {}, "lock partners"));
        const auto start = Clock::now();
        auto timed_out = store->create_partner(sample_partner("pc_alpha"));
        ASSERT_FALSE(timed_out);
        EXPECT_EQ(timed_out.error().kind, core::ErrorKind::unavailable);
        EXPECT_EQ(timed_out.error().code, "metadata_unavailable");
        EXPECT_LT(seconds_since(start), 3.0);
    }
    EXPECT_TRUE(store->create_partner(sample_partner("pc_alpha")));
    auto found = store->find_partner("pc_alpha");
    ASSERT_TRUE(found && found->has_value());
}

}  // namespace
}  // namespace audiodrop::metadata
