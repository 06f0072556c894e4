#include "server/sweeper.hpp"

namespace audiodrop::server {
namespace {
constexpr std::size_t kBatch = 500;
}

Sweeper::Sweeper(upload::UploadService& uploads, std::chrono::seconds interval, core::Logger logger)
    : uploads_(uploads),
      interval_(interval),
      logger_(std::move(logger)),
      thread_([this] { run(); }) {}

Sweeper::~Sweeper() { stop(); }

void Sweeper::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

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

void Sweeper::run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
        lock.unlock();
        sweep("expired_uploads", [this] { return uploads_.sweep_expired(kBatch); });
        sweep("purged_uploads", [this] { return uploads_.purge_abandoned(kBatch); });
        lock.lock();
    }
}

}  // namespace audiodrop::server
