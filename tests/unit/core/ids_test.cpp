#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace audiodrop::core {
namespace {

TEST(Ids, NewIdsAreUniqueAndRecognised) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto id = new_id("file_");
        EXPECT_TRUE(looks_like_id(id, "file_")) << id;
        EXPECT_TRUE(seen.insert(id).second);
    }
}

TEST(Ids, ForeignShapesAreRejected) {
    EXPECT_FALSE(looks_like_id("upload_abc", "file_"));
    EXPECT_FALSE(looks_like_id("file_", "file_"));
    EXPECT_FALSE(looks_like_id("file_../../../etc/passwd", "file_"));
    EXPECT_FALSE(looks_like_id("file_AAAAAAAAAAAAAAAAAAAAAAAAAA", "file_"));
}

}  // namespace
}  // namespace audiodrop::core
