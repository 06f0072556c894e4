#include "events/webhook_service.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "conformance/temp_dir.hpp"
#include "core/request_context.hpp"
#include "events/event_dispatcher.hpp"
#include "metadata/sqlite_metadata_store.hpp"
#include "unit/storage/local_store_fixture.hpp"

namespace audiodrop::events {
namespace {

using core::ErrorKind;

constexpr auto kUrl = "http://127.0.0.1:9/hooks";

class WebhookServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto opened = metadata::SqliteMetadataStore::open(dir_.file("metadata.db"));
        ASSERT_TRUE(opened.has_value()) << opened.error().message;
        metadata_ = std::move(*opened);
        WebhookOptions o;
        o.policy = {true, true};  // loopback receivers, as in development
        o.max_per_partner = 2;
        service_ = std::make_unique<WebhookService>(*metadata_, clock_, o, [this] { ++wakes_; });
    }

    metadata::WebhookSubscription created(const std::string& client_id = "pc_a") {
        auto made = service_->create(client_id, kUrl, {"file.uploaded"}, "intake");
        EXPECT_TRUE(made.has_value()) << made.error().message;
        return made ? *made : metadata::WebhookSubscription{};
    }

    test_support::TempDir dir_;
    storage::test_support::FakeClock clock_;
    std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
    std::unique_ptr<WebhookService> service_;
    int wakes_ = 0;
};

void expect_error(const core::Error& e, ErrorKind kind, const std::string& code) {
    EXPECT_EQ(e.kind, kind) << e.message;
    EXPECT_EQ(e.code, code) << e.message;
}

TEST_F(WebhookServiceTest, CreateMintsAnIdAndASecretAndKeepsEventsOnce) {
    auto made =
        service_->create("pc_a", kUrl, {"file.uploaded", "upload.aborted", "file.uploaded"}, "");
    ASSERT_TRUE(made.has_value()) << made.error().message;
    EXPECT_TRUE(made->id.starts_with("whk_"));
    EXPECT_TRUE(made->secret.starts_with("whsec_"));
    EXPECT_EQ(made->events, (std::vector<std::string>{"file.uploaded", "upload.aborted"}));
    EXPECT_EQ(service_->get("pc_a", made->id).value().secret, made->secret);
}

TEST_F(WebhookServiceTest, BadSubscriptionsAreRefusedWithTheirReason) {
    expect_error(service_->create("pc_a", kUrl, {}, "").error(), ErrorKind::invalid_input,
                 "invalid_events");
    expect_error(service_->create("pc_a", kUrl, {"webhook.ping"}, "").error(),
                 ErrorKind::invalid_input, "invalid_events");
    expect_error(service_->create("pc_a", "ftp://127.0.0.1/", {"file.deleted"}, "").error(),
                 ErrorKind::invalid_input, "invalid_webhook_url");
    expect_error(service_->create("pc_a", kUrl, {"file.deleted"}, std::string(257, 'x')).error(),
                 ErrorKind::invalid_input, "invalid_description");
    created();
    created();
    expect_error(service_->create("pc_a", kUrl, {"file.deleted"}, "").error(),
                 ErrorKind::rate_limited, "too_many_webhooks");
}

TEST_F(WebhookServiceTest, AnotherPartnersSubscriptionIsNotFound) {
    const auto mine = created("pc_a");
    expect_error(service_->get("pc_b", mine.id).error(), ErrorKind::not_found, "webhook_not_found");
    expect_error(service_->remove("pc_b", mine.id).error(), ErrorKind::not_found,
                 "webhook_not_found");
    expect_error(service_->rotate_secret("pc_b", mine.id).error(), ErrorKind::not_found,
                 "webhook_not_found");
    expect_error(service_->ping("pc_b", mine.id).error(), ErrorKind::not_found,
                 "webhook_not_found");
    expect_error(service_->deliveries("pc_b", mine.id).error(), ErrorKind::not_found,
                 "webhook_not_found");
    expect_error(service_->get("pc_a", std::string("whk_\0x", 6)).error(), ErrorKind::not_found,
                 "webhook_not_found");
    EXPECT_TRUE(service_->remove("pc_a", mine.id).has_value());
    expect_error(service_->get("pc_a", mine.id).error(), ErrorKind::not_found, "webhook_not_found");
}

TEST_F(WebhookServiceTest, RotationKeepsTheOldSecretSigningForADay) {
    const auto before = created();
    auto rotated = service_->rotate_secret("pc_a", before.id);
    ASSERT_TRUE(rotated.has_value());
    EXPECT_NE(rotated->secret, before.secret);
    EXPECT_EQ(rotated->previous_secret, before.secret);
    EXPECT_EQ(rotated->previous_secret_expires_at, clock_.now() + std::chrono::hours(24));
}

TEST_F(WebhookServiceTest, APingIsQueuedForItsSubscriptionAndWakesTheDispatcher) {
    const auto target = created();
    created();
    auto ping = service_->ping("pc_a", target.id);
    ASSERT_TRUE(ping.has_value()) << ping.error().message;
    EXPECT_TRUE(ping->starts_with("evt_"));
    EXPECT_EQ(wakes_, 1);
    auto claimed = metadata_->claim_deliveries(clock_.now(), std::chrono::seconds(30), 10, "c");
    ASSERT_TRUE(claimed.has_value());
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().subscription.id, target.id);
    EXPECT_EQ(claimed->front().event.type, "webhook.ping");
    EXPECT_EQ(nlohmann::json::parse(claimed->front().event.data)["WebhookId"], target.id);
}

TEST_F(WebhookServiceTest, APingRemembersTheRequestThatAskedForIt) {
    const auto target = created();
    {
        const core::RequestScope request("req_ping-1");
        ASSERT_TRUE(service_->ping("pc_a", target.id));
    }
    auto claimed = metadata_->claim_deliveries(clock_.now(), std::chrono::seconds(30), 10, "c");
    ASSERT_TRUE(claimed.has_value());
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().event.request_id, "req_ping-1");
}

TEST(DeliveryBody, CarriesTheEventAndAFreshDownloadUrlForFiles) {
    metadata::OutboxEvent e;
    e.id = "evt_1";
    e.type = "file.uploaded";
    e.data = R"({"FileId":"file_1"})";
    e.created_at = core::from_unix(1'750'000'000);
    const auto body = nlohmann::json::parse(
        EventDispatcher::delivery_body(e, "http://storage/x?sig", core::from_unix(1'750'086'400)));
    EXPECT_EQ(body["id"], "evt_1");
    EXPECT_EQ(body["event"], "file.uploaded");
    EXPECT_EQ(body["created_at"], "2025-06-15T15:06:40Z");
    EXPECT_EQ(body["data"]["FileId"], "file_1");
    EXPECT_EQ(body["data"]["DownloadUrl"], "http://storage/x?sig");
    EXPECT_EQ(body["data"]["DownloadUrlExpiresAt"], "2025-06-16T15:06:40Z");
    // Without a file, no URL.
    e.type = "webhook.ping";
    const auto ping = nlohmann::json::parse(EventDispatcher::delivery_body(e, "", {}));
    EXPECT_FALSE(ping["data"].contains("DownloadUrl"));
}

}  // namespace
}  // namespace audiodrop::events
