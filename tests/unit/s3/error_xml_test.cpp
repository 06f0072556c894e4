#include "s3/error_xml.hpp"

#include <gtest/gtest.h>

namespace audiodrop::s3 {
namespace {

TEST(XmlEscape, EscapesTheFiveMarkupCharacters) {
    EXPECT_EQ(xml_escape(R"(a<b>&"c'd)"), "a&lt;b&gt;&amp;&quot;c&apos;d");
    EXPECT_EQ(xml_escape("&amp;"), "&amp;amp;");
    EXPECT_EQ(xml_escape(""), "");
}

TEST(XmlEscape, KeepsValidUtf8AndWhitespace) {
    EXPECT_EQ(xml_escape("日本 é \xF0\x9F\x8E\xB5\t\n\r\x7F"), "日本 é \xF0\x9F\x8E\xB5\t\n\r\x7F");
}

TEST(XmlEscape, ReplacesWhatXmlCannotCarry) {
    const std::string replacement = "\xEF\xBF\xBD";
    EXPECT_EQ(xml_escape(std::string_view("a\0b", 3)), "a" + replacement + "b");
    EXPECT_EQ(xml_escape("a\x01\x1F"), "a" + replacement + replacement);
    EXPECT_EQ(xml_escape("\xFF"), replacement);                    // never valid in UTF-8
    EXPECT_EQ(xml_escape("\xC3"), replacement);                    // truncated sequence
    EXPECT_EQ(xml_escape("\xC0\xAF"), replacement + replacement);  // overlong '/'
    EXPECT_EQ(xml_escape("\xED\xA0\x80"), replacement + replacement + replacement);  // surrogate
    EXPECT_EQ(xml_escape("\xEF\xBF\xBE"), replacement);                              // U+FFFE
}

TEST(ErrorXml, ProducesS3ErrorBody) {
    EXPECT_EQ(
        error_xml("NoSuchKey", "The specified key does not exist.", "/audio/a&b.mp3", "req-1"),
        R"(<?xml version="1.0" encoding="UTF-8"?>)"
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
        "<Resource>/audio/a&amp;b.mp3</Resource><RequestId>req-1</RequestId></Error>");
}

TEST(ErrorXml, EscapesEveryField) {
    const std::string body = error_xml("<C>", "x < y", "</Resource><Evil/>", "\"id\"");
    EXPECT_NE(body.find("<Code>&lt;C&gt;</Code>"), std::string::npos);
    EXPECT_NE(body.find("<Message>x &lt; y</Message>"), std::string::npos);
    EXPECT_NE(body.find("<Resource>&lt;/Resource&gt;&lt;Evil/&gt;</Resource>"), std::string::npos);
    EXPECT_NE(body.find("<RequestId>&quot;id&quot;</RequestId>"), std::string::npos);
}

}  // namespace
}  // namespace audiodrop::s3
