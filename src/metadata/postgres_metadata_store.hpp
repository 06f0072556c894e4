#pragma once

// PostgresMetadataStore: the scale-out MetadataStore, shared by every replica.
//
// Layout: the same tables as the SQLite store (partners, refresh_tokens, uploads; see
// postgres_schema.cpp), all times in unix seconds, filesize and chunk_size as the bit
// pattern of the uint64 in a BIGINT. The schema is versioned in schema_migrations and
// brought up to date by open(), safely when several replicas start at once. Tables
// live in the first schema of the connection's search_path (set it with the URL's
// options=-csearch_path%3DNAME to keep several deployments in one database).
//
// Guarantees (the same as SqliteMetadataStore's, across replicas):
// - Durable once a call returns: every change is committed before it returns.
// - Compare-and-set methods (mark_completed, transition, spend_refresh_token) are one
//   conditional UPDATE each: under READ COMMITTED, a second writer waits for the
//   first and re-checks the row, so of racing replicas exactly one wins.
// - create_upload's quota: the counts and the insert run in one transaction under an
//   advisory lock on the partner, so concurrent creates from any number of
//   connections or processes never exceed it (creates of one partner take turns).
// - Thread-safe: a bounded pool of connections (PoolOptions). A caller waits at most
//   acquire_timeout for a free one; a connection the server closed is replaced when
//   next used, so the store heals by itself after the server restarts.
// - Serialization failures and deadlocks (40001, 40P01) are retried a few times.
// - Errors: a database that cannot be reached or fails is unavailable
//   ("metadata_unavailable"), a full disk storage_full ("metadata_storage_full"), a row
//   that cannot be decoded internal ("metadata_corrupt"). Duplicates: "partner_exists",
//   "upload_exists", "refresh_token_exists" (conflict). Messages name the server but
//   never the password.
// - Unlike SQLite, text must be valid UTF-8 without NUL bytes (PostgreSQL's text type
//   holds nothing else): other text is refused, invalid_input ("metadata_invalid_text"),
//   never stored altered.
// - remove_upload of an unknown file_id succeeds, so a retried sweep is harmless.

#include <memory>
#include <string>

#include "metadata/metadata_store.hpp"
#include "metadata/postgres_connection_pool.hpp"

namespace audiodrop::metadata {

class PostgresMetadataStore final : public MetadataStore {
  public:
    using Options = postgres::PoolOptions;

    // Connects to the postgres:// or postgresql:// URL (libpq's URI syntax, e.g.
    // postgresql://USER:PASSWORD@HOST:5432/DATABASE) and migrates the schema.
    // invalid_input ("metadata_url_invalid") for a malformed URL; unavailable when the
    // database cannot be reached within the connect timeout, or
    // "metadata_schema_too_new" when a newer build wrote it.
    static core::Result<std::unique_ptr<PostgresMetadataStore>> open(const std::string& url,
                                                                     Options options = {});

    // The schema version this build migrates to.
    static int schema_version();

    ~PostgresMetadataStore() override;
    PostgresMetadataStore(const PostgresMetadataStore&) = delete;
    PostgresMetadataStore& operator=(const PostgresMetadataStore&) = delete;

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
    explicit PostgresMetadataStore(std::unique_ptr<postgres::ConnectionPool> pool);

    // Runs `operation` on a leased connection, again on a serialization failure or
    // deadlock, a bounded number of times.
    template <class Operation>
    auto with_connection(Operation operation)
        -> decltype(operation(std::declval<postgres::Connection&>()));

    std::unique_ptr<postgres::ConnectionPool> pool_;
};

}  // namespace audiodrop::metadata
