#pragma once

// The whole-file MD5 of the local store's open uploads, advanced in the background as
// parts arrive (DESIGN §3): the frontier of an upload is the MD5 state after its parts
// 1..k. As soon as part k+1 is stored, while its bytes are still in the page cache, a
// task on the hash pool reads it and moves the frontier on; a part that arrived out of
// order waits until the frontier reaches it; a part stored again moves the frontier
// back to before it. complete() then hashes only what the frontier has not reached,
// and leaves the frontier at the end, so a retry after a wrong file_md5 hashes nothing.
//
// On disk: uploads/<upload_id>/md5.frontier, one fixed-size record per part hashed:
//   [part number | the part's ETag | the part file's mtime (ns) | the MD5 state after
//    the part (core::Md5::checkpoint) | a checksum of the record]
// Records are written without fsync. After a crash the frontier is the longest prefix
// of records that are intact and still name the live part files (same ETag, same
// mtime: a part stored again gets a newer mtime), and hashing resumes from there. A
// lost or torn record costs a re-hash, never a wrong MD5.
//
// Thread-safe. The store calls part_committed and whole_md5 holding the upload's lock,
// so for one upload they never overlap; the background task takes no store lock.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/hashing.hpp"
#include "core/worker_pool.hpp"
#include "storage/local_layout.hpp"

namespace audiodrop::storage {

class Md5Frontiers {
  public:
    // `pool` runs the background advance; null: none, complete hashes everything.
    Md5Frontiers(const LocalLayout& layout, core::WorkerPool* pool);
    // Waits for a background advance that is running; queued ones then do nothing.
    ~Md5Frontiers();
    Md5Frontiers(const Md5Frontiers&) = delete;
    Md5Frontiers& operator=(const Md5Frontiers&) = delete;

    // Part `part_number` of the upload was just renamed into its directory.
    void part_committed(const std::string& upload_id, std::uint32_t part_number);

    // The MD5 of `parts` in order, read from the upload's directory. When they are
    // parts 1..N, hashing starts at the frontier and the frontier ends at N.
    core::Result<core::Md5> whole_md5(const std::string& upload_id,
                                      const std::vector<StoredPart>& parts);

    // The upload was completed or aborted: its frontier is of no more use.
    void forget(const std::string& upload_id);

    // Parts hashed so far (for tests and metrics); loads the frontier if needed.
    std::uint32_t parts_hashed(const std::string& upload_id);

    // Bytes read into whole-file MD5s: in the background as parts arrived, and by
    // whole_md5 when a complete found the frontier behind.
    struct Stats {
        std::uint64_t background_bytes = 0;
        std::uint64_t complete_bytes = 0;
    };
    Stats stats() const { return {background_bytes_.load(), complete_bytes_.load()}; }

    static constexpr std::string_view kFileName = "md5.frontier";

  private:
    struct Entry;
    std::shared_ptr<Entry> entry(const std::string& upload_id);
    void load(const std::string& upload_id, Entry& e);
    void start_advance(const std::string& upload_id, const std::shared_ptr<Entry>& e);
    void advance(const std::string& upload_id, const std::shared_ptr<Entry>& e);
    // Moves `e` back to just before part `part_number` (lock held).
    void roll_back(const std::string& upload_id, Entry& e, std::uint32_t part_number);
    // Writes the records of e's parts from `first` on (lock held); best effort.
    void write_records(const std::string& upload_id, const Entry& e, std::uint32_t first,
                       const std::vector<std::string>& checkpoints);
    std::filesystem::path file_of(const std::string& upload_id) const;

    // Lets a queued background task find out that the frontiers are gone.
    struct Lifetime {
        std::mutex mutex;
        std::condition_variable idle;
        bool closed = false;
        unsigned running = 0;
    };

    const LocalLayout& layout_;
    core::WorkerPool* pool_;
    std::shared_ptr<Lifetime> lifetime_ = std::make_shared<Lifetime>();
    std::mutex mutex_;  // guards entries_
    std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
    std::atomic<std::uint64_t> background_bytes_{0};
    std::atomic<std::uint64_t> complete_bytes_{0};
};

// Adds the bytes of the part file at `path` to `md5`; returns how many there were.
core::Result<std::uint64_t> hash_file(const std::filesystem::path& path, core::Md5& md5);

}  // namespace audiodrop::storage
