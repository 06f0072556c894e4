#include "upload_pass.hpp"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "api_call.hpp"
#include "core/hashing.hpp"
#include "http_session.hpp"
#include "retry.hpp"

namespace audiodrop::client {
namespace {

// State the workers share; the lock order is read_mutex, then report_mutex.
struct Pass {
    Pass(const ClientOptions& c, const UploadOptions& o, const Plan& p, std::ifstream& i)
        : client_options(c), options(o), plan(p), in(i) {}

    const ClientOptions& client_options;
    const UploadOptions& options;
    const Plan& plan;
    std::ifstream& in;

    std::mutex read_mutex;
    std::uint32_t next_part = 1;
    core::Md5 whole;

    std::mutex report_mutex;
    std::vector<std::string> etags;  // quoted, index 0 is part 1
    std::optional<Error> error;
    std::atomic<bool> failed{false};
    UploadProgress progress;
    std::uint64_t completed_bytes = 0;
    std::vector<std::uint64_t> in_flight;  // bytes sent of each worker's current part
    std::uint32_t sent = 0;
    std::uint32_t skipped = 0;

    std::uint32_t part_count() const {
        return static_cast<std::uint32_t>(plan.journal.part_urls.size());
    }

    void fail(Error e) {
        std::lock_guard lock(report_mutex);
        if (!error) error = std::move(e);
        failed = true;
    }

    // Progress is a high-water mark: a retried part sends its bytes again without
    // moving the total back.
    void report_locked() {
        std::uint64_t bytes = completed_bytes;
        for (const auto b : in_flight) bytes += b;
        progress.bytes_done = std::max(progress.bytes_done, std::min(bytes, progress.bytes_total));
        if (options.on_progress) options.on_progress(progress);
    }

    void part_sending(std::size_t worker, std::uint64_t bytes) {
        std::lock_guard lock(report_mutex);
        // curl reports often; a step of 256 KiB is plenty for a progress bar.
        if (bytes < in_flight[worker] + 256 * 1024) return;
        in_flight[worker] = bytes;
        report_locked();
    }

    void finish_part(std::size_t worker, std::uint32_t n, std::size_t bytes, std::string etag,
                     bool was_sent) {
        std::lock_guard lock(report_mutex);
        etags[n - 1] = std::move(etag);
        (was_sent ? sent : skipped) += 1;
        completed_bytes += bytes;
        in_flight[worker] = 0;
        progress.parts_done += 1;
        report_locked();
    }

    void work(std::size_t worker) {
        HttpSession session(client_options);
        std::mt19937_64 rng(std::random_device{}());
        std::string buffer;
        buffer.reserve(plan.journal.chunk_size);
        while (!failed) {
            if (options.cancel != nullptr && options.cancel->load()) {
                fail(Error{ErrorKind::cancelled, 0, "cancelled", "upload cancelled"});
                return;
            }
            std::uint32_t n = 0;
            {
                std::lock_guard lock(read_mutex);
                if (next_part > part_count() || failed) return;
                n = next_part++;
                const auto offset = static_cast<std::uint64_t>(n - 1) * plan.journal.chunk_size;
                const auto size = std::min(plan.journal.chunk_size, plan.journal.size - offset);
                buffer.resize(size);
                in.read(buffer.data(), static_cast<std::streamsize>(size));
                if (static_cast<std::uint64_t>(in.gcount()) != size) {
                    fail(Error{ErrorKind::io, 0, "read_failed",
                               "could not read part " + std::to_string(n) + " of " +
                                   plan.journal.path + " (did it shrink?)"});
                    return;
                }
                whole.update(std::string_view(buffer));
            }
            const auto digest = core::md5(buffer);
            const auto hex = core::to_hex(digest);
            const auto known = plan.on_server.find(n);
            if (known != plan.on_server.end() && known->second == hex) {
                finish_part(worker, n, buffer.size(), "\"" + hex + "\"", false);
                continue;
            }
            HttpRequest put;
            put.method = "PUT";
            put.url = plan.journal.part_urls[n - 1];
            put.body = buffer;
            put.cancel = options.cancel;
            put.on_sent = [this, worker](std::uint64_t bytes) { part_sending(worker, bytes); };
            put.headers = {"Content-MD5: " + core::base64_encode(digest),
                           "Content-Type: application/octet-stream"};
            auto response =
                perform_with_retry(session, put, client_options.retry, rng, options.cancel);
            if (!response) {
                fail(response.error());
                return;
            }
            if (response->status != 200) {
                auto e = error_from_response(*response);
                e.message = "part " + std::to_string(n) + ": " + e.message;
                fail(std::move(e));
                return;
            }
            const auto etag = response->headers.find("etag");
            if (etag == response->headers.end() || unquote(etag->second) != hex) {
                fail(Error{ErrorKind::verification, 200, "etag_mismatch",
                           "part " + std::to_string(n) + ": the server's ETag " +
                               (etag == response->headers.end() ? "(none)" : etag->second) +
                               " is not the part's MD5 " + hex});
                return;
            }
            finish_part(worker, n, buffer.size(), "\"" + hex + "\"", true);
        }
    }
};

}  // namespace

// Reads the file once and sends every part the server does not hold yet.
Result<PassOutcome> run_pass(const ClientOptions& client_options, const UploadOptions& options,
                             const Plan& plan) {
    std::ifstream in(plan.journal.path, std::ios::binary);
    if (!in) return Error{ErrorKind::io, 0, "read_failed", "cannot open " + plan.journal.path};
    Pass pass{client_options, options, plan, in};
    pass.etags.resize(pass.part_count());
    pass.progress.bytes_total = plan.journal.size;
    pass.progress.parts_total = pass.part_count();
    const auto workers = std::min(
        static_cast<std::uint32_t>(std::clamp<int>(options.parallel, 1, 64)), pass.part_count());
    pass.in_flight.resize(workers);
    {
        std::vector<std::jthread> threads;
        for (std::uint32_t i = 0; i < workers; ++i) {
            threads.emplace_back([&pass, i] { pass.work(i); });
        }
    }
    if (pass.error) return *pass.error;
    return PassOutcome{core::to_hex(pass.whole.finish()), std::move(pass.etags), pass.sent,
                       pass.skipped};
}

}  // namespace audiodrop::client
