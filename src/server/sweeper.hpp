#pragma once

#include <chrono>

#include "core/log.hpp"
#include "core/periodic_task.hpp"
#include "events/webhook_service.hpp"
#include "upload/upload_service.hpp"

namespace audiodrop::server {

// Every `interval`, on its own thread until stop(): expires open uploads past their
// expiry, purges aborted and expired ones past their retention, and forgets finished
// webhook deliveries past theirs.
class Sweeper {
  public:
    Sweeper(upload::UploadService& uploads, events::WebhookService& webhooks,
            std::chrono::seconds interval, core::Logger logger);
    void stop() { task_.stop(); }

  private:
    void sweep_once();
    template <class Step>
    void sweep(const char* what, Step step);

    upload::UploadService& uploads_;
    events::WebhookService& webhooks_;
    core::Logger logger_;
    core::PeriodicTask task_;  // last: its first step may come before the constructor ends
};

}  // namespace audiodrop::server
