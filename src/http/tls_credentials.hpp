#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.hpp"

namespace audiodrop::http {

// PEM files a TLS listener presents: the certificate chain (the server's certificate
// first, then intermediates) and its private key (unencrypted).
struct TlsFiles {
    std::string cert;
    std::string key;
};

// A server context from `files`: TLS 1.2 and 1.3 only, Mozilla's "intermediate" cipher
// list for 1.2 (ECDHE and DHE with AEAD ciphers; 1.3 suites are OpenSSL's, all AEAD),
// no renegotiation, ALPN http/1.1. invalid_input "tls_files", with a message naming the
// file, when a file cannot be read, is not PEM of the right kind, or the key is not the
// certificate's.
core::Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_server_context(
    const TlsFiles& files);

// The context a TLS listener gives each new connection. reload() reads the files again:
// handshakes that start afterwards present what it read, while established connections
// keep the context they started with (each holds its own reference). A reload that
// fails keeps the context in use. Thread-safe.
class TlsCredentials {
  public:
    // Reads the files once: the errors of make_tls_server_context().
    static core::Result<std::unique_ptr<TlsCredentials>> load(TlsFiles files);

    core::Result<void> reload();
    std::shared_ptr<boost::asio::ssl::context> context() const;
    const TlsFiles& files() const { return files_; }

  private:
    TlsCredentials(TlsFiles files, std::shared_ptr<boost::asio::ssl::context> context);

    const TlsFiles files_;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> context_;
};

}  // namespace audiodrop::http
