#include "core/request_context.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace audiodrop::core {
namespace {

TEST(RequestScope, NoRequestIsCurrentOutsideOne) { EXPECT_EQ(current_request_id(), ""); }

TEST(RequestScope, RestoresWhatWasCurrentBefore) {
    const RequestScope outer("req_outer");
    {
        const RequestScope inner("req_inner");
        EXPECT_EQ(current_request_id(), "req_inner");
    }
    EXPECT_EQ(current_request_id(), "req_outer");
}

TEST(RequestScope, IsCurrentOnItsOwnThreadOnly) {
    const RequestScope scope("req_here");
    std::string elsewhere = "unset";
    std::thread other([&] { elsewhere = current_request_id(); });
    other.join();
    EXPECT_EQ(elsewhere, "");
}

}  // namespace
}  // namespace audiodrop::core
