#include "http/s3_response.hpp"

#include <string_view>
#include <unordered_map>

#include "http/api_response.hpp"
#include "s3/error_xml.hpp"

namespace audiodrop::http {

unsigned s3_status(const core::Error& error) {
    static const std::unordered_map<std::string_view, unsigned> kByCode = {
        {"AccessDenied", 403},       {"SignatureDoesNotMatch", 403},
        {"InvalidAccessKeyId", 403}, {"NoSuchUpload", 404},
        {"NoSuchKey", 404},          {"NoSuchBucket", 404},
        {"MethodNotAllowed", 405},   {"MissingContentLength", 411},
        {"EntityTooLarge", 400},     {"BadDigest", 400},
        {"InvalidDigest", 400},      {"IncompleteBody", 400},
        {"InvalidArgument", 400},    {"InvalidRange", 416},
        {"InvalidPart", 400},        {"InsufficientStorage", 507},
        {"ServiceUnavailable", 503}, {"RequestTimeout", 400},
        {"SlowDown", 503},
    };
    if (auto it = kByCode.find(error.code); it != kByCode.end()) return it->second;
    return api_status(error.kind);
}

StringResponse s3_error(const core::Error& error, std::string_view resource,
                        const std::string& request_id, bool head) {
    StringResponse res{static_cast<bhttp::status>(s3_status(error)), 11};
    res.set("x-amz-request-id", request_id);
    if (error.retry_after_seconds) {
        res.set(bhttp::field::retry_after, std::to_string(*error.retry_after_seconds));
    }
    if (head) {
        res.content_length(0);
        return res;
    }
    res.set(bhttp::field::content_type, "application/xml");
    res.body() = s3::error_xml(error.code, public_message(error), resource, request_id);
    res.prepare_payload();
    return res;
}

}  // namespace audiodrop::http
