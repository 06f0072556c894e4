// libFuzzer target: what the storage endpoint does with an upload id (and its key) that
// came in a request's URL, and the MD5 checkpoints read back from the data dir.
// Input: id, NUL, key, NUL, checkpoint bytes (missing parts are empty).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/hashing.hpp"
#include "core/ids.hpp"
#include "fuzz_support.hpp"
#include "storage/local_layout.hpp"
#include "storage/sealed_upload_id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace audiodrop;
    using fuzz::check;
    std::string_view rest = fuzz::as_text(data, size);
    const std::string_view id = fuzz::next_field(rest);
    const std::string_view key = fuzz::next_field(rest);
    const std::string_view checkpoint = rest;

    // Decoding is exact: whatever decodes, encodes back to the same text.
    if (auto decoded = core::base32_decode(id)) {
        check(core::base32_encode(*decoded) == id, "base32 decodes only its own encoding");
    }

    // An id that passes is safe to join into a path.
    if (storage::is_valid_upload_id(id)) {
        for (char c : id)
            check((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7') || c == '_',
                  "a valid upload id holds only base32 letters and '_'");
    }

    // Only a sealed id opens, and only for the key it names.
    static const storage::UploadIdSealer sealer("fuzzing secret");
    if (auto record = sealer.open(id, key)) {
        check(storage::UploadIdSealer::looks_sealed(id), "what opens looks sealed");
        check(record->key == key, "a sealed id opens only for its key");
    }

    // A checkpoint restores only from its own encoding.
    if (auto md5 = core::Md5::restore(checkpoint)) {
        check(md5->checkpoint() == checkpoint, "a checkpoint restores only from its encoding");
    }
    return 0;
}
