#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "metadata/records.hpp"
#include "metadata/upload_quota.hpp"
#include "metadata/webhook_records.hpp"

namespace audiodrop::metadata {

// Durable metadata: partners, refresh tokens, uploads and files, and the webhook
// subscriptions and outbox.
//
// Every method is one transaction and is safe to call from many threads at once.
// Failures of the store itself come back as ErrorKind::unavailable; a lookup that
// finds nothing is an empty optional, not an error.
class MetadataStore {
  public:
    virtual ~MetadataStore() = default;

    // conflict ("partner_exists") when client_id is taken.
    virtual core::Result<void> create_partner(const Partner& p) = 0;
    virtual core::Result<std::optional<Partner>> find_partner(const std::string& client_id) = 0;

    // Revokes every token of the partner: raises its token generation, so that tokens
    // of an older one are refused, and deletes its refresh tokens, in one transaction.
    // Returns the new generation; not_found "partner_not_found" for an unknown client_id.
    virtual core::Result<std::int64_t> revoke_partner_tokens(const std::string& client_id) = 0;
    // client_id -> token generation of each partner whose tokens were ever revoked, and
    // kDeletedPartnerGeneration for each deleted partner.
    virtual core::Result<std::vector<std::pair<std::string, std::int64_t>>>
    revoked_token_generations() = 0;

    // Partner administration (operator commands, not the request path: the counts may
    // read every upload).
    // Every partner with what it holds, oldest first.
    virtual core::Result<std::vector<PartnerListing>> list_partners() = 0;
    // What the partner holds; zeros for an unknown client_id.
    virtual core::Result<PartnerHoldings> count_partner_holdings(const std::string& client_id) = 0;
    // Disables the partner (disabled_at = `at`, kept when it is disabled already) and
    // revokes its tokens as revoke_partner_tokens does, in one transaction. Returns the
    // new generation; not_found "partner_not_found" for an unknown client_id.
    virtual core::Result<std::int64_t> disable_partner(const std::string& client_id,
                                                       core::TimePoint at) = 0;
    // Clears disabled_at; tokens revoked stay revoked. not_found "partner_not_found".
    virtual core::Result<void> enable_partner(const std::string& client_id) = 0;
    // Makes `secret_hash` the partner's and revokes its tokens, in one transaction.
    // Returns the new generation; not_found "partner_not_found".
    virtual core::Result<std::int64_t> replace_partner_secret(const std::string& client_id,
                                                              const std::string& secret_hash) = 0;
    // Deletes the partner with its refresh tokens and its webhooks (subscriptions,
    // deliveries, attempts, events), and remembers it as deleted (see
    // revoked_token_generations), in one transaction. Unless `with_uploads`, refuses
    // (conflict "partner_has_uploads", nothing changed) while it holds an open upload or
    // a completed file; with it, abandons all of its uploads (aborted, expired long ago),
    // so the next purge_abandoned releases their bytes and forgets them. Returns what it
    // abandoned. not_found "partner_not_found".
    virtual core::Result<PartnerHoldings> delete_partner(const std::string& client_id,
                                                         core::TimePoint at, bool with_uploads) = 0;

    virtual core::Result<void> add_refresh_token(const RefreshToken& t) = 0;
    // The token if it could be spent at `now` (known, unspent, unexpired), without
    // spending it: so a refresh can be refused before it costs the caller its token.
    virtual core::Result<std::optional<RefreshToken>> find_refresh_token(
        const std::string& token_hash, core::TimePoint now) = 0;
    // Atomically marks the token spent and returns it. Only one caller ever gets a
    // given token back: unknown, spent or expired tokens give an empty optional.
    virtual core::Result<std::optional<RefreshToken>> spend_refresh_token(
        const std::string& token_hash, core::TimePoint now) = 0;

    // Stores a new upload unless it would take its owner past `quota` (quota_refusal
    // then). The counts and the insert are one atomic step, so concurrent creates, on
    // any replica, never exceed the quota. conflict when file_id or upload_id exists
    // already.
    virtual core::Result<void> create_upload(const UploadRecord& u, const UploadQuota& quota) = 0;
    // create_upload for a caller that must not hold a thread while the write commits:
    // `done` gets the same result once it is durable, on a thread of the store's, and
    // must not block. A store without a path of its own answers within this call (so it
    // is called from a worker, never a network thread).
    virtual void create_upload_async(const UploadRecord& u, const UploadQuota& quota,
                                     std::function<void(core::Result<void>)> done) {
        done(create_upload(u, quota));
    }
    virtual core::Result<std::optional<UploadRecord>> find_upload(const std::string& file_id) = 0;
    // Open uploads of one user, for the per-user quota.
    virtual core::Result<std::uint64_t> count_open_uploads(const std::string& client_id,
                                                           const std::string& user_id) = 0;

    // The state changes below take the event they cause, or null: when one is given and
    // a subscription of its partner takes it, the event and its deliveries are written
    // in the same transaction as the change (and not at all when the change is not made).

    // Compare-and-set from open to completed, with the result fields. Returns false
    // (and changes nothing) when the upload is no longer open: of two replicas that
    // complete one upload at once, exactly one gets true.
    virtual core::Result<bool> mark_completed(const std::string& file_id,
                                              const Completion& completion,
                                              const OutboxEvent* event) = 0;
    // Compare-and-set of the state; false when the state was not `from`.
    virtual core::Result<bool> transition(const std::string& file_id, UploadState from,
                                          UploadState to, const OutboxEvent* event) = 0;
    // Removes the record for good (DELETE of a file, or after the sweep). Removing an
    // unknown file_id succeeds and writes no event.
    virtual core::Result<void> remove_upload(const std::string& file_id,
                                             const OutboxEvent* event) = 0;
    // Open uploads whose expires_at is before `now`, oldest first, at most `limit`.
    virtual core::Result<std::vector<UploadRecord>> find_expired_open(core::TimePoint now,
                                                                      std::size_t limit) = 0;
    // Uploads in a terminal state other than completed (aborted, expired), so the
    // sweep can release their storage and forget them.
    virtual core::Result<std::vector<UploadRecord>> find_abandoned(std::size_t limit) = 0;

    // Request counting for rate limits that hold across replicas. Adds `requests` to the
    // count of `key` in the fixed window that started at window_start and returns that
    // window's count, these requests included; one atomic step, so concurrent callers
    // get distinct counts (0 requests reads the count). A key keeps only its latest
    // window: requests for an older window (a replica whose clock lags, or a batch sent
    // late) count in the latest one.
    virtual core::Result<std::uint64_t> count_requests(const std::string& key,
                                                       core::TimePoint window_start,
                                                       std::uint64_t requests) = 0;
    // Forgets the keys whose latest window started before `before`.
    virtual core::Result<void> forget_request_counts(core::TimePoint before) = 0;

    // Webhook subscriptions, each visible to its partner alone. create_webhook refuses
    // (rate_limited "too_many_webhooks") a partner that has max_per_partner already.
    virtual core::Result<void> create_webhook(const WebhookSubscription& s,
                                              std::size_t max_per_partner) = 0;
    // Oldest first.
    virtual core::Result<std::vector<WebhookSubscription>> list_webhooks(
        const std::string& client_id) = 0;
    virtual core::Result<std::optional<WebhookSubscription>> find_webhook(
        const std::string& client_id, const std::string& id) = 0;
    // Deletes the subscription with its deliveries and their history; false when the
    // partner has no such subscription.
    virtual core::Result<bool> delete_webhook(const std::string& client_id,
                                              const std::string& id) = 0;
    // Makes `secret` the subscription's secret; the one it replaces keeps signing until
    // previous_expires_at. The updated subscription, or nullopt when there is none.
    virtual core::Result<std::optional<WebhookSubscription>> rotate_webhook_secret(
        const std::string& client_id, const std::string& id, const std::string& secret,
        core::TimePoint previous_expires_at) = 0;
    // Writes an event that no state change causes (a ping). False when no subscription
    // takes it.
    virtual core::Result<bool> add_event(const OutboxEvent& event) = 0;

    // Claims up to `limit` deliveries due at `now` that no live lease holds, the oldest
    // due first, leasing each until now + lease under the token `claim`. Replicas that
    // claim at once get disjoint deliveries; one whose holder died is claimed again once
    // its lease ends, so every event is sent at least once.
    virtual core::Result<std::vector<ClaimedDelivery>> claim_deliveries(
        core::TimePoint now, std::chrono::milliseconds lease, std::size_t limit,
        const std::string& claim) = 0;
    // Records an attempt of a claimed delivery and ends the claim: delivered when
    // `delivered`, else due again at attempt.next_attempt_at, or failed for good when
    // that is nullopt. False (nothing recorded) when the claim was lost: its lease ran
    // out and another replica claimed the delivery.
    virtual core::Result<bool> record_delivery_attempt(const DeliveryAttempt& attempt,
                                                       const std::string& claim,
                                                       bool delivered) = 0;
    // A subscription's latest attempts, newest first.
    virtual core::Result<std::vector<DeliveryAttempt>> list_delivery_attempts(
        const std::string& subscription_id, std::size_t limit) = 0;
    // Forgets finished deliveries (delivered or failed), their attempts and events, of
    // events created before `before`. Returns how many deliveries it forgot.
    virtual core::Result<std::size_t> forget_webhook_history(core::TimePoint before) = 0;
};

}  // namespace audiodrop::metadata
