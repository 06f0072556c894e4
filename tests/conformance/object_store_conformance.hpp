#pragma once

// One test body for every ObjectStore implementation: each TEST_P in
// object_store_conformance.cpp runs once per backend listed by backends().
// A backend adds itself with a factory there; nothing else changes.
//
// Clients PUT parts to, and GET objects from, URLs the store presigns; the service
// never carries a byte. So a backend also plays the client: put_part and get_object
// move bytes the way a client's requests do for that implementation (through the
// embedded endpoint's side of the local store, over HTTP to a remote S3 store).

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "storage/object_store.hpp"

namespace audiodrop::storage::conformance {

// A fresh store of one implementation, owned for one test, and a client of it.
class Backend {
  public:
    virtual ~Backend() = default;

    virtual ObjectStore& store() = 0;

    // Stores `bytes` as part `part_number` of the upload, as a client's PUT to the URL
    // presign_part gives does; returns the ETag the store answered (lowercase hex).
    virtual core::Result<std::string> put_part(const std::string& key, const std::string& upload_id,
                                               std::uint32_t part_number,
                                               std::string_view bytes) = 0;
    // The bytes of the completed object `key`, as a client's GET of the URL presign_get
    // gives returns them.
    virtual core::Result<std::string> get_object(const std::string& key) = 0;

    // scheme://host[:port] where clients reach the store: presigned URLs point there.
    virtual std::string public_endpoint() const = 0;
    // What the store documents for a complete whose expected MD5 differs: true when the
    // upload stays open (Reason::digest_mismatch), false when the store cannot reopen an
    // assembled upload and drops it (Reason::upload_consumed).
    virtual bool reopens_after_digest_mismatch() const = 0;
    // Whether a complete may leave out a part the store holds (S3, MinIO, the local
    // store) or is refused with invalid_input (Ceph RGW).
    virtual bool completes_a_subset_of_its_parts() const = 0;
};

struct BackendFactory {
    std::string name;  // a GoogleTest parameter name: letters, digits, underscores
    std::function<core::Result<std::unique_ptr<Backend>>()> open;
    // When not empty, why this backend cannot run here: its tests skip, saying so.
    std::string skip_reason;
};

// Names the backend in test output instead of dumping its bytes.
void PrintTo(const BackendFactory& factory, std::ostream* os);

// The backends this test binary runs against.
std::vector<BackendFactory> backends();

// An upload whose parts 1..n were stored, not yet completed.
struct StagedUpload {
    std::string key;
    std::string upload_id;
    std::vector<std::string> bodies;  // part n is bodies[n - 1]
    std::vector<PartRef> parts;       // every part, ascending, as complete-upload names them
    std::string bytes;                // the bodies concatenated: what completing makes
};

class ObjectStoreConformance : public ::testing::TestWithParam<BackendFactory> {
  protected:
    void SetUp() override;
    // Aborts every upload the test started and removes every key it named: the remote
    // backends share one bucket.
    void TearDown() override;

    ObjectStore& store() { return backend_->store(); }
    Backend& backend() { return *backend_; }

    // `name` made unique to this test, so tests sharing a bucket never meet.
    std::string key(std::string_view name);
    // Starts a multipart upload of `key`, aborted with the test if still open.
    std::string start_upload(const std::string& key);
    // Stores `bytes` as part `part_number` through the backend's client; returns the
    // reference complete-upload names it by.
    PartRef put_part(const std::string& key, const std::string& upload_id,
                     std::uint32_t part_number, std::string_view bytes);
    // A new upload of key(name) holding `bodies` as parts 1..n.
    StagedUpload stage(std::string_view name, std::vector<std::string> bodies);

    // Completes `upload` from all its parts and checks the object is its bytes.
    void expect_completes(const StagedUpload& upload);
    // Reads `key` back as a client would and checks it holds exactly `bytes`.
    void expect_reads_back(const std::string& key, const std::string& bytes);

  private:
    std::unique_ptr<Backend> backend_;
    std::string key_prefix_;
    std::vector<std::string> keys_;
    std::vector<std::pair<std::string, std::string>> uploads_;  // key, upload id
};

}  // namespace audiodrop::storage::conformance
