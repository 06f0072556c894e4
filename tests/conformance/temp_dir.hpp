#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "core/ids.hpp"

namespace audiodrop::test_support {

// A fresh directory under the system temp dir, removed with everything in it when
// the test ends, so tests are hermetic and can run in parallel.
class TempDir {
  public:
    TempDir() : path_(std::filesystem::temp_directory_path() / core::new_id("audiodrop-test-")) {
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

}  // namespace audiodrop::test_support
