#pragma once

// SqliteMetadataStore: the default, single-machine MetadataStore, one SQLite file.
//
// Layout: tables partners, refresh_tokens and uploads (see sqlite_schema.cpp), all
// times in unix seconds. The schema is versioned with PRAGMA user_version and brought
// up to date by open() in one BEGIN IMMEDIATE transaction, so several processes may
// open one file at once.
//
// Guarantees:
// - Durable once a call returns: WAL journal with synchronous=FULL, so a committed
//   change survives a crash or power loss. foreign_keys is on for later migrations;
//   the tables reference no others yet (a deleted partner's rows go in its delete).
// - Group commit: one committer thread owns the writer connection. Writes queue for
//   it, and it commits everything queued while the last batch committed in one
//   transaction, with one fsync. Each write is one statement, which SQLite undoes
//   alone when it fails (a quota, a duplicate), leaving the others in the batch. A call
//   returns (create_upload_async answers) only after its batch has committed: what it
//   reports is durable.
// - Every write is one SQL statement, or several under a savepoint (as_one_write);
//   compare-and-set methods (mark_completed, transition, spend_refresh_token) decide in
//   a single statement, so they hold across threads and across processes sharing the
//   file.
// - Reads use a small pool of reader connections and never wait for a commit (WAL).
// - Thread-safe. Another process holding the write lock is waited for up to 5 s
//   (busy_timeout), then the call fails.
// - Errors: SQLite failures are unavailable ("metadata_unavailable"), a full disk is
//   storage_full ("metadata_storage_full"); a row that cannot be decoded is internal
//   ("metadata_corrupt"). Duplicates: "partner_exists", "upload_exists",
//   "refresh_token_exists" (conflict).
// - remove_upload of an unknown file_id succeeds, so a retried sweep is harmless.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "metadata/metadata_store.hpp"
#include "metadata/sqlite_handle.hpp"

namespace audiodrop::metadata {

class SqliteMetadataStore final : public MetadataStore {
  public:
    // Opens (creating if needed) the database file at `path` and migrates it. The
    // directory must exist. Fails with unavailable when the file cannot be opened or
    // is not a database, or "metadata_schema_too_new" when a newer build wrote it.
    static core::Result<std::unique_ptr<SqliteMetadataStore>> open(const std::string& path);

    // The schema version this build migrates to.
    static int schema_version();

    ~SqliteMetadataStore() override;
    SqliteMetadataStore(const SqliteMetadataStore&) = delete;
    SqliteMetadataStore& operator=(const SqliteMetadataStore&) = delete;

    core::Result<void> create_partner(const Partner& p) override;
    core::Result<std::optional<Partner>> find_partner(const std::string& client_id) override;

    core::Result<std::int64_t> revoke_partner_tokens(const std::string& client_id) override;
    core::Result<std::vector<std::pair<std::string, std::int64_t>>> revoked_token_generations()
        override;
    core::Result<std::vector<PartnerListing>> list_partners() override;
    core::Result<PartnerHoldings> count_partner_holdings(const std::string& client_id) override;
    core::Result<std::int64_t> disable_partner(const std::string& client_id,
                                               core::TimePoint at) override;
    core::Result<void> enable_partner(const std::string& client_id) override;
    core::Result<std::int64_t> replace_partner_secret(const std::string& client_id,
                                                      const std::string& secret_hash) override;
    core::Result<PartnerHoldings> delete_partner(const std::string& client_id, core::TimePoint at,
                                                 bool with_uploads) override;
    core::Result<void> add_refresh_token(const RefreshToken& t) override;
    core::Result<std::optional<RefreshToken>> find_refresh_token(const std::string& token_hash,
                                                                 core::TimePoint now) override;
    core::Result<std::optional<RefreshToken>> spend_refresh_token(const std::string& token_hash,
                                                                  core::TimePoint now) override;

    core::Result<void> create_upload(const UploadRecord& u, const UploadQuota& quota) override;
    void create_upload_async(const UploadRecord& u, const UploadQuota& quota,
                             std::function<void(core::Result<void>)> done) override;
    core::Result<std::optional<UploadRecord>> find_upload(const std::string& file_id) override;
    core::Result<std::uint64_t> count_open_uploads(const std::string& client_id,
                                                   const std::string& user_id) override;

    core::Result<bool> mark_completed(const std::string& file_id, const Completion& completion,
                                      const OutboxEvent* event) override;
    core::Result<bool> transition(const std::string& file_id, UploadState from, UploadState to,
                                  const OutboxEvent* event) override;
    core::Result<void> remove_upload(const std::string& file_id, const OutboxEvent* event) override;
    core::Result<std::vector<UploadRecord>> find_expired_open(core::TimePoint now,
                                                              std::size_t limit) override;
    core::Result<std::vector<UploadRecord>> find_abandoned(std::size_t limit) override;
    core::Result<std::uint64_t> count_requests(const std::string& key, core::TimePoint window_start,
                                               std::uint64_t requests) override;
    core::Result<void> forget_request_counts(core::TimePoint before) override;

    core::Result<void> create_webhook(const WebhookSubscription& s,
                                      std::size_t max_per_partner) override;
    core::Result<std::vector<WebhookSubscription>> list_webhooks(
        const std::string& client_id) override;
    core::Result<std::optional<WebhookSubscription>> find_webhook(const std::string& client_id,
                                                                  const std::string& id) override;
    core::Result<bool> delete_webhook(const std::string& client_id, const std::string& id) override;
    core::Result<std::optional<WebhookSubscription>> rotate_webhook_secret(
        const std::string& client_id, const std::string& id, const std::string& secret,
        core::TimePoint previous_expires_at) override;
    core::Result<bool> add_event(const OutboxEvent& event) override;
    core::Result<std::vector<ClaimedDelivery>> claim_deliveries(core::TimePoint now,
                                                                std::chrono::milliseconds lease,
                                                                std::size_t limit,
                                                                const std::string& claim) override;
    core::Result<bool> record_delivery_attempt(const DeliveryAttempt& attempt,
                                               const std::string& claim, bool delivered) override;
    core::Result<std::vector<DeliveryAttempt>> list_delivery_attempts(
        const std::string& subscription_id, std::size_t limit) override;
    core::Result<std::size_t> forget_webhook_history(core::TimePoint before) override;

  private:
    // One write waiting for its batch: run() executes it in the batch's transaction and
    // says whether it succeeded; fail() replaces its result when the batch cannot
    // commit; finished() hands the result on once the batch is over.
    struct PendingWrite {
        std::function<bool(sqlite::Session&)> run;
        std::function<void(const core::Error&)> fail;
        std::function<void()> finished;
    };

    SqliteMetadataStore(std::string path, sqlite::Connection writer);

    // Runs `op` (Session& -> Result<T>) as one write of a group commit, and waits.
    template <class Op>
    auto write(Op op) -> std::invoke_result_t<Op&, sqlite::Session&>;
    // The same without waiting: `done` gets the result on the committer thread.
    template <class Op, class Done>
    void write_async(Op op, Done done);
    void enqueue(std::shared_ptr<PendingWrite> w);
    // The committer thread: takes what is queued, commits it as one batch, repeats.
    void commit_loop();
    void commit_batch(const std::vector<std::shared_ptr<PendingWrite>>& batch);

    // Runs `op` (Session& -> Result<T>) on a reader connection.
    template <class Op>
    auto read(Op op) -> std::invoke_result_t<Op&, sqlite::Session&>;

    std::string path_;
    sqlite::Session writer_;  // the committer's alone

    std::mutex queue_mutex_;
    std::condition_variable queued_changed_;
    std::deque<std::shared_ptr<PendingWrite>> queued_;
    bool stopping_ = false;
    std::thread committer_;

    std::mutex readers_mutex_;
    std::vector<std::unique_ptr<sqlite::Session>> idle_readers_;
};

}  // namespace audiodrop::metadata
