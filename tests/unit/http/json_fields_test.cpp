#include "http/json_fields.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace audiodrop::http {
namespace {

using core::ErrorKind;
using nlohmann::json;

json object(std::string_view text) {
    auto parsed = parse_json_object(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    return parsed ? *parsed : json::object();
}

template <class T>
void expect_error(const core::Result<T>& r, ErrorKind kind, const std::string& code) {
    ASSERT_FALSE(r.has_value()) << "expected " << code;
    EXPECT_EQ(r.error().kind, kind) << r.error().code;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
}

// --- parse_json_object ----------------------------------------------------------------

TEST(ParseJsonObject, AcceptsAnObject) {
    auto parsed = parse_json_object(R"({"filesize": 10, "filetype": "mp3"})");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->at("filetype"), "mp3");
    EXPECT_TRUE(parse_json_object("{}").has_value());
    EXPECT_TRUE(parse_json_object(" \n{ } \n").has_value());
}

TEST(ParseJsonObject, RefusesNestingPastSixteenLevelsBeforeBuildingIt) {
    const auto nested = [](int depth) {
        std::string text = "{\"a\":";
        for (int i = 1; i < depth; ++i) text += "[";
        text += "1";
        for (int i = 1; i < depth; ++i) text += "]";
        return text + "}";
    };
    EXPECT_TRUE(parse_json_object(nested(16)).has_value());
    expect_error(parse_json_object(nested(17)), ErrorKind::invalid_input, "invalid_json");
    // A megabyte of brackets is refused by the scan, not parsed.
    expect_error(parse_json_object("{\"a\":" + std::string(1 << 20, '[')), ErrorKind::invalid_input,
                 "invalid_json");
    // Brackets inside strings, escaped quotes included, are text.
    const std::string in_string = "{\"a\":\"\\\"" + std::string(100, '[') + "\"}";
    auto parsed = parse_json_object(in_string);
    ASSERT_TRUE(parsed.has_value()) << in_string;
    EXPECT_EQ(parsed->at("a"), "\"" + std::string(100, '['));
}

TEST(ParseJsonObject, RefusesJsonThatIsNotAnObject) {
    for (const char* body : {"[]", "[1,2]", "\"text\"", "42", "true", "null"}) {
        SCOPED_TRACE(body);
        expect_error(parse_json_object(body), ErrorKind::invalid_input, "invalid_json");
    }
}

TEST(ParseJsonObject, RefusesInvalidJson) {
    for (const char* body : {"", "{", "{\"a\":}", "{'a': 1}", "{\"a\": 1,}", "{} {}", "filesize=10",
                             "{\"a\": 1} trailing"}) {
        SCOPED_TRACE(body);
        expect_error(parse_json_object(body), ErrorKind::invalid_input, "invalid_json");
    }
}

// --- required_string / optional_string ------------------------------------------------

TEST(RequiredString, ReturnsTheString) {
    auto v = required_string(object(R"({"user_id": "user-123"})"), "user_id");
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, "user-123");
    EXPECT_EQ(*required_string(object(R"({"s": ""})"), "s"), "");
}

TEST(RequiredString, RefusesMissingNullAndNonStrings) {
    for (const char* body :
         {"{}", R"({"user_id": null})", R"({"user_id": 5})", R"({"user_id": ["a"]})",
          R"({"user_id": {"a": 1}})", R"({"user_id": true})"}) {
        SCOPED_TRACE(body);
        expect_error(required_string(object(body), "user_id"), ErrorKind::invalid_input,
                     "invalid_request");
    }
}

TEST(OptionalString, AbsentOrNullIsEmpty) {
    for (const char* body : {"{}", R"({"file_md5": null})"}) {
        auto v = optional_string(object(body), "file_md5");
        ASSERT_TRUE(v.has_value()) << body;
        EXPECT_FALSE(v->has_value()) << body;
    }
    auto v = optional_string(object(R"({"file_md5": "abc"})"), "file_md5");
    ASSERT_TRUE(v.has_value() && v->has_value());
    EXPECT_EQ(**v, "abc");
    expect_error(optional_string(object(R"({"file_md5": 1})"), "file_md5"),
                 ErrorKind::invalid_input, "invalid_request");
}

// --- required_positive_integer --------------------------------------------------------

TEST(RequiredPositiveInteger, AcceptsPositiveIntegersUpToTheLargest) {
    auto one = required_positive_integer(object(R"({"filesize": 1})"), "filesize", "bad_size");
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(*one, 1u);
    auto big = required_positive_integer(object(R"({"filesize": 18446744073709551615})"),
                                         "filesize", "bad_size");
    ASSERT_TRUE(big.has_value());
    EXPECT_EQ(*big, std::numeric_limits<std::uint64_t>::max());
}

TEST(RequiredPositiveInteger, RefusesEverythingElseWithTheGivenCode) {
    for (const char* body :
         {"{}", R"({"filesize": null})", R"({"filesize": 0})", R"({"filesize": -1})",
          R"({"filesize": 1.5})", R"({"filesize": 10.0})", R"({"filesize": 1e3})",
          R"({"filesize": "10"})", R"({"filesize": true})", R"({"filesize": [10]})",
          R"({"filesize": {"n": 10}})", R"({"filesize": 18446744073709551616})"}) {
        SCOPED_TRACE(body);
        expect_error(required_positive_integer(object(body), "filesize", "invalid_filesize"),
                     ErrorKind::invalid_input, "invalid_filesize");
    }
}

// --- optional_integer -----------------------------------------------------------------

TEST(OptionalInteger, AbsentOrNullIsEmpty) {
    for (const char* body : {"{}", R"({"expires_in": null})"}) {
        auto v = optional_integer(object(body), "expires_in", "invalid_expires_in");
        ASSERT_TRUE(v.has_value()) << body;
        EXPECT_FALSE(v->has_value()) << body;
    }
}

TEST(OptionalInteger, ReturnsSignedIntegersAsGiven) {
    const std::pair<const char*, std::int64_t> cases[] = {
        {R"({"n": 3600})", 3600},
        {R"({"n": 0})", 0},
        {R"({"n": -5})", -5},
        {R"({"n": 9223372036854775807})", std::numeric_limits<std::int64_t>::max()},
        {R"({"n": -9223372036854775808})", std::numeric_limits<std::int64_t>::min()},
    };
    for (const auto& [body, want] : cases) {
        SCOPED_TRACE(body);
        auto v = optional_integer(object(body), "n", "invalid_n");
        ASSERT_TRUE(v.has_value() && v->has_value());
        EXPECT_EQ(**v, want);
    }
}

TEST(OptionalInteger, RefusesNonIntegersWithTheGivenCode) {
    for (const char* body : {R"({"n": 1.5})", R"({"n": 60.0})", R"({"n": "3600"})",
                             R"({"n": true})", R"({"n": [1]})", R"({"n": {}})"}) {
        SCOPED_TRACE(body);
        expect_error(optional_integer(object(body), "n", "invalid_n"), ErrorKind::invalid_input,
                     "invalid_n");
    }
}

// --- part_list ------------------------------------------------------------------------

TEST(PartList, ReadsEntriesInTheOrderGiven) {
    auto parts = part_list(object(R"({"part_list": [
        {"PartNumber": 2, "ETag": "\"b\""},
        {"PartNumber": 1, "ETag": "a", "Extra": true}
    ]})"));
    ASSERT_TRUE(parts.has_value()) << parts.error().message;
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ((*parts)[0].part_number, 2);
    EXPECT_EQ((*parts)[0].etag, "\"b\"");
    EXPECT_EQ((*parts)[1].part_number, 1);
    EXPECT_EQ((*parts)[1].etag, "a");
}

TEST(PartList, LeavesPartNumberRangeChecksToTheCompletionCheck) {
    // 0 and negative numbers are integers: check_part_list refuses them with a message
    // that names the entry.
    auto parts = part_list(object(R"({"part_list": [{"PartNumber": 0, "ETag": "x"},
                                                    {"PartNumber": -3, "ETag": "y"}]})"));
    ASSERT_TRUE(parts.has_value());
    EXPECT_EQ((*parts)[0].part_number, 0);
    EXPECT_EQ((*parts)[1].part_number, -3);
}

TEST(PartList, RefusesAMissingEmptyOrNonArrayList) {
    for (const char* body :
         {"{}", R"({"part_list": null})", R"({"part_list": []})", R"({"part_list": {}})",
          R"({"part_list": "1"})", R"({"part_list": {"PartNumber": 1, "ETag": "a"}})"}) {
        SCOPED_TRACE(body);
        expect_error(part_list(object(body)), ErrorKind::invalid_input, "invalid_part_list");
    }
}

TEST(PartList, RefusesMalformedEntries) {
    for (const char* list : {
             R"([1])",
             R"([null])",
             R"([["1", "a"]])",
             R"([{"ETag": "a"}])",
             R"([{"PartNumber": null, "ETag": "a"}])",
             R"([{"PartNumber": "1", "ETag": "a"}])",
             R"([{"PartNumber": 1.5, "ETag": "a"}])",
             R"([{"PartNumber": 1.0, "ETag": "a"}])",
             R"([{"PartNumber": true, "ETag": "a"}])",
             R"([{"PartNumber": 1}])",
             R"([{"PartNumber": 1, "ETag": null}])",
             R"([{"PartNumber": 1, "ETag": 5}])",
             R"([{"partnumber": 1, "etag": "a"}])",
             R"([{"PartNumber": 1, "ETag": "a"}, 2])",
         }) {
        SCOPED_TRACE(list);
        expect_error(part_list(object(std::string(R"({"part_list": )") + list + "}")),
                     ErrorKind::invalid_input, "invalid_part_list");
    }
}

}  // namespace
}  // namespace audiodrop::http
