#include "http/api_response.hpp"

#include <gtest/gtest.h>

#include "http/s3_response.hpp"

namespace audiodrop::http {
namespace {

using core::ErrorKind;

constexpr std::string_view kSecret = "/srv/audiodrop/data/objects/x: Permission denied";

TEST(ApiResponse, FailuresOfTheServerOrItsStoresDoNotTellTheirDetails) {
    for (const auto kind : {ErrorKind::internal, ErrorKind::unavailable, ErrorKind::storage_full}) {
        const auto error = core::make_error(kind, "some_code", std::string(kSecret));
        EXPECT_TRUE(message_withheld(error));
        const auto api = api_error(error, "req_1");
        EXPECT_EQ(api.body().find("/srv/audiodrop"), std::string::npos) << api.body();
        EXPECT_NE(api.body().find("req_1"), std::string::npos);
        const auto s3 = s3_error(error, "/bucket/key", "req_2", false);
        EXPECT_EQ(s3.body().find("/srv/audiodrop"), std::string::npos) << s3.body();
    }
}

TEST(ApiResponse, MistakesOfTheClientAndServerBusyAreTold) {
    const auto invalid = core::make_error(ErrorKind::invalid_input, "invalid_filesize",
                                          "filesize must be a positive integer");
    EXPECT_FALSE(message_withheld(invalid));
    EXPECT_NE(api_error(invalid, "r").body().find("filesize must be"), std::string::npos);
    const auto busy = core::make_error(ErrorKind::unavailable, "server_busy", "retry in 1 s",
                                       core::Reason::server_busy);
    EXPECT_FALSE(message_withheld(busy));
    EXPECT_EQ(public_message(busy), "retry in 1 s");
}

}  // namespace
}  // namespace audiodrop::http
