#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/log.hpp"
#include "upload/upload_service.hpp"

namespace audiodrop::server {

// Runs UploadService::sweep_expired every `interval` on its own thread until stop().
class Sweeper {
  public:
    Sweeper(upload::UploadService& uploads, std::chrono::seconds interval, core::Logger logger);
    ~Sweeper();
    void stop();

  private:
    void run();

    upload::UploadService& uploads_;
    std::chrono::seconds interval_;
    core::Logger logger_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace audiodrop::server
