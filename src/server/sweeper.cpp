#include "server/sweeper.hpp"

namespace audiodrop::server {
namespace {
constexpr std::size_t kBatch = 500;
}

Sweeper::Sweeper(upload::UploadService& uploads, events::WebhookService& webhooks,
                 std::chrono::seconds interval, core::Logger logger)
    : uploads_(uploads),
      webhooks_(webhooks),
      logger_(std::move(logger)),
      task_(interval, [this] { sweep_once(); }) {}

template <class Step>
void Sweeper::sweep(const char* what, Step step) {
    // Batch after batch until one comes back short: a backlog drains in one round.
    for (;;) {
        auto swept = step();
        if (!swept) {
            logger_->warn({{"msg", "sweep failed"},
                           {"code", swept.error().code},
                           {"error", swept.error().message}});
            return;
        }
        if (*swept > 0) logger_->info({{"msg", "swept"}, {what, *swept}});
        if (*swept < kBatch) return;
    }
}

void Sweeper::sweep_once() {
    sweep("expired_uploads", [this] { return uploads_.sweep_expired(kBatch); });
    sweep("purged_uploads", [this] { return uploads_.purge_abandoned(kBatch); });
    sweep("forgotten_deliveries", [this] { return webhooks_.forget_history(); });
}

}  // namespace audiodrop::server
