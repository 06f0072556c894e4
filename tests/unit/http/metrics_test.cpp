#include "http/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "http/latency_histogram.hpp"

namespace audiodrop::http {

namespace bhttp = boost::beast::http;

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kBuckets = LatencyHistogram::kBoundsMs.size() + 1;

// Non-cumulative count of each bucket of `h`.
std::vector<std::uint64_t> per_bucket(const LatencyHistogram& h) {
    const auto s = h.snapshot();
    std::vector<std::uint64_t> out;
    std::uint64_t below = 0;
    for (const auto c : s.cumulative) {
        out.push_back(c - below);
        below = c;
    }
    return out;
}

// The value of the series `series` (name and labels, exactly as rendered) in `text`.
std::optional<std::string> value_of(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with(series + " ")) return line.substr(series.size() + 1);
    }
    return std::nullopt;
}

TEST(LatencyHistogram, ADurationOnABoundBelongsToThatBound) {
    LatencyHistogram h;
    h.observe(5ms);
    h.observe(1s);
    std::vector<std::uint64_t> expected(kBuckets, 0);
    expected[0] = 1;  // le 0.005
    expected[7] = 1;  // le 1
    EXPECT_EQ(per_bucket(h), expected);
}

TEST(LatencyHistogram, ADurationJustAboveABoundGoesToTheNext) {
    LatencyHistogram h;
    h.observe(5ms + 1ns);
    h.observe(0ns);
    std::vector<std::uint64_t> expected(kBuckets, 0);
    expected[0] = 1;
    expected[1] = 1;  // le 0.01
    EXPECT_EQ(per_bucket(h), expected);
}

TEST(LatencyHistogram, PastTheLastBoundOnlyInfinityCountsIt) {
    LatencyHistogram h;
    h.observe(61s);
    const auto s = h.snapshot();
    for (std::size_t i = 0; i + 1 < kBuckets; ++i) EXPECT_EQ(s.cumulative[i], 0U) << i;
    EXPECT_EQ(s.count(), 1U);
    EXPECT_DOUBLE_EQ(s.sum_seconds, 61.0);
}

TEST(LatencyHistogram, SnapshotIsCumulativeAndSums) {
    LatencyHistogram h;
    h.observe(2ms);
    h.observe(20ms);
    h.observe(200ms);
    h.observe(2s);
    const auto s = h.snapshot();
    EXPECT_EQ(s.cumulative[0], 1U);  // le 0.005
    EXPECT_EQ(s.cumulative[2], 2U);  // le 0.025
    EXPECT_EQ(s.cumulative[5], 3U);  // le 0.25
    EXPECT_EQ(s.cumulative[8], 4U);  // le 2.5
    EXPECT_EQ(s.count(), 4U);
    for (std::size_t i = 1; i < kBuckets; ++i) EXPECT_LE(s.cumulative[i - 1], s.cumulative[i]);
    EXPECT_DOUBLE_EQ(s.sum_seconds, 2.222);
}

const std::string kGenerate =
    R"(listener="api",route="/open/partner/files/upload/generate-presigned-urls",method="POST")";

TEST(Metrics, CountsRequestsByRouteMethodAndStatus) {
    Metrics m;
    m.count_request(Metrics::Listener::api, RequestRoute::generate_presigned_urls,
                    bhttp::verb::post, 200, 3ms);
    m.count_request(Metrics::Listener::api, RequestRoute::generate_presigned_urls,
                    bhttp::verb::post, 200, 30ms);
    m.count_request(Metrics::Listener::api, RequestRoute::generate_presigned_urls,
                    bhttp::verb::post, 401, 1ms);
    m.count_request(Metrics::Listener::storage, RequestRoute::storage_part_put, bhttp::verb::put,
                    200, 2s);
    const auto text = m.render();
    EXPECT_EQ(value_of(text, "audiodrop_http_requests_total{" + kGenerate + ",status=\"200\"}"),
              "2");
    EXPECT_EQ(value_of(text, "audiodrop_http_requests_total{" + kGenerate + ",status=\"401\"}"),
              "1");
    EXPECT_EQ(value_of(text,
                       "audiodrop_http_requests_total{listener=\"storage\",route=\"storage_"
                       "part_put\",method=\"PUT\",status=\"200\"}"),
              "1");
}

TEST(Metrics, RendersEachRouteHistogramCumulatively) {
    Metrics m;
    for (const auto took : {3ms, 30ms, 300ms}) {
        m.count_request(Metrics::Listener::api, RequestRoute::generate_presigned_urls,
                        bhttp::verb::post, 200, took);
    }
    const auto text = m.render();
    const std::string bucket = "audiodrop_http_request_duration_seconds_bucket{" + kGenerate;
    EXPECT_EQ(value_of(text, bucket + ",le=\"0.005\"}"), "1");
    EXPECT_EQ(value_of(text, bucket + ",le=\"0.025\"}"), "1");
    EXPECT_EQ(value_of(text, bucket + ",le=\"0.05\"}"), "2");
    EXPECT_EQ(value_of(text, bucket + ",le=\"0.5\"}"), "3");
    EXPECT_EQ(value_of(text, bucket + ",le=\"60\"}"), "3");
    EXPECT_EQ(value_of(text, bucket + ",le=\"+Inf\"}"), "3");
    EXPECT_EQ(value_of(text, "audiodrop_http_request_duration_seconds_count{" + kGenerate + "}"),
              "3");
    EXPECT_EQ(value_of(text, "audiodrop_http_request_duration_seconds_sum{" + kGenerate + "}"),
              "0.333");
    // A route nobody asked for has no series.
    EXPECT_EQ(text.find("route=\"/readyz\""), std::string::npos);
    EXPECT_NE(text.find("# TYPE audiodrop_http_request_duration_seconds histogram\n"),
              std::string::npos);
}

TEST(Metrics, AnUnknownRouteMethodOrStatusIsCountedUnderAFixedLabel) {
    Metrics m;
    m.count_request(Metrics::Listener::api, static_cast<RequestRoute>(250), bhttp::verb::patch, 0,
                    1ms);
    m.count_request(Metrics::Listener::api, RequestRoute::unmatched, bhttp::verb::get, 999, 1ms);
    m.count_request(Metrics::Listener::api, RequestRoute::unmatched, bhttp::verb::get, 404, 1ms);
    const auto text = m.render();
    const std::string requests =
        R"(audiodrop_http_requests_total{listener="api",route="unmatched",)";
    EXPECT_EQ(value_of(text, requests + R"(method="OTHER",status="other"})"), "1");
    EXPECT_EQ(value_of(text, requests + R"(method="GET",status="other"})"), "1");
    EXPECT_EQ(value_of(text, requests + R"(method="GET",status="404"})"), "1");
    EXPECT_EQ(value_of(text, R"(audiodrop_http_request_duration_seconds_count{listener="api",)"
                             R"(route="unmatched",method="GET"})"),
              "2");
}

TEST(Metrics, EscapesLabelValues) {
    core::WorkerPool pool(
        core::WorkerPool::Options{.name = "odd\"pool\\with\nbreak", .threads = 1});
    Metrics m;
    m.watch_pools({&pool});
    const auto text = m.render();
    EXPECT_EQ(value_of(text, R"(audiodrop_worker_threads{pool="odd\"pool\\with\nbreak"})"), "1");
    EXPECT_EQ(value_of(text, R"(audiodrop_worker_queue_limit{pool="odd\"pool\\with\nbreak"})"),
              "1024");
    pool.stop();
}

TEST(Metrics, CountsStoreFailuresByStoreAndKindOnly) {
    using core::ErrorKind;
    using core::make_error;
    Metrics m;
    m.count_error(make_error(ErrorKind::unavailable, "metadata_unavailable", "down"));
    m.count_error(make_error(ErrorKind::storage_full, "metadata_storage_full", "full"));
    m.count_error(make_error(ErrorKind::unavailable, "storage_unavailable", "down"));
    m.count_error(make_error(ErrorKind::storage_full, "InsufficientStorage", "full"));
    m.count_error(make_error(ErrorKind::internal, "InternalError", "missing"));
    // Not a store's failure: a full queue, a bug, a client's mistake.
    m.count_error(
        make_error(ErrorKind::unavailable, "server_busy", "busy", core::Reason::server_busy));
    m.count_error(make_error(ErrorKind::internal, "internal", "bug"));
    m.count_error(make_error(ErrorKind::not_found, "NoSuchKey", "gone"));
    const auto text = m.render();
    const auto errors = [&](const char* store, const char* kind) {
        return value_of(text, std::string("audiodrop_store_errors_total{store=\"") + store +
                                  "\",kind=\"" + kind + "\"}");
    };
    EXPECT_EQ(errors("metadata", "unavailable"), "1");
    EXPECT_EQ(errors("metadata", "storage_full"), "1");
    EXPECT_EQ(errors("metadata", "internal"), "0");
    EXPECT_EQ(errors("objects", "unavailable"), "1");
    EXPECT_EQ(errors("objects", "storage_full"), "1");
    EXPECT_EQ(errors("objects", "internal"), "1");
}

TEST(Metrics, EveryFamilyHasOneHelpAndTypeBeforeItsSamples) {
    Metrics m;
    m.count_request(Metrics::Listener::api, RequestRoute::healthz, bhttp::verb::get, 200, 1ms);
    // Registered interleaved, as one listener's series and then the other's are.
    m.add_counter("audiodrop_test_total{phase=\"a\"}", "A test counter.", [] { return 1.0; });
    m.add_gauge("audiodrop_test_gauge{phase=\"a\"}", "A test gauge.", [] { return 3.0; });
    m.add_counter("audiodrop_test_total{phase=\"b\"}", "A test counter.", [] { return 2.0; });
    m.add_gauge("audiodrop_test_gauge{phase=\"b\"}", "A test gauge.", [] { return 4.0; });
    const auto text = m.render();
    EXPECT_EQ(value_of(text, "audiodrop_test_total{phase=\"b\"}"), "2");
    EXPECT_EQ(value_of(text, "audiodrop_test_gauge{phase=\"b\"}"), "4");
    std::istringstream lines(text);
    std::vector<std::string> typed;
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("# TYPE ")) {
            const auto name = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_EQ(std::count(typed.begin(), typed.end(), name), 0) << name;
            typed.push_back(name);
            continue;
        }
        if (line.starts_with("#")) continue;
        const auto name = line.substr(0, line.find_first_of("{ "));
        ASSERT_FALSE(typed.empty()) << line;
        EXPECT_TRUE(name.starts_with(typed.back())) << line << " under " << typed.back();
    }
}

}  // namespace
}  // namespace audiodrop::http
