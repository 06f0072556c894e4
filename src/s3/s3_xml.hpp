#pragma once

// The XML bodies of the S3 calls the remote-S3 store makes (S3 API reference:
// CreateMultipartUpload, ListParts, CompleteMultipartUpload, Error Responses).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace audiodrop::s3 {

// <Error><Code>..</Code><Message>..</Message></Error>.
struct ErrorBody {
    std::string code;
    std::string message;
};
// nullopt when `xml` is not an S3 error document (empty, HTML from a proxy, ...).
std::optional<ErrorBody> parse_error_body(std::string_view xml);

// UploadId of an InitiateMultipartUploadResult; invalid_input when absent.
core::Result<std::string> parse_upload_id(std::string_view xml);

struct ListedPart {
    std::uint32_t part_number = 0;
    std::string etag;  // as S3 wrote it, quotes included
    std::uint64_t size = 0;
};

// One page of a ListPartsResult.
struct PartsPage {
    std::vector<ListedPart> parts;
    bool truncated = false;
    std::uint32_t next_part_number_marker = 0;
};
core::Result<PartsPage> parse_parts_page(std::string_view xml);

// The ETag of a CompleteMultipartUploadResult, as written (may be empty: Ceph RGW 16
// leaves it so); invalid_input when the document is not such a result.
core::Result<std::string> parse_completed_etag(std::string_view xml);

struct CompletedPart {
    std::uint32_t part_number = 0;
    std::string etag;  // sent quoted
};
// The CompleteMultipartUpload request body.
std::string complete_multipart_body(const std::vector<CompletedPart>& parts);

}  // namespace audiodrop::s3
