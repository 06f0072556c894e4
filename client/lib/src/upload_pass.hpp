#pragma once

// One read pass over the file shared by the upload workers.
//
// The workers take parts in order under one lock that also covers reading the part and
// feeding it to the whole-file MD5, so the file is read once, sequentially, and the
// whole-file MD5 sees the bytes in order. Hashing the part and PUTting it happen outside
// the lock, in parallel. Each worker owns one buffer of ChunkSize bytes and one kept-alive
// connection, so memory is bounded by parallel * ChunkSize. A part the server already
// holds with the same MD5 is read and hashed but not sent.

#include <cstdint>
#include <string>
#include <vector>

#include "audiodrop/client.hpp"
#include "upload_plan.hpp"

namespace audiodrop::client {

struct PassOutcome {
    std::string file_md5;
    std::vector<std::string> etags;  // quoted, index 0 is part 1
    std::uint32_t sent = 0;
    std::uint32_t skipped = 0;
};

// The first error of any worker stops the others from taking new parts.
Result<PassOutcome> run_pass(const ClientOptions& client_options, const UploadOptions& options,
                             const Plan& plan);

}  // namespace audiodrop::client
