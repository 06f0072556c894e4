#include "storage/keyed_mutex.hpp"

namespace audiodrop::storage {

KeyedMutex::Guard KeyedMutex::lock(const std::string& name) {
    Entry* entry = nullptr;
    {
        std::lock_guard table_lock(table_mutex_);
        auto& slot = table_[name];
        if (!slot) slot = std::make_unique<Entry>();
        entry = slot.get();
        ++entry->users;
    }
    // Locked outside the table mutex: a long holder (a complete hashing gigabytes)
    // must not stall lookups for other names.
    entry->mutex.lock();
    return Guard(*this, name, *entry);
}

void KeyedMutex::release(const std::string& name, Entry& entry) {
    entry.mutex.unlock();
    std::lock_guard table_lock(table_mutex_);
    if (--entry.users == 0) table_.erase(name);
}

KeyedMutex::Guard::Guard(Guard&& other) noexcept
    : owner_(other.owner_), name_(std::move(other.name_)), entry_(other.entry_) {
    other.owner_ = nullptr;
    other.entry_ = nullptr;
}

KeyedMutex::Guard::~Guard() {
    if (owner_ != nullptr) owner_->release(name_, *entry_);
}

}  // namespace audiodrop::storage
