#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "http/trusted_proxies.hpp"

namespace audiodrop::http {

// Caps on open connections, across every listener that shares the gate and per source
// address, so that no client, or crowd of clients, can take all of the process's file
// descriptors. IPv6 sources count per /64, the block one subscriber is usually given.
// Trusted proxies carry many clients' connections, so only the total cap holds them.
// Thread-safe.
class ConnectionGate {
  public:
    // Holds one place until destroyed. Move-only.
    class Ticket {
      public:
        Ticket() = default;
        Ticket(Ticket&& other) noexcept;
        Ticket& operator=(Ticket&& other) noexcept;
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;
        ~Ticket();

      private:
        friend class ConnectionGate;
        void release();
        ConnectionGate* gate_ = nullptr;
        std::string address_;
    };

    enum class Verdict { admitted, total_full, address_full };

    // 0 for either cap means no cap of that kind.
    ConnectionGate(std::size_t max_total, std::size_t max_per_address, TrustedProxies proxies = {});

    // A place for a connection from `from`, in `ticket` when admitted.
    Verdict admit(const boost::asio::ip::address& from, Ticket& ticket);
    std::size_t open() const;
    std::size_t max_total() const { return max_total_; }
    std::size_t max_per_address() const { return max_per_address_; }
    const TrustedProxies& proxies() const { return proxies_; }

  private:
    void release(const std::string& address);

    std::size_t max_total_;
    std::size_t max_per_address_;
    TrustedProxies proxies_;
    mutable std::mutex mutex_;
    std::size_t open_ = 0;
    std::unordered_map<std::string, std::size_t> per_address_;
};

// The key connections from `address` are counted under: the IPv4 address (also when
// mapped into IPv6), or the IPv6 /64.
std::string address_key(const boost::asio::ip::address& address);

}  // namespace audiodrop::http
