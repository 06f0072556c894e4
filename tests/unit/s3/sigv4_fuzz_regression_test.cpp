// Inputs the fuzz targets (tests/fuzz/sigv4_presigned_fuzz.cpp) found unsafe, kept as
// plain tests; the sanitizer build of the unit tests reports a regression as UB.

#include <gtest/gtest.h>

#include "s3/sigv4.hpp"

namespace audiodrop::s3 {
namespace {

// A year whose nanoseconds overflow TimePoint's 64 bits used to be converted anyway
// (signed overflow in std::chrono) before any check of the time.
TEST(AmzDateFuzzRegression, RefusesYearsATimePointCannotHold) {
    core::TimePoint t;
    for (const char* far : {"99991231T235959Z", "22620412T000000Z", "00000101T000000Z",
                            "16770921T000000Z", "19691231T235959Z"}) {
        EXPECT_FALSE(parse_amz_date(far, t)) << far;
    }
    ASSERT_TRUE(parse_amz_date("22611231T235959Z", t));
    EXPECT_EQ(amz_date(t), "22611231T235959Z");
    ASSERT_TRUE(parse_amz_date("19700101T000000Z", t));
    EXPECT_EQ(core::to_unix(t), 0);
}

TEST(AmzDateFuzzRegression, AFarFutureSignatureIsRefusedAsMalformed) {
    const Credentials creds{"AKIDFUZZEXAMPLE", "secret"};
    const ReceivedRequest req{
        "PUT", "127.0.0.1:8081", "/audiodrop/files/f.mp3",
        "partNumber=1&uploadId=u&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIDFUZZEXAMPLE%2F99991201%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=99991201T120000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=0e267ab60a1f5a2819a5f0befa5faebf1c9ee7db31e1017819e5bcd8876053c8"};
    const auto verified = verify_presigned(req, creds, "us-east-1", core::from_unix(1796126400));
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().code, "AccessDenied");
    EXPECT_NE(verified.error().message.find("X-Amz-Date"), std::string::npos);
}

}  // namespace
}  // namespace audiodrop::s3
