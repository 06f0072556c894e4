#include "s3/s3_xml.hpp"

#include <charconv>
#include <pugixml.hpp>

#include "s3/error_xml.hpp"

namespace audiodrop::s3 {
namespace {

core::Error malformed(std::string_view what) {
    return core::make_error(core::ErrorKind::invalid_input, "MalformedResponse",
                            "the object store answered an unreadable " + std::string(what));
}

// S3 documents carry a namespace on the root; pugixml compares names literally, so
// children are looked up by name only and the root is taken as the first element.
bool load(pugi::xml_document& doc, std::string_view xml) {
    return doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
}

template <class Number>
bool parse_number(std::string_view text, Number& out) {
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end;
}

}  // namespace

std::optional<ErrorBody> parse_error_body(std::string_view xml) {
    pugi::xml_document doc;
    if (!load(doc, xml)) return std::nullopt;
    const auto root = doc.document_element();
    if (std::string_view(root.name()) != "Error") return std::nullopt;
    return ErrorBody{root.child_value("Code"), root.child_value("Message")};
}

core::Result<std::string> parse_upload_id(std::string_view xml) {
    pugi::xml_document doc;
    if (!load(doc, xml)) return malformed("CreateMultipartUpload result");
    std::string id = doc.document_element().child_value("UploadId");
    if (id.empty()) return malformed("CreateMultipartUpload result");
    return id;
}

core::Result<PartsPage> parse_parts_page(std::string_view xml) {
    pugi::xml_document doc;
    if (!load(doc, xml)) return malformed("ListParts result");
    const auto root = doc.document_element();
    if (std::string_view(root.name()) != "ListPartsResult") return malformed("ListParts result");
    PartsPage page;
    page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
    if (page.truncated &&
        !parse_number(root.child_value("NextPartNumberMarker"), page.next_part_number_marker)) {
        return malformed("ListParts result");
    }
    for (auto part : root.children("Part")) {
        ListedPart p;
        if (!parse_number(part.child_value("PartNumber"), p.part_number) ||
            !parse_number(part.child_value("Size"), p.size)) {
            return malformed("ListParts part");
        }
        p.etag = part.child_value("ETag");
        page.parts.push_back(std::move(p));
    }
    return page;
}

core::Result<std::string> parse_completed_etag(std::string_view xml) {
    pugi::xml_document doc;
    if (!load(doc, xml)) return malformed("CompleteMultipartUpload result");
    const auto root = doc.document_element();
    if (std::string_view(root.name()) != "CompleteMultipartUploadResult") {
        return malformed("CompleteMultipartUpload result");
    }
    return std::string(root.child_value("ETag"));
}

std::string complete_multipart_body(const std::vector<CompletedPart>& parts) {
    std::string body = "<CompleteMultipartUpload>";
    body.reserve(body.size() + parts.size() * 80);
    for (const auto& p : parts) {
        body += "<Part><PartNumber>" + std::to_string(p.part_number) + "</PartNumber><ETag>" +
                xml_escape("\"" + p.etag + "\"") + "</ETag></Part>";
    }
    body += "</CompleteMultipartUpload>";
    return body;
}

}  // namespace audiodrop::s3
