#include "interrupt_watcher.hpp"

#include <unistd.h>

namespace audiodrop::cli {
namespace {
// Wakes the watcher when it is time to stop; sent only to the watcher thread.
constexpr int kStopSignal = SIGUSR1;
constexpr int kInterruptedExit = 130;  // 128 + SIGINT, what shells report
}  // namespace

InterruptWatcher::InterruptWatcher() {
    sigemptyset(&watched_);
    sigaddset(&watched_, SIGINT);
    sigaddset(&watched_, SIGTERM);
    sigaddset(&watched_, kStopSignal);
    pthread_sigmask(SIG_BLOCK, &watched_, &previous_);
    thread_ = std::thread([this] { watch(); });
}

InterruptWatcher::~InterruptWatcher() {
    pthread_kill(thread_.native_handle(), kStopSignal);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

void InterruptWatcher::watch() {
    for (;;) {
        int signal = 0;
        if (sigwait(&watched_, &signal) != 0 || signal == kStopSignal) return;
        if (raised_.exchange(true)) _exit(kInterruptedExit);
    }
}

}  // namespace audiodrop::cli
