#include "upload_pass.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
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

constexpr std::size_t kReadBytes = 1024 * 1024;

// The file, read at offsets from any thread.
class SourceFile {
  public:
    explicit SourceFile(const std::string& path)
        : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
    ~SourceFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    SourceFile(const SourceFile&) = delete;
    SourceFile& operator=(const SourceFile&) = delete;
    bool is_open() const { return fd_ >= 0; }

    // Up to out.size() bytes at `offset`; 0 at the end or on an error.
    std::size_t read(std::uint64_t offset, std::span<char> out) const {
        for (;;) {
            const ssize_t n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) return 0;
        }
    }

    // Feeds `length` bytes at `offset` to `md5`; false if the file ends or fails first.
    bool hash(std::uint64_t offset, std::uint64_t length, core::Md5& md5,
              const std::atomic<bool>& stop) const {
        auto buffer = std::make_unique_for_overwrite<char[]>(kReadBytes);
        while (length > 0 && !stop) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadBytes, length));
            const std::size_t got = read(offset, std::span<char>(buffer.get(), want));
            if (got == 0) return false;
            md5.update(std::string_view(buffer.get(), got));
            offset += got;
            length -= got;
        }
        return length == 0;
    }

  private:
    int fd_;
};

// State the workers share.
struct Pass {
    Pass(const ClientOptions& c, const UploadOptions& o, const Plan& p, const SourceFile& f)
        : client_options(c), options(o), plan(p), file(f) {}

    const ClientOptions& client_options;
    const UploadOptions& options;
    const Plan& plan;
    const SourceFile& file;

    std::atomic<std::uint32_t> next_part{1};
    std::atomic<bool> failed{false};

    std::mutex report_mutex;
    std::vector<std::string> etags;  // quoted, index 0 is part 1
    std::optional<Error> error;
    UploadProgress progress;
    std::uint64_t completed_bytes = 0;
    std::vector<std::uint64_t> in_flight;  // bytes sent of each worker's current part
    std::uint32_t sent = 0;
    std::uint32_t skipped = 0;

    std::uint32_t part_count() const {
        return static_cast<std::uint32_t>(plan.journal.part_urls.size());
    }
    std::uint64_t offset_of(std::uint32_t n) const {
        return static_cast<std::uint64_t>(n - 1) * plan.journal.chunk_size;
    }
    std::uint64_t size_of(std::uint32_t n) const {
        return std::min(plan.journal.chunk_size, plan.journal.size - offset_of(n));
    }

    void fail(Error e) {
        std::lock_guard lock(report_mutex);
        if (!error) error = std::move(e);
        failed = true;
    }

    Error read_failed(std::string_view what) const {
        return Error{ErrorKind::io, 0, "read_failed",
                     "could not read " + std::string(what) + " of " + plan.journal.path +
                         " (did it shrink?)"};
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

    void finish_part(std::size_t worker, std::uint32_t n, std::string etag, bool was_sent) {
        std::lock_guard lock(report_mutex);
        etags[n - 1] = std::move(etag);
        (was_sent ? sent : skipped) += 1;
        completed_bytes += size_of(n);
        in_flight[worker] = 0;
        progress.parts_done += 1;
        report_locked();
    }

    // The whole-file MD5, read in order; runs beside the workers.
    std::optional<std::string> hash_whole() {
        core::Md5 md5;
        if (!file.hash(0, plan.journal.size, md5, failed)) {
            if (!failed) fail(read_failed("the file"));
            return std::nullopt;
        }
        return core::to_hex(md5.digest());
    }

    // The server has part `n` from an earlier attempt: is it these bytes?
    std::optional<bool> held_by_server(std::uint32_t n) {
        const auto known = plan.on_server.find(n);
        if (known == plan.on_server.end()) return false;
        core::Md5 md5;
        if (!file.hash(offset_of(n), size_of(n), md5, failed)) return std::nullopt;
        return core::to_hex(md5.digest()) == known->second;
    }

    Result<std::string> send_part(HttpSession& session, std::mt19937_64& rng, std::size_t worker,
                                  std::uint32_t n) {
        const std::uint64_t base = offset_of(n);
        HttpRequest put;
        put.method = "PUT";
        put.url = plan.journal.part_urls[n - 1];
        put.body_size = size_of(n);
        put.read_body = [this, base](std::uint64_t offset, std::span<char> out) {
            return file.read(base + offset, out);
        };
        put.cancel = options.cancel;
        put.on_sent = [this, worker](std::uint64_t bytes) { part_sending(worker, bytes); };
        put.headers = {"Content-Type: application/octet-stream"};
        auto response = perform_with_retry(session, put, client_options.retry, rng, options.cancel);
        if (!response) return response.error();
        if (response->status != 200) {
            auto e = error_from_response(*response);
            e.message = "part " + std::to_string(n) + ": " + e.message;
            return e;
        }
        const auto etag = response->headers.find("etag");
        if (etag == response->headers.end() || unquote(etag->second).empty()) {
            return Error{ErrorKind::verification, 200, "etag_missing",
                         "part " + std::to_string(n) + ": the server answered without an ETag"};
        }
        return "\"" + unquote(etag->second) + "\"";
    }

    void work(std::size_t worker) {
        HttpSession session(client_options);
        std::mt19937_64 rng(std::random_device{}());
        while (!failed) {
            if (options.cancel != nullptr && options.cancel->load()) {
                fail(Error{ErrorKind::cancelled, 0, "cancelled", "upload cancelled"});
                return;
            }
            const std::uint32_t n = next_part++;
            if (n > part_count()) return;
            const auto held = held_by_server(n);
            if (!held) {
                fail(read_failed("part " + std::to_string(n)));
                return;
            }
            if (*held) {
                finish_part(worker, n, "\"" + plan.on_server.at(n) + "\"", false);
                continue;
            }
            auto etag = send_part(session, rng, worker, n);
            if (!etag) {
                fail(etag.error());
                return;
            }
            finish_part(worker, n, std::move(*etag), true);
        }
    }
};

}  // namespace

// Reads the file once for its MD5 while the workers send every part the server does
// not hold yet.
Result<PassOutcome> run_pass(const ClientOptions& client_options, const UploadOptions& options,
                             const Plan& plan) {
    SourceFile file(plan.journal.path);
    if (!file.is_open()) {
        return Error{ErrorKind::io, 0, "read_failed", "cannot open " + plan.journal.path};
    }
    Pass pass{client_options, options, plan, file};
    pass.etags.resize(pass.part_count());
    pass.progress.bytes_total = plan.journal.size;
    pass.progress.parts_total = pass.part_count();
    const auto workers = std::min(
        static_cast<std::uint32_t>(std::clamp<int>(options.parallel, 1, 64)), pass.part_count());
    pass.in_flight.resize(workers);
    std::optional<std::string> file_md5;
    {
        std::vector<std::jthread> threads;
        threads.emplace_back([&] { file_md5 = pass.hash_whole(); });
        for (std::uint32_t i = 0; i < workers; ++i) {
            threads.emplace_back([&pass, i] { pass.work(i); });
        }
    }
    if (pass.error) return *pass.error;
    return PassOutcome{std::move(*file_md5), std::move(pass.etags), pass.sent, pass.skipped};
}

}  // namespace audiodrop::client
