// What a TLS listener refuses to start with, and what a reload swaps or keeps.

#include "http/tls_credentials.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <functional>

#include "conformance/temp_dir.hpp"

namespace audiodrop::http {
namespace {

using test_support::TempDir;

struct Pem {
    std::string cert;
    std::string key;
};

std::string pem_of(const std::function<void(BIO*)>& write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return out;
}

// A self-signed certificate naming `common_name`, and its P-256 key (encrypted with
// `passphrase` when one is given).
Pem self_signed(const std::string& common_name, const std::string& passphrase = "") {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    Pem pem{pem_of([&](BIO* bio) { PEM_write_bio_X509(bio, cert); }), pem_of([&](BIO* bio) {
                if (passphrase.empty()) {
                    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
                } else {
                    PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase.data(),
                                                  static_cast<int>(passphrase.size()), nullptr,
                                                  nullptr);
                }
            })};
    X509_free(cert);
    EVP_PKEY_free(key);
    return pem;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The common name of the certificate `context` presents.
std::string presented_name(boost::asio::ssl::context& context) {
    X509* cert = SSL_CTX_get0_certificate(context.native_handle());
    if (cert == nullptr) return {};
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
    return name;
}

class TlsCredentialsTest : public ::testing::Test {
  protected:
    void SetUp() override { install(self_signed("first")); }
    void install(const Pem& pem) {
        write_file(files.cert, pem.cert);
        write_file(files.key, pem.key);
    }
    void expect_refused(const std::string& naming, const std::string& saying) {
        auto context = make_tls_server_context(files);
        ASSERT_FALSE(context);
        EXPECT_EQ(context.error().code, "tls_files");
        EXPECT_NE(context.error().message.find(naming), std::string::npos)
            << context.error().message;
        EXPECT_NE(context.error().message.find(saying), std::string::npos)
            << context.error().message;
    }

    TempDir dir;
    TlsFiles files{dir.file("cert.pem"), dir.file("key.pem")};
};

TEST_F(TlsCredentialsTest, AMatchingPairMakesATls12AndUpContext) {
    auto context = make_tls_server_context(files);
    ASSERT_TRUE(context) << context.error().message;
    EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->native_handle()), TLS1_2_VERSION);
    EXPECT_EQ(presented_name(**context), "first");
}

TEST_F(TlsCredentialsTest, AMissingFileIsNamed) {
    files.cert = dir.file("absent.pem");
    expect_refused(files.cert, "No such file");
    files = TlsFiles{dir.file("cert.pem"), dir.file("absent-key.pem")};
    expect_refused(files.key, "cannot read TLS key");
}

TEST_F(TlsCredentialsTest, AFileThatIsNotPemIsNamed) {
    write_file(files.cert, "not a certificate\n");
    expect_refused(files.cert, "is not a PEM certificate chain");
    install(self_signed("first"));
    write_file(files.key, self_signed("other").cert);
    expect_refused(files.key, "is not an unencrypted PEM private key");
}

TEST_F(TlsCredentialsTest, AnEncryptedKeyIsRefusedWithoutAskingForItsPassphrase) {
    install(self_signed("first", "secret passphrase"));
    expect_refused(files.key, "is not an unencrypted PEM private key");
}

TEST_F(TlsCredentialsTest, AKeyOfAnotherCertificateIsRefused) {
    write_file(files.key, self_signed("other").key);
    expect_refused(files.key, "does not match the certificate " + files.cert);
}

TEST_F(TlsCredentialsTest, AReloadGivesNewConnectionsTheNewCertificate) {
    auto credentials = TlsCredentials::load(files);
    ASSERT_TRUE(credentials) << credentials.error().message;
    const auto before = (*credentials)->context();
    install(self_signed("second"));
    ASSERT_TRUE((*credentials)->reload());
    const auto after = (*credentials)->context();
    EXPECT_EQ(presented_name(*after), "second");
    // A connection that started before keeps its own context, unchanged.
    EXPECT_EQ(presented_name(*before), "first");
}

TEST_F(TlsCredentialsTest, AFailedReloadKeepsTheCertificateInUse) {
    auto credentials = TlsCredentials::load(files);
    ASSERT_TRUE(credentials) << credentials.error().message;
    const auto before = (*credentials)->context();
    write_file(files.key, self_signed("other").key);
    const auto reloaded = (*credentials)->reload();
    ASSERT_FALSE(reloaded);
    EXPECT_NE(reloaded.error().message.find(files.key), std::string::npos);
    EXPECT_EQ((*credentials)->context(), before);
}

}  // namespace
}  // namespace audiodrop::http
