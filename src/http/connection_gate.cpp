#include "http/connection_gate.hpp"

#include <cstdio>

namespace audiodrop::http {

std::string address_key(const boost::asio::ip::address& address) {
    if (address.is_v4()) return address.to_v4().to_string();
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    }
    const auto bytes = v6.to_bytes();
    std::string prefix;
    char group[8];
    for (std::size_t i = 0; i < 8; i += 2) {
        std::snprintf(group, sizeof group, "%x:", (bytes[i] << 8) | bytes[i + 1]);
        prefix += group;
    }
    return prefix + ":/64";
}

ConnectionGate::Ticket::Ticket(Ticket&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)), address_(std::move(other.address_)) {}

ConnectionGate::Ticket& ConnectionGate::Ticket::operator=(Ticket&& other) noexcept {
    if (this != &other) {
        release();
        gate_ = std::exchange(other.gate_, nullptr);
        address_ = std::move(other.address_);
    }
    return *this;
}

ConnectionGate::Ticket::~Ticket() { release(); }

void ConnectionGate::Ticket::release() {
    if (gate_ != nullptr) std::exchange(gate_, nullptr)->release(address_);
}

ConnectionGate::ConnectionGate(std::size_t max_total, std::size_t max_per_address,
                               TrustedProxies proxies)
    : max_total_(max_total), max_per_address_(max_per_address), proxies_(std::move(proxies)) {}

ConnectionGate::Verdict ConnectionGate::admit(const boost::asio::ip::address& from,
                                              Ticket& ticket) {
    auto key = address_key(from);
    const bool capped = max_per_address_ != 0 && !proxies_.trusts(from);
    std::lock_guard lock(mutex_);
    if (max_total_ != 0 && open_ >= max_total_) return Verdict::total_full;
    auto& count = per_address_[key];
    if (capped && count >= max_per_address_) return Verdict::address_full;
    ++count;
    ++open_;
    ticket.release();
    ticket.gate_ = this;
    ticket.address_ = std::move(key);
    return Verdict::admitted;
}

std::size_t ConnectionGate::open() const {
    std::lock_guard lock(mutex_);
    return open_;
}

void ConnectionGate::release(const std::string& address) {
    std::lock_guard lock(mutex_);
    --open_;
    if (auto it = per_address_.find(address); it != per_address_.end() && --it->second == 0) {
        per_address_.erase(it);
    }
}

}  // namespace audiodrop::http
