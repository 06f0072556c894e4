#include "core/buffered_stderr_sink.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>

namespace audiodrop::core {

BufferedStderrSink::BufferedStderrSink() : writer_([this] { run(); }) {}

BufferedStderrSink::~BufferedStderrSink() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    writer_.join();
}

void BufferedStderrSink::sink_it_(const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    if (pending_.size() + line.size() > kMaxPending) {
        ++dropped_;
        return;
    }
    pending_.append(line.data(), line.size());
    if (pending_.size() >= kWakeAt || msg.level >= spdlog::level::warn) wake_.notify_one();
}

std::string BufferedStderrSink::take_pending() {
    std::string out;
    out.swap(pending_);
    if (dropped_ > 0) {
        out += "level=warn msg=\"log lines dropped: stderr was too slow\" dropped=" +
               std::to_string(dropped_) + "\n";
        dropped_ = 0;
    }
    return out;
}

void BufferedStderrSink::flush_() {
    // base_sink holds mutex_ here: write under it, so flush() returns with all written,
    // after whatever the writer thread took before.
    std::lock_guard writing(writer_mutex_);
    write_out(take_pending());
}

void BufferedStderrSink::write_out(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(STDERR_FILENO, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nowhere to log to: nothing better to do
        done += static_cast<std::size_t>(n);
    }
}

void BufferedStderrSink::run() {
    pthread_setname_np(pthread_self(), "log");
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait_for(lock, kInterval, [this] { return stopping_ || pending_.size() >= kWakeAt; });
        std::string out = take_pending();
        const bool last = stopping_;
        // Taken before mutex_ is let go: a flush cannot write newer lines ahead of these.
        std::unique_lock writing(writer_mutex_);
        lock.unlock();
        write_out(out);
        if (last) return;
        writing.unlock();  // before mutex_: flush_ takes the two in that order
        lock.lock();
    }
}

}  // namespace audiodrop::core
