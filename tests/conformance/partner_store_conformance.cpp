// The partner administration part of the MetadataStore contract: listing with what each
// partner holds, disabling, replacing the secret, and deleting a partner with or
// without its uploads.

#include <algorithm>

#include "conformance/metadata_store_conformance.hpp"

namespace audiodrop::metadata::conformance {
namespace {

core::TimePoint at(std::int64_t seconds_after_base) {
    return core::from_unix(1'700'000'000 + seconds_after_base);
}

constexpr const char* kHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA";

Partner partner(const std::string& client_id, std::int64_t created = 0) {
    return Partner{client_id, "Partner " + client_id, "us", kHash, at(created)};
}

void expect_not_found(const core::Error& e) {
    EXPECT_EQ(e.kind, core::ErrorKind::not_found) << e.message;
    EXPECT_EQ(e.code, "partner_not_found");
}

class PartnerStoreConformance : public MetadataStoreConformance {
  protected:
    // Partner `client_id` holding an open upload, a completed file and an aborted upload
    // named after it.
    void partner_with_uploads(const std::string& client_id) {
        ASSERT_TRUE(store().create_partner(partner(client_id)));
        for (const char* kind : {"open", "done", "gone"}) {
            auto made =
                store().create_upload(sample_upload(client_id + kind, client_id), UploadQuota(100));
            ASSERT_TRUE(made) << made.error().message;
        }
        const Completion done{"md5", "digest", at(5), "", ""};
        ASSERT_TRUE(store().mark_completed("file_" + client_id + "done", done, nullptr).value());
        ASSERT_TRUE(store()
                        .transition("file_" + client_id + "gone", UploadState::open,
                                    UploadState::aborted, nullptr)
                        .value());
    }

    std::int64_t generation_known_for(const std::string& client_id) {
        auto generations = store().revoked_token_generations();
        EXPECT_TRUE(generations) << generations.error().message;
        if (!generations) return -1;
        for (const auto& [id, generation] : *generations) {
            if (id == client_id) return generation;
        }
        return 0;
    }
};

TEST_P(PartnerStoreConformance, ListedPartnersComeOldestFirstWithWhatTheyHold) {
    partner_with_uploads("pc_old");
    ASSERT_TRUE(store().create_partner(partner("pc_new", 60)));
    auto listed = store().list_partners();
    ASSERT_TRUE(listed) << listed.error().message;
    ASSERT_EQ(listed->size(), 2u);
    const PartnerListing& old = (*listed)[0];
    EXPECT_EQ(old.partner.client_id, "pc_old");
    EXPECT_EQ(old.partner.name, "Partner pc_old");
    EXPECT_EQ(old.partner.created_at, at(0));
    EXPECT_FALSE(old.partner.disabled_at);
    EXPECT_EQ(old.holdings.open_uploads, 1u);
    EXPECT_EQ(old.holdings.files, 1u);
    EXPECT_EQ((*listed)[1].partner.client_id, "pc_new");
    EXPECT_EQ((*listed)[1].holdings.open_uploads, 0u);
    EXPECT_EQ((*listed)[1].holdings.files, 0u);

    auto held = store().count_partner_holdings("pc_old");
    ASSERT_TRUE(held) << held.error().message;
    EXPECT_EQ(held->open_uploads, 1u);
    EXPECT_EQ(held->files, 1u);
    EXPECT_EQ(store().count_partner_holdings("pc_nobody").value().files, 0u);
}

TEST_P(PartnerStoreConformance, DisablingRevokesTokensAndKeepsTheFirstTime) {
    ASSERT_TRUE(store().create_partner(partner("pc_off")));
    ASSERT_TRUE(store().add_refresh_token({"h_off", "pc_off", at(3600), 0}));
    auto first = store().disable_partner("pc_off", at(10));
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(*first, 1);
    EXPECT_FALSE(store().find_refresh_token("h_off", at(0)).value());
    EXPECT_EQ(store().disable_partner("pc_off", at(20)).value(), 2);
    auto found = store().find_partner("pc_off").value();
    ASSERT_TRUE(found);
    EXPECT_EQ(found->disabled_at, at(10));
    EXPECT_EQ(found->token_generation, 2);
    EXPECT_EQ(generation_known_for("pc_off"), 2);

    ASSERT_TRUE(store().enable_partner("pc_off"));
    found = store().find_partner("pc_off").value();
    ASSERT_TRUE(found);
    EXPECT_FALSE(found->disabled_at);
    EXPECT_EQ(found->token_generation, 2);  // what was revoked stays revoked
}

TEST_P(PartnerStoreConformance, ReplacingTheSecretRevokesTokens) {
    ASSERT_TRUE(store().create_partner(partner("pc_rot")));
    ASSERT_TRUE(store().create_partner(partner("pc_other")));
    ASSERT_TRUE(store().add_refresh_token({"h_rot", "pc_rot", at(3600), 0}));
    ASSERT_TRUE(store().add_refresh_token({"h_other", "pc_other", at(3600), 0}));
    auto replaced = store().replace_partner_secret("pc_rot", "$argon2id$new");
    ASSERT_TRUE(replaced) << replaced.error().message;
    EXPECT_EQ(*replaced, 1);
    auto found = store().find_partner("pc_rot").value();
    ASSERT_TRUE(found);
    EXPECT_EQ(found->secret_hash, "$argon2id$new");
    EXPECT_FALSE(found->disabled_at);
    EXPECT_FALSE(store().find_refresh_token("h_rot", at(0)).value());
    EXPECT_TRUE(store().find_refresh_token("h_other", at(0)).value());
    EXPECT_EQ(store().find_partner("pc_other").value()->secret_hash, kHash);
}

TEST_P(PartnerStoreConformance, AdministeringAnUnknownPartnerIsNotFound) {
    expect_not_found(store().disable_partner("pc_nobody", at(0)).error());
    expect_not_found(store().enable_partner("pc_nobody").error());
    expect_not_found(store().replace_partner_secret("pc_nobody", kHash).error());
    expect_not_found(store().delete_partner("pc_nobody", at(0), true).error());
}

TEST_P(PartnerStoreConformance, DeletingAPartnerThatHoldsUploadsIsRefusedAndChangesNothing) {
    partner_with_uploads("pc_busy");
    ASSERT_TRUE(store().add_refresh_token({"h_busy", "pc_busy", at(3600), 0}));
    auto refused = store().delete_partner("pc_busy", at(100), false);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, core::ErrorKind::conflict);
    EXPECT_EQ(refused.error().code, "partner_has_uploads");
    EXPECT_NE(refused.error().message.find("1 files and 1 open uploads"), std::string::npos)
        << refused.error().message;
    EXPECT_TRUE(store().find_partner("pc_busy").value());
    EXPECT_TRUE(store().find_refresh_token("h_busy", at(0)).value());
    EXPECT_EQ(store().find_upload("file_pc_busyopen").value()->state, UploadState::open);
    EXPECT_EQ(generation_known_for("pc_busy"), 0);
}

TEST_P(PartnerStoreConformance, APartnerWithoutUploadsIsDeletedAndItsTokensRefusedForGood) {
    ASSERT_TRUE(store().create_partner(partner("pc_empty")));
    ASSERT_TRUE(store().add_refresh_token({"h_empty", "pc_empty", at(3600), 0}));
    auto deleted = store().delete_partner("pc_empty", at(100), false);
    ASSERT_TRUE(deleted) << deleted.error().message;
    EXPECT_EQ(deleted->files, 0u);
    EXPECT_FALSE(store().find_partner("pc_empty").value());
    EXPECT_FALSE(store().find_refresh_token("h_empty", at(0)).value());
    EXPECT_TRUE(store().list_partners().value().empty());
    EXPECT_EQ(generation_known_for("pc_empty"), kDeletedPartnerGeneration);
    expect_not_found(store().delete_partner("pc_empty", at(200), false).error());
}

TEST_P(PartnerStoreConformance, DeletingWithUploadsLeavesThemToThePurgeAndForgetsWebhooks) {
    partner_with_uploads("pc_gone");
    partner_with_uploads("pc_kept");
    for (const std::string client_id : {"pc_gone", "pc_kept"}) {
        WebhookSubscription s;
        s.id = "wh_" + client_id;
        s.client_id = client_id;
        s.url = "https://hooks.example.com/" + client_id;
        s.events = {"file.deleted"};
        s.secret = "whsec_" + client_id;
        s.created_at = at(0);
        ASSERT_TRUE(store().create_webhook(s, 10));
        // An event with a pending delivery, to go with the subscription.
        OutboxEvent e;
        e.id = "evt_" + client_id;
        e.client_id = client_id;
        e.type = "file.deleted";
        e.data = "{}";
        e.created_at = at(1);
        ASSERT_TRUE(store().add_event(e).value());
    }

    auto deleted = store().delete_partner("pc_gone", at(100), true);
    ASSERT_TRUE(deleted) << deleted.error().message;
    EXPECT_EQ(deleted->files, 1u);
    EXPECT_EQ(deleted->open_uploads, 1u);
    EXPECT_FALSE(store().find_partner("pc_gone").value());
    EXPECT_TRUE(store().list_webhooks("pc_gone").value().empty());
    EXPECT_EQ(store().list_webhooks("pc_kept").value().size(), 1u);
    EXPECT_EQ(store().count_partner_holdings("pc_gone").value().open_uploads, 0u);
    // Every upload of it, and only those, comes first to the purge, whatever its expiry.
    auto abandoned = store().find_abandoned(3);
    ASSERT_TRUE(abandoned) << abandoned.error().message;
    ASSERT_EQ(abandoned->size(), 3u);
    for (const auto& u : *abandoned) {
        EXPECT_EQ(u.client_id, "pc_gone") << u.file_id;
        EXPECT_EQ(u.state, UploadState::aborted) << u.file_id;
    }
    EXPECT_EQ(store().find_upload("file_pc_keptdone").value()->state, UploadState::completed);
    // Only the kept partner's delivery is left to claim.
    auto claimed = store().claim_deliveries(at(2), std::chrono::seconds(30), 10, "claim");
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().subscription.client_id, "pc_kept");
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, PartnerStoreConformance, ::testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace audiodrop::metadata::conformance
