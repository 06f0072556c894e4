#include "metadata/records.hpp"

#include <gtest/gtest.h>

namespace audiodrop::metadata {
namespace {

TEST(UploadStateNames, EveryStateRoundTripsThroughItsStoredWord) {
    for (auto state :
         {UploadState::open, UploadState::completed, UploadState::aborted, UploadState::expired}) {
        EXPECT_EQ(upload_state_from_string(to_string(state)), state);
    }
}

TEST(UploadStateNames, StoredWordsAreFixed) {
    // Databases hold these words; changing one would orphan existing rows.
    EXPECT_EQ(to_string(UploadState::open), "open");
    EXPECT_EQ(to_string(UploadState::completed), "completed");
    EXPECT_EQ(to_string(UploadState::aborted), "aborted");
    EXPECT_EQ(to_string(UploadState::expired), "expired");
}

TEST(UploadStateNames, UnknownWordsAreRejected) {
    EXPECT_FALSE(upload_state_from_string(""));
    EXPECT_FALSE(upload_state_from_string("Open"));
    EXPECT_FALSE(upload_state_from_string("deleted"));
}

}  // namespace
}  // namespace audiodrop::metadata
