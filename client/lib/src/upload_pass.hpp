#pragma once

// One pass over the file, shared by the upload workers.
//
// The bytes are hashed once: a hasher thread reads the file in order for the
// whole-file MD5, which the server checks at complete-upload (file_md5) and answers
// with FileMd5, so the upload is verified end to end with one MD5 pass. Meanwhile the
// workers take parts in order and stream each straight from the file to its presigned
// URL, in parallel, on one kept-alive connection each; nothing holds a whole part, so
// memory is a read buffer per thread. A part the server already holds (a resumed
// upload) is hashed on its own and compared with its ETag, and not sent again if equal.

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
