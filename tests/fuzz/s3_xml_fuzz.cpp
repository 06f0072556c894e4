// libFuzzer target: the XML a remote S3 answers, read by every parser the remote-S3 store
// calls on a response body (s3_xml.hpp: parse_error_body, parse_upload_id,
// parse_parts_page with normalise_etag on each part, parse_completed_etag), and the XML
// we write: the CompleteMultipartUpload body built from listed parts, and the storage
// endpoint's error document (error_xml.hpp) around text from the input.
//
// Input: the response body. Its NUL-separated fields are also used as the code, message
// and resource of an error document.
//
// Properties beyond "no crash": the CompleteMultipartUpload body built from the parts of
// a page that parses is well-formed XML with one Part per part, each ETag quoted; an error document
// we write always reads back as an S3 error, with its code and message unchanged when they are text
// XML can carry as it is.

#include <cstddef>
#include <cstdint>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "s3/error_xml.hpp"
#include "s3/s3_xml.hpp"
#include "storage/etag.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

// Text that pugixml reads back as written: nothing xml_escape must replace (malformed
// UTF-8, control characters), no CR (read as LF), and not only whitespace (dropped).
bool survives_xml(std::string_view s) {
    constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    return s.find(kReplacement) == std::string_view::npos &&
           s3::xml_escape(s).find(kReplacement) == std::string::npos &&
           s.find('\r') == std::string_view::npos &&
           s.find_first_not_of(" \t\n") != std::string_view::npos;
}

void check_parts_page(std::string_view xml) {
    const auto page = s3::parse_parts_page(xml);
    if (!page) return;
    std::vector<s3::CompletedPart> completed;
    for (const auto& part : page->parts) {
        completed.push_back({part.part_number, storage::normalise_etag(part.etag)});
    }
    const auto body = s3::complete_multipart_body(completed);
    pugi::xml_document doc;
    check(static_cast<bool>(doc.load_buffer(body.data(), body.size())),
          "the CompleteMultipartUpload body is well-formed XML");
    std::size_t i = 0;
    for (const auto part : doc.child("CompleteMultipartUpload").children("Part")) {
        check(i < completed.size(), "the CompleteMultipartUpload body has one Part per part");
        const auto& etag = completed[i++].etag;
        if (survives_xml(etag)) {
            check(part.child_value("ETag") == "\"" + etag + "\"",
                  "a part's ETag is sent quoted, as listed");
        }
    }
    check(i == completed.size(), "the CompleteMultipartUpload body has one Part per part");
}

void check_error_document(std::string_view rest) {
    const auto code = fuzz::next_field(rest);
    const auto message = fuzz::next_field(rest);
    const auto resource = fuzz::next_field(rest);
    const auto xml = s3::error_xml(code, message, resource, "req_fuzz");
    const auto read = s3::parse_error_body(xml);
    check(read.has_value(), "an error document we write reads back as an S3 error");
    if (survives_xml(code)) check(read->code == code, "an error's code reads back unchanged");
    if (survives_xml(message)) {
        check(read->message == message, "an error's message reads back unchanged");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view xml = fuzz::as_text(data, size);
    (void)s3::parse_error_body(xml);      // any outcome: only its safety is in question
    (void)s3::parse_upload_id(xml);       // likewise
    (void)s3::parse_completed_etag(xml);  // likewise
    check_parts_page(xml);
    check_error_document(xml);
    return 0;
}
