#pragma once

// S3's XML error body, so S3 SDKs and tools parse our storage endpoint's refusals as
// they parse Amazon's ("Error Responses" in the S3 API reference).

#include <string>
#include <string_view>

namespace audiodrop::s3 {

// Escapes text for an XML 1.0 element or attribute value. Bytes that XML 1.0 cannot
// carry at all (control characters other than tab, LF and CR, and invalid UTF-8) become
// U+FFFD, so a hostile object key in Resource can never make the body unparsable.
std::string xml_escape(std::string_view text);

// <?xml version="1.0" encoding="UTF-8"?>
// <Error><Code>..</Code><Message>..</Message><Resource>..</Resource><RequestId>..</RequestId></Error>
// on one line, every value escaped.
std::string error_xml(std::string_view code, std::string_view message, std::string_view resource,
                      std::string_view request_id);

}  // namespace audiodrop::s3
