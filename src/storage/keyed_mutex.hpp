#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace audiodrop::storage {

// One mutex per name (an upload id, an object key), created on first use and dropped
// when no one holds or waits for it, so unrelated uploads never wait on each other and
// the table does not grow with every upload ever seen.
class KeyedMutex {
    struct Entry {
        std::mutex mutex;
        std::size_t users = 0;
    };

  public:
    // Holds the named mutex until destroyed.
    class Guard {
      public:
        Guard(Guard&& other) noexcept;
        Guard& operator=(Guard&&) = delete;
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;
        ~Guard();

      private:
        friend class KeyedMutex;
        Guard(KeyedMutex& owner, std::string name, Entry& entry)
            : owner_(&owner), name_(std::move(name)), entry_(&entry) {}

        KeyedMutex* owner_;
        std::string name_;
        Entry* entry_;
    };

    [[nodiscard]] Guard lock(const std::string& name);

  private:
    void release(const std::string& name, Entry& entry);

    std::mutex table_mutex_;
    std::unordered_map<std::string, std::unique_ptr<Entry>> table_;
};

}  // namespace audiodrop::storage
