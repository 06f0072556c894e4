#include "http/tls_credentials.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace audiodrop::http {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla's "intermediate" configuration (ssl-config.mozilla.org, v5.7): TLS 1.2 with
// forward secrecy and AEAD only; TLS 1.3 suites need no list, all of them qualify.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

core::Error files_error(std::string message) {
    return core::make_error(core::ErrorKind::invalid_input, "tls_files", std::move(message));
}

core::Result<std::string> read_pem(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return files_error("cannot read TLS " + what + " " + path + ": " + std::strerror(errno));
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) {
        return files_error("cannot read TLS " + what + " " + path + ": " + std::strerror(errno));
    }
    return text;
}

// Whether `pem` holds a private key OpenSSL can use without a passphrase.
bool is_private_key(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (bio == nullptr) return false;
    // A passphrase callback that has none: OpenSSL's default would ask the terminal.
    auto no_passphrase = [](char*, int, int, void*) { return 0; };
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr);
    BIO_free(bio);
    ERR_clear_error();
    EVP_PKEY_free(key);
    return key != nullptr;
}

// ALPN: HTTP/1.1 when the client offers it; a client offering only h2 goes on without
// ALPN (and speaks HTTP/1.1 or leaves).
int select_http11(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                  unsigned int in_len, void*) {
    static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_len, kHttp11, sizeof kHttp11, in, in_len) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

core::Result<std::shared_ptr<ssl::context>> make_tls_server_context(const TlsFiles& files) {
    AUDIODROP_TRY_ASSIGN(const auto cert_pem, read_pem(files.cert, "certificate"));
    AUDIODROP_TRY_ASSIGN(const auto key_pem, read_pem(files.key, "key"));
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
                                    SSL_OP_SINGLE_DH_USE);
    // Constant strings OpenSSL knows: these cannot fail.
    SSL_CTX_set_cipher_list(native, kTls12Ciphers);
    SSL_CTX_set1_groups_list(native, kGroups);
    SSL_CTX_set_dh_auto(native, 1);
    SSL_CTX_set_alpn_select_cb(native, &select_http11, nullptr);
    context->set_password_callback(
        [](std::size_t, ssl::context::password_purpose) { return std::string(); });

    boost::system::error_code ec;
    context->use_certificate_chain(boost::asio::buffer(cert_pem), ec);
    if (ec) {
        return files_error("TLS certificate " + files.cert +
                           " is not a PEM certificate chain: " + ec.message());
    }
    if (!is_private_key(key_pem)) {
        return files_error("TLS key " + files.key +
                           " is not an unencrypted PEM private key (RSA, EC or Ed25519)");
    }
    context->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec || SSL_CTX_check_private_key(native) != 1) {
        ERR_clear_error();
        return files_error("TLS key " + files.key + " does not match the certificate " +
                           files.cert);
    }
    return context;
}

TlsCredentials::TlsCredentials(TlsFiles files, std::shared_ptr<ssl::context> context)
    : files_(std::move(files)), context_(std::move(context)) {}

core::Result<std::unique_ptr<TlsCredentials>> TlsCredentials::load(TlsFiles files) {
    AUDIODROP_TRY_ASSIGN(auto context, make_tls_server_context(files));
    return std::unique_ptr<TlsCredentials>(
        new TlsCredentials(std::move(files), std::move(context)));
}

core::Result<void> TlsCredentials::reload() {
    AUDIODROP_TRY_ASSIGN(auto context, make_tls_server_context(files_));
    std::lock_guard lock(mutex_);
    context_ = std::move(context);
    return {};
}

std::shared_ptr<ssl::context> TlsCredentials::context() const {
    std::lock_guard lock(mutex_);
    return context_;
}

}  // namespace audiodrop::http
