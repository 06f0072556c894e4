// libFuzzer target: a JSON request body as the API routes read it: parse_json_object,
// then every field a route extracts with json_fields.hpp (filesize, filetype, file_id,
// upload_id, part_list, file_md5, user_id, expires_in, refresh_token), and the checks
// the upload service runs on what they return before touching any store (plan_parts,
// check_part_list, normalize_etag, normalize_md5).
//
// Input: the body.
//
// Properties beyond "no crash": what an extractor returns is the value in the body; a
// filesize plans into at most 10,000 parts that hold it exactly; a part list that passes
// names parts 1..N in order with lowercase 32-digit hex ETags; a body that parses,
// written back out, parses into the same value.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "http/json_fields.hpp"
#include "upload/completion_check.hpp"
#include "upload/part_plan.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;
using nlohmann::json;

bool is_lower_hex32(std::string_view s) {
    if (s.size() != 32) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// generate-presigned-urls: the plan of a filesize.
std::uint32_t check_plan(std::uint64_t filesize) {
    const auto plan = upload::plan_parts(filesize);
    check(plan.part_count >= 1 && plan.part_count <= upload::kMaxParts, "1 to 10,000 parts");
    check(plan.chunk_size >= upload::kDefaultChunkSize && plan.chunk_size % upload::kMiB == 0,
          "parts are whole MiB, at least 5");
    check(plan.chunk_size * (plan.part_count - 1) < filesize &&
              filesize - plan.chunk_size * (plan.part_count - 1) <= plan.chunk_size,
          "the parts hold the file exactly, the last one partly");
    return plan.part_count;
}

// complete-upload: the part list against an upload of `part_count` parts.
void check_parts(const json& body, std::uint32_t part_count) {
    const auto parts = http::part_list(body);
    if (!parts) return;
    const auto& listed = body.at("part_list");
    check(parts->size() == listed.size(), "every entry of part_list is read");
    for (std::size_t i = 0; i < parts->size(); ++i) {
        check(listed[i].at("PartNumber") == (*parts)[i].part_number &&
                  listed[i].at("ETag") == (*parts)[i].etag,
              "part_list entries are read as written");
        if (auto etag = upload::normalize_etag((*parts)[i].etag)) {
            check(is_lower_hex32(*etag), "a normalized ETag is 32 lowercase hex digits");
        }
    }
    const auto refs = upload::check_part_list(*parts, part_count);
    if (!refs) return;
    check(refs->size() == part_count, "an accepted part list names every part");
    for (std::size_t i = 0; i < refs->size(); ++i) {
        check((*refs)[i].part_number == i + 1 && is_lower_hex32((*refs)[i].etag),
              "an accepted part list is 1..N with normalized ETags");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = http::parse_json_object(fuzz::as_text(data, size));
    if (!body) return 0;
    check(body->is_object(), "parse_json_object gives an object");

    for (const char* name : {"filetype", "file_id", "upload_id", "user_id", "refresh_token"}) {
        if (const auto value = http::required_string(*body, name)) {
            check(body->at(name) == *value, "a required string is the body's");
        }
    }
    if (const auto md5 = http::optional_string(*body, "file_md5"); md5 && *md5) {
        check(body->at("file_md5") == **md5, "an optional string is the body's");
        if (const auto normal = upload::normalize_md5(**md5)) {
            check(is_lower_hex32(*normal), "a normalized MD5 is 32 lowercase hex digits");
        }
    }
    if (const auto expires = http::optional_integer(*body, "expires_in", "invalid_expires_in");
        expires && *expires) {
        check(body->at("expires_in") == **expires, "an optional integer is the body's");
    }
    std::uint32_t part_count = 1;
    if (const auto filesize =
            http::required_positive_integer(*body, "filesize", "invalid_filesize")) {
        check(*filesize > 0 && body->at("filesize") == *filesize,
              "a positive integer is the body's");
        part_count = check_plan(*filesize);
    }
    check_parts(*body, part_count);

    const auto again = http::parse_json_object(body->dump());
    check(again && *again == *body, "a parsed body written out parses into the same value");
    return 0;
}
