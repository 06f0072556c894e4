#pragma once

#include "core/error.hpp"
#include "http/exchange.hpp"

namespace audiodrop::http {

// The storage endpoint's one table from errors to HTTP statuses. S3 codes decide
// where S3 documents a status of their own (EntityTooLarge is 400 in S3, not 413).
unsigned s3_status(const core::Error& error);

// An S3 XML error document (no body for HEAD, as S3 does).
StringResponse s3_error(const core::Error& error, std::string_view resource,
                        const std::string& request_id, bool head);

}  // namespace audiodrop::http
