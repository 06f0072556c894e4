#include "s3/error_xml.hpp"

#include <cstdint>

namespace audiodrop::s3 {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence starting at s[0] (RFC 3629: no overlongs, no
// surrogates, nothing past U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view s) {
    const auto byte = [&s](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
    const std::uint8_t b0 = byte(0);
    std::size_t len = 0;
    std::uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (s.size() < len || byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t i = 2; i < len; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    }
    return len;
}

void append_element(std::string& out, std::string_view name, std::string_view value) {
    out.append("<").append(name).append(">");
    out.append(xml_escape(value));
    out.append("</").append(name).append(">");
}

}  // namespace

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        const char c = text.front();
        const std::size_t len = utf8_sequence_length(text);
        if (len == 0) {
            out.append(kReplacement);
            text.remove_prefix(1);
            continue;
        }
        if (len > 1) {
            // U+FFFE and U+FFFF are not XML 1.0 characters either.
            const bool non_character = len == 3 && text.substr(0, 2) == "\xEF\xBF" &&
                                       static_cast<std::uint8_t>(text[2]) >= 0xBE;
            out.append(non_character ? kReplacement : text.substr(0, len));
            text.remove_prefix(len);
            continue;
        }
        switch (c) {
            case '&':
                out.append("&amp;");
                break;
            case '<':
                out.append("&lt;");
                break;
            case '>':
                out.append("&gt;");
                break;
            case '"':
                out.append("&quot;");
                break;
            case '\'':
                out.append("&apos;");
                break;
            case '\t':
            case '\n':
            case '\r':
                out.push_back(c);
                break;
            default:
                if (static_cast<std::uint8_t>(c) < 0x20) {
                    out.append(kReplacement);
                } else {
                    out.push_back(c);
                }
        }
        text.remove_prefix(1);
    }
    return out;
}

std::string error_xml(std::string_view code, std::string_view message, std::string_view resource,
                      std::string_view request_id) {
    std::string out = R"(<?xml version="1.0" encoding="UTF-8"?><Error>)";
    append_element(out, "Code", code);
    append_element(out, "Message", message);
    append_element(out, "Resource", resource);
    append_element(out, "RequestId", request_id);
    out.append("</Error>");
    return out;
}

}  // namespace audiodrop::s3
