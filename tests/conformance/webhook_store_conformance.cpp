// The webhook part of the MetadataStore contract: subscriptions, the outbox written with
// state changes, and claiming deliveries across replicas.

#include <latch>
#include <set>
#include <thread>

#include "conformance/metadata_store_conformance.hpp"

namespace audiodrop::metadata::conformance {
namespace {

using std::chrono::milliseconds;

core::TimePoint at(std::int64_t seconds_after_base) {
    return core::from_unix(1'700'000'000 + seconds_after_base);
}

constexpr auto kLease = milliseconds(30'000);

WebhookSubscription subscription(const std::string& id, const std::string& client_id,
                                 std::vector<std::string> events) {
    WebhookSubscription s;
    s.id = id;
    s.client_id = client_id;
    s.url = "https://hooks.example.com/" + id;
    s.events = std::move(events);
    s.description = "receiver " + id;
    s.secret = "whsec_secret_of_" + id;
    s.created_at = at(0);
    return s;
}

UploadRecord upload(const std::string& name, const std::string& client_id = "pc_partner") {
    return sample_upload(name, client_id);
}

OutboxEvent event(const std::string& id, const std::string& type,
                  const std::string& client_id = "pc_partner") {
    OutboxEvent e;
    e.id = id;
    e.client_id = client_id;
    e.type = type;
    e.data = R"({"FileId":"file_x"})";
    e.object_key = "uploads/x";
    e.created_at = at(10);
    e.request_id = "req_of_" + id;
    return e;
}

Completion completion() { return Completion{"md5", "digest", at(5), R"({"Codec":"mp3"})", ""}; }

class WebhookStoreConformance : public MetadataStoreConformance {
  protected:
    void subscribe(const WebhookSubscription& s) {
        auto made = store().create_webhook(s, 10);
        ASSERT_TRUE(made) << made.error().message;
    }
    void open_upload(const UploadRecord& u) {
        auto made = store().create_upload(u, UploadQuota(100));
        ASSERT_TRUE(made) << made.error().message;
    }
    std::vector<ClaimedDelivery> claim(core::TimePoint now, const std::string& token,
                                       std::size_t limit = 100) {
        auto claimed = store().claim_deliveries(now, kLease, limit, token);
        EXPECT_TRUE(claimed) << claimed.error().message;
        return claimed ? *claimed : std::vector<ClaimedDelivery>{};
    }
};

TEST_P(WebhookStoreConformance, SubscriptionsBelongToTheirPartner) {
    subscribe(subscription("whk_a", "pc_one", {"file.uploaded", "upload.aborted"}));
    subscribe(subscription("whk_b", "pc_two", {"file.deleted"}));
    auto mine = store().list_webhooks("pc_one");
    ASSERT_TRUE(mine) << mine.error().message;
    ASSERT_EQ(mine->size(), 1u);
    const auto& s = mine->front();
    EXPECT_EQ(s.id, "whk_a");
    EXPECT_EQ(s.url, "https://hooks.example.com/whk_a");
    EXPECT_EQ(s.events, (std::vector<std::string>{"file.uploaded", "upload.aborted"}));
    EXPECT_EQ(s.description, "receiver whk_a");
    EXPECT_EQ(s.secret, "whsec_secret_of_whk_a");
    EXPECT_EQ(s.created_at, at(0));

    auto others = store().find_webhook("pc_one", "whk_b");
    ASSERT_TRUE(others);
    EXPECT_FALSE(*others);
    auto deleted_by_other = store().delete_webhook("pc_one", "whk_b");
    ASSERT_TRUE(deleted_by_other);
    EXPECT_FALSE(*deleted_by_other);
    auto deleted = store().delete_webhook("pc_two", "whk_b");
    ASSERT_TRUE(deleted);
    EXPECT_TRUE(*deleted);
    auto gone = store().find_webhook("pc_two", "whk_b");
    ASSERT_TRUE(gone);
    EXPECT_FALSE(*gone);
}

TEST_P(WebhookStoreConformance, APartnerHasAtMostTheAllowedSubscriptions) {
    ASSERT_TRUE(store().create_webhook(subscription("whk_1", "pc_one", {"file.uploaded"}), 2));
    ASSERT_TRUE(store().create_webhook(subscription("whk_2", "pc_one", {"file.uploaded"}), 2));
    auto third = store().create_webhook(subscription("whk_3", "pc_one", {"file.uploaded"}), 2);
    ASSERT_FALSE(third);
    EXPECT_EQ(third.error().code, "too_many_webhooks");
    EXPECT_EQ(third.error().kind, core::ErrorKind::rate_limited);
    // Another partner's count is its own.
    EXPECT_TRUE(store().create_webhook(subscription("whk_4", "pc_two", {"file.uploaded"}), 2));
}

TEST_P(WebhookStoreConformance, RotationKeepsThePreviousSecretUntilItExpires) {
    subscribe(subscription("whk_a", "pc_one", {"file.uploaded"}));
    auto rotated = store().rotate_webhook_secret("pc_one", "whk_a", "whsec_new", at(86400));
    ASSERT_TRUE(rotated && *rotated);
    EXPECT_EQ((*rotated)->secret, "whsec_new");
    EXPECT_EQ((*rotated)->previous_secret, "whsec_secret_of_whk_a");
    EXPECT_EQ((*rotated)->previous_secret_expires_at, at(86400));
    auto other = store().rotate_webhook_secret("pc_two", "whk_a", "whsec_x", at(1));
    ASSERT_TRUE(other);
    EXPECT_FALSE(*other);
}

TEST_P(WebhookStoreConformance, AStateChangeQueuesItsEventForTheSubscribersThatTakeIt) {
    subscribe(subscription("whk_up", "pc_partner", {"file.uploaded"}));
    subscribe(subscription("whk_abort", "pc_partner", {"upload.aborted"}));
    subscribe(subscription("whk_other", "pc_else", {"file.uploaded"}));
    open_upload(upload("a"));
    const auto e = event("evt_1", "file.uploaded");
    auto done = store().mark_completed("file_a", completion(), &e);
    ASSERT_TRUE(done && *done);

    auto found = store().find_upload("file_a");
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->audio, R"({"Codec":"mp3"})");
    EXPECT_EQ((*found)->audio_problem, "");

    const auto claimed = claim(at(11), "claim-1");
    ASSERT_EQ(claimed.size(), 1u);
    const auto& d = claimed.front();
    EXPECT_EQ(d.subscription.id, "whk_up");
    EXPECT_EQ(d.subscription.secret, "whsec_secret_of_whk_up");
    EXPECT_EQ(d.event.id, "evt_1");
    EXPECT_EQ(d.event.type, "file.uploaded");
    EXPECT_EQ(d.event.client_id, "pc_partner");
    EXPECT_EQ(d.event.data, R"({"FileId":"file_x"})");
    EXPECT_EQ(d.event.object_key, "uploads/x");
    EXPECT_EQ(d.event.created_at, at(10));
    EXPECT_EQ(d.event.request_id, "req_of_evt_1");
    EXPECT_EQ(d.attempt, 1u);
    EXPECT_EQ(d.claim, "claim-1");
}

TEST_P(WebhookStoreConformance, AnEventNoRequestMadeIsDeliveredWithoutARequestId) {
    subscribe(subscription("whk_a", "pc_partner", {"upload.expired"}));
    auto expired = event("evt_swept", "upload.expired");
    expired.request_id.clear();
    ASSERT_TRUE(store().add_event(expired).value());
    const auto claimed = claim(at(11), "c");
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed.front().event.request_id, "");
}

TEST_P(WebhookStoreConformance, AChangeNotMadeWritesNoEvent) {
    subscribe(subscription("whk_all", "pc_partner", {"upload.aborted", "file.deleted"}));
    open_upload(upload("b"));
    const auto aborted = event("evt_2", "upload.aborted");
    auto moved =
        store().transition("file_b", UploadState::completed, UploadState::aborted, &aborted);
    ASSERT_TRUE(moved);
    EXPECT_FALSE(*moved);
    const auto deleted = event("evt_3", "file.deleted");
    ASSERT_TRUE(store().remove_upload("file_missing", &deleted));
    EXPECT_TRUE(claim(at(11), "c").empty());

    auto made = store().transition("file_b", UploadState::open, UploadState::aborted, &aborted);
    ASSERT_TRUE(made && *made);
    ASSERT_TRUE(store().remove_upload("file_b", &deleted));
    std::set<std::string> sent;
    for (const auto& d : claim(at(11), "c2")) sent.insert(d.event.id);
    EXPECT_EQ(sent, (std::set<std::string>{"evt_2", "evt_3"}));
}

TEST_P(WebhookStoreConformance, APingGoesToItsSubscriptionOnly) {
    subscribe(subscription("whk_a", "pc_partner", {"file.uploaded"}));
    subscribe(subscription("whk_b", "pc_partner", {"file.uploaded"}));
    auto ping = event("evt_ping", "webhook.ping");
    ping.only_subscription = "whk_b";
    auto queued = store().add_event(ping);
    ASSERT_TRUE(queued && *queued);
    const auto claimed = claim(at(11), "c");
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed.front().subscription.id, "whk_b");

    ping.id = "evt_ping_nobody";
    ping.only_subscription = "whk_missing";
    auto nobody = store().add_event(ping);
    ASSERT_TRUE(nobody);
    EXPECT_FALSE(*nobody);
}

TEST_P(WebhookStoreConformance, AClaimHoldsUntilItsLeaseEnds) {
    subscribe(subscription("whk_a", "pc_partner", {"file.uploaded"}));
    ASSERT_TRUE(store().add_event(event("evt_1", "file.uploaded")));
    ASSERT_EQ(claim(at(11), "first").size(), 1u);
    EXPECT_TRUE(claim(at(12), "second").empty());
    // The first claimer died: once its lease is over the delivery is claimed again.
    const auto again = claim(at(11) + kLease + milliseconds(1), "second");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again.front().attempt, 1u);

    DeliveryAttempt late{"evt_1", "file.uploaded", "whk_a", 1, 200, "", at(50), std::nullopt};
    auto lost = store().record_delivery_attempt(late, "first", true);
    ASSERT_TRUE(lost);
    EXPECT_FALSE(*lost) << "a claim whose lease ended records nothing";
    auto kept = store().record_delivery_attempt(late, "second", true);
    ASSERT_TRUE(kept);
    EXPECT_TRUE(*kept);
}

TEST_P(WebhookStoreConformance, AFailedAttemptIsRetriedWhenDueAndListed) {
    subscribe(subscription("whk_a", "pc_partner", {"file.uploaded"}));
    ASSERT_TRUE(store().add_event(event("evt_1", "file.uploaded")));
    ASSERT_EQ(claim(at(11), "c1").size(), 1u);
    DeliveryAttempt failed{
        "evt_1", "file.uploaded", "whk_a", 1, 500, "the receiver answered HTTP 500, not 2xx",
        at(12),  at(42)};
    ASSERT_TRUE(store().record_delivery_attempt(failed, "c1", false).value());

    EXPECT_TRUE(claim(at(41), "c2").empty()) << "not due yet";
    const auto retry = claim(at(42), "c3");
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(retry.front().attempt, 2u);
    DeliveryAttempt delivered{"evt_1", "file.uploaded", "whk_a", 2, 204, "", at(43), std::nullopt};
    ASSERT_TRUE(store().record_delivery_attempt(delivered, "c3", true).value());
    EXPECT_TRUE(claim(at(100'000), "c4").empty()) << "delivered is done";

    auto listed = store().list_delivery_attempts("whk_a", 10);
    ASSERT_TRUE(listed) << listed.error().message;
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].attempt, 2u);
    EXPECT_EQ((*listed)[0].status, 204);
    EXPECT_EQ((*listed)[0].error, "");
    EXPECT_FALSE((*listed)[0].next_attempt_at);
    EXPECT_EQ((*listed)[1].attempt, 1u);
    EXPECT_EQ((*listed)[1].status, 500);
    EXPECT_EQ((*listed)[1].event_type, "file.uploaded");
    EXPECT_EQ((*listed)[1].error, "the receiver answered HTTP 500, not 2xx");
    EXPECT_EQ((*listed)[1].attempted_at, at(12));
    EXPECT_EQ((*listed)[1].next_attempt_at, at(42));
}

TEST_P(WebhookStoreConformance, AnAttemptWithoutARetryFailsForGood) {
    subscribe(subscription("whk_a", "pc_partner", {"file.uploaded"}));
    ASSERT_TRUE(store().add_event(event("evt_1", "file.uploaded")));
    ASSERT_EQ(claim(at(11), "c1").size(), 1u);
    DeliveryAttempt last{"evt_1", "file.uploaded",      "whk_a", 1,
                         0,       "connection refused", at(12),  std::nullopt};
    ASSERT_TRUE(store().record_delivery_attempt(last, "c1", false).value());
    EXPECT_TRUE(claim(at(100'000), "c2").empty());
    // Finished and old: forgotten with its event and attempts.
    auto forgotten = store().forget_webhook_history(at(11));
    ASSERT_TRUE(forgotten) << forgotten.error().message;
    EXPECT_EQ(*forgotten, 1u);
    EXPECT_TRUE(store().list_delivery_attempts("whk_a", 10).value().empty());
}

TEST_P(WebhookStoreConformance, EightReplicasClaimingAtOnceSendEachDeliveryOnce) {
    subscribe(subscription("whk_a", "pc_partner", {"file.uploaded"}));
    constexpr int kEvents = 50;
    for (int i = 0; i < kEvents; ++i) {
        ASSERT_TRUE(store().add_event(event("evt_" + std::to_string(i), "file.uploaded")));
    }
    constexpr int kReplicas = 8;
    std::vector<std::unique_ptr<MetadataStore>> replicas;
    for (int i = 0; i < kReplicas; ++i) {
        auto s = backend().connect();
        ASSERT_TRUE(s) << s.error().message;
        replicas.push_back(std::move(*s));
    }
    std::vector<std::vector<std::string>> got(kReplicas);
    std::latch start(kReplicas);
    std::vector<std::thread> threads;
    for (int i = 0; i < kReplicas; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            // Small batches, until nothing is left: replicas interleave.
            for (int round = 0; round < kEvents; ++round) {
                auto claimed = replicas[static_cast<std::size_t>(i)]->claim_deliveries(
                    at(11), kLease, 3,
                    "replica-" + std::to_string(i) + "-" + std::to_string(round));
                if (!claimed) {
                    ADD_FAILURE() << claimed.error().message;
                    return;
                }
                if (claimed->empty()) return;
                for (const auto& d : *claimed)
                    got[static_cast<std::size_t>(i)].push_back(d.event.id);
            }
        });
    }
    for (auto& t : threads) t.join();
    std::multiset<std::string> all;
    for (const auto& ids : got) all.insert(ids.begin(), ids.end());
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kEvents));
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(),
              static_cast<std::size_t>(kEvents));
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, WebhookStoreConformance, ::testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace audiodrop::metadata::conformance
