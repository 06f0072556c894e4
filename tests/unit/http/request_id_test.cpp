#include "http/request_id.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/ids.hpp"

namespace audiodrop::http {
namespace {

namespace bhttp = boost::beast::http;

bhttp::fields with_ids(std::initializer_list<std::string> ids) {
    bhttp::fields header;
    header.set(bhttp::field::host, "localhost");
    for (const auto& id : ids) header.insert("X-Request-Id", id);
    return header;
}

bool fresh(const std::string& id) { return core::looks_like_id(id, "req_"); }

TEST(RequestId, CommonIdFormatsAreWellFormed) {
    for (const char* id : {"a", "req_01jdz8x5k7w3m2", "3f2b8c1e-9d4a-4c7e-8b1f-2a6d9e0c4b7a",
                           "01ARZ3NDEKTSV4RRFFQ69G5FAV", "lb:1a2b.3c_4d-5e"}) {
        EXPECT_TRUE(well_formed_request_id(id)) << id;
    }
    EXPECT_TRUE(well_formed_request_id(std::string(kMaxRequestIdLength, 'x')));
}

TEST(RequestId, EmptyTooLongOrOtherCharactersAreNot) {
    EXPECT_FALSE(well_formed_request_id(""));
    EXPECT_FALSE(well_formed_request_id(std::string(kMaxRequestIdLength + 1, 'x')));
    for (const char* id :
         {"two words", "tab\there", "line\nbreak", "cr\rhere", "quote\"d", "back\\slash",
          "semi;colon", "comma,separated", "slash/ed", "equals=", "nul\x01", "caf\xc3\xa9"}) {
        EXPECT_FALSE(well_formed_request_id(id)) << id;
    }
}

TEST(RequestId, AWellFormedHeaderIsKept) {
    EXPECT_EQ(request_id_of(with_ids({"trace-42"})), "trace-42");
}

TEST(RequestId, TheHeaderNameIsCaseInsensitive) {
    bhttp::fields header;
    header.insert("x-request-id", "lower-case-name");
    EXPECT_EQ(request_id_of(header), "lower-case-name");
}

TEST(RequestId, WithoutAUsableHeaderAFreshIdIsMade) {
    const auto none = request_id_of(with_ids({}));
    EXPECT_TRUE(fresh(none)) << none;
    for (const auto& bad : {std::string(), std::string(kMaxRequestIdLength + 1, 'x'),
                            std::string("has space"), std::string("<script>")}) {
        const auto id = request_id_of(with_ids({bad}));
        EXPECT_TRUE(fresh(id)) << bad << " gave " << id;
    }
}

TEST(RequestId, TwoHeadersAreBothIgnoredEvenWhenEachIsWellFormed) {
    const auto id = request_id_of(with_ids({"first", "second"}));
    EXPECT_TRUE(fresh(id)) << id;
}

TEST(RequestId, EachFreshIdIsNew) {
    EXPECT_NE(request_id_of(with_ids({})), request_id_of(with_ids({})));
}

}  // namespace
}  // namespace audiodrop::http
