#pragma once

// One test body for every MetadataStore implementation: each TEST_P in
// metadata_store_conformance.cpp runs once per backend listed by backends().
// A backend adds itself with a factory there; nothing else changes.

#include <gtest/gtest.h>

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "metadata/metadata_store.hpp"

namespace audiodrop::metadata::conformance {

// A fresh, empty database of one implementation, owned for one test.
class Backend {
  public:
    virtual ~Backend() = default;
    // A new store on this same database, as another replica or process would open
    // it; races between connections are tested through this.
    virtual core::Result<std::unique_ptr<MetadataStore>> connect() = 0;
};

struct BackendFactory {
    std::string name;  // a GoogleTest parameter name: letters, digits, underscores
    std::function<std::unique_ptr<Backend>()> make;
    // When not empty, why this backend cannot run here: its tests skip, saying so.
    std::string skip_reason;
};

// Names the backend in test output instead of dumping its bytes.
void PrintTo(const BackendFactory& factory, std::ostream* os);

// The backends this test binary runs against.
std::vector<BackendFactory> backends();

// A partner `client_id` ("Acme Recorders CLIENT_ID"), created an hour before the
// sample uploads.
Partner sample_partner(const std::string& client_id);

// An open upload named `name` ("file_NAME", "upload_NAME") of user "user-000001" of
// `client_id`: 1000 bytes in one part, created at 1'700'000'000 s, expiring an hour later.
UploadRecord sample_upload(const std::string& name, const std::string& client_id);

class MetadataStoreConformance : public ::testing::TestWithParam<BackendFactory> {
  protected:
    void SetUp() override;

    MetadataStore& store() { return *store_; }
    Backend& backend() { return *backend_; }

  private:
    // Declared first so stores close before their database goes away.
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<MetadataStore> store_;
};

}  // namespace audiodrop::metadata::conformance
