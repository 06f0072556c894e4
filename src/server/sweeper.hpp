#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/log.hpp"
#include "upload/upload_service.hpp"

namespace audiodrop::server {

// Every `interval`, on its own thread until stop(): expires open uploads past their
// expiry and purges aborted and expired ones past their retention.
class Sweeper {
  public:
    Sweeper(upload::UploadService& uploads, std::chrono::seconds interval, core::Logger logger);
    ~Sweeper();
    void stop();

  private:
    void run();
    template <class Step>
    void sweep(const char* what, Step step);

    upload::UploadService& uploads_;
    std::chrono::seconds interval_;
    core::Logger logger_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace audiodrop::server
