#include "webhook/sender.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "webhook/signature.hpp"

namespace audiodrop::webhook {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long any receiver waits for anything: a bound on every loop here, far above what
// a passing test needs.
constexpr auto kPatience = 10s;

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, remaining_ms(deadline)) == 1;
}

bool send_all(int fd, std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
        if (!wait_for(fd, POLLOUT, deadline)) return false;
        const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Reads until the peer closes the connection (or the deadline).
void wait_for_close(int fd, Clock::time_point deadline) {
    char buffer[4096];
    for (int i = 0; i < 100000 && wait_for(fd, POLLIN, deadline); ++i) {
        if (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) <= 0) return;
    }
}

struct Request {
    std::string request_line;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;
    bool complete = false;
};

// One HTTP/1.1 request with a Content-Length body, as libcurl sends a POST.
Request read_request(int fd, Clock::time_point deadline) {
    Request r;
    std::string data;
    char buffer[16384];
    std::size_t head_end = std::string::npos;
    std::size_t length = 0;
    for (int i = 0; i < 100000 && data.size() < 4 * 1024 * 1024; ++i) {
        if (head_end == std::string::npos) {
            head_end = data.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                std::size_t at = data.find("\r\n");
                r.request_line = data.substr(0, at);
                while (at < head_end) {
                    const std::size_t next = data.find("\r\n", at + 2);
                    const std::string line = data.substr(at + 2, next - at - 2);
                    at = next;
                    const auto colon = line.find(':');
                    if (colon == std::string::npos) continue;
                    std::string name = line.substr(0, colon);
                    for (auto& c : name) c = static_cast<char>(std::tolower(c));
                    auto value = line.substr(colon + 1);
                    value.erase(0, value.find_first_not_of(' '));
                    r.headers[name] = value;
                }
                length =
                    std::stoul(r.headers.count("content-length") != 0 ? r.headers["content-length"]
                                                                      : std::string("0"));
            }
        }
        if (head_end != std::string::npos && data.size() >= head_end + 4 + length) {
            r.body = data.substr(head_end + 4, length);
            r.complete = true;
            return r;
        }
        if (!wait_for(fd, POLLIN, deadline)) return r;
        const auto n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) return r;
        data.append(buffer, static_cast<std::size_t>(n));
    }
    return r;
}

// A receiver on 127.0.0.1 (a port the kernel picks) that accepts up to `connections`
// connections one after the other, handing each to `handler` on its own thread.
class Receiver {
  public:
    using Handler = std::function<void(int fd, Clock::time_point deadline)>;

    explicit Receiver(Handler handler = {}, int connections = 1) : handler_(std::move(handler)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t size = sizeof a;
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), size) != 0 ||
            ::listen(listener_, 64) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &size) != 0 ||
            ::pipe2(stop_, O_CLOEXEC) != 0) {
            ADD_FAILURE() << "cannot listen on 127.0.0.1";
            return;
        }
        port_ = ntohs(a.sin_port);
        if (connections > 0) thread_ = std::thread([this, connections] { run(connections); });
    }

    ~Receiver() {
        if (stop_[1] >= 0) (void)!::write(stop_[1], "x", 1);
        join();
        for (int fd : {listener_, stop_[0], stop_[1]}) {
            if (fd >= 0) ::close(fd);
        }
    }

    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;

    std::string url(const std::string& path = "/hook") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    int port() const { return port_; }
    int accepted() const { return accepted_.load(); }
    // Waits until the expected connections have been handled (or kPatience passed).
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    // True when a connection waits in the backlog, unaccepted: a client connected.
    bool has_pending_connection() const {
        pollfd p{listener_, POLLIN, 0};
        return ::poll(&p, 1, 0) == 1;
    }

  private:
    void run(int connections) {
        const auto deadline = Clock::now() + kPatience;
        for (int i = 0; i < connections; ++i) {
            pollfd p[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
            if (::poll(p, 2, remaining_ms(deadline)) <= 0 || (p[1].revents & POLLIN) != 0) return;
            const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) return;
            ++accepted_;
            if (handler_) handler_(fd, deadline);
            ::close(fd);
        }
    }

    Handler handler_;
    int listener_ = -1;
    int stop_[2] = {-1, -1};
    int port_ = 0;
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

// A handler that records the request and answers with `response`.
Receiver::Handler answer(std::string response, Request* seen = nullptr) {
    return [response = std::move(response), seen](int fd, Clock::time_point deadline) {
        auto request = read_request(fd, deadline);
        if (seen != nullptr) *seen = std::move(request);
        send_all(fd, response, deadline);
    };
}

std::string response(int status, const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: 2\r\n" +
           extra_headers + "Connection: close\r\n\r\nok";
}

SendOptions local_options() {
    SendOptions o;
    o.timeout = 5s;
    o.policy = {.allow_http = true, .allow_private = true};
    return o;
}

TEST(Sender, DeliversBodyAndHeadersIntact) {
    Request seen;
    Receiver receiver(answer(response(200), &seen));
    std::string body = R"({"event":"file.completed","name":"Grüße \"quoted\" \\ / \u0000"})";
    body += std::string(100000, 'x');  // larger than one socket read
    const auto signed_headers = sign("evt_1", 1700000000, body, {new_secret()});

    const auto r = post_json(receiver.url(), signed_headers.headers, body, local_options());
    receiver.join();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.error, "");
    EXPECT_TRUE(r.delivered());
    ASSERT_TRUE(seen.complete);
    EXPECT_EQ(seen.request_line, "POST /hook HTTP/1.1");
    EXPECT_EQ(seen.body, body);
    EXPECT_EQ(seen.headers["content-type"], "application/json");
    EXPECT_EQ(seen.headers["user-agent"], "audiodrop-webhooks/0.1");
    EXPECT_EQ(seen.headers.count("expect"), 0u);
    for (const auto& [name, value] : signed_headers.headers) {
        std::string lower = name;
        for (auto& c : lower) c = static_cast<char>(std::tolower(c));
        EXPECT_EQ(seen.headers[lower], value) << name;
    }
}

TEST(Sender, AnErrorStatusIsNotDelivered) {
    Receiver receiver(answer(response(500)));
    const auto r = post_json(receiver.url(), {}, "{}", local_options());
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.error, "");
    EXPECT_FALSE(r.delivered());
}

TEST(Sender, ARedirectIsNotFollowed) {
    Receiver target;  // listens, accepts nothing: a connection would wait in its backlog
    Receiver redirector(answer(response(302, "Location: " + target.url() + "\r\n")));
    const auto r = post_json(redirector.url(), {}, "{}", local_options());
    redirector.join();
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.error, "");
    EXPECT_FALSE(r.delivered());
    EXPECT_FALSE(target.has_pending_connection());
    EXPECT_EQ(target.accepted(), 0);
}

TEST(Sender, AReceiverThatNeverAnswersIsCutAtTheTimeout) {
    Receiver receiver([](int fd, Clock::time_point deadline) {
        (void)read_request(fd, deadline);
        wait_for_close(fd, deadline);
    });
    auto options = local_options();
    options.timeout = 500ms;
    const auto start = Clock::now();
    const auto r = post_json(receiver.url(), {}, "{}", options);
    const auto took = Clock::now() - start;
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error, "timed out after 500 ms");
    EXPECT_FALSE(r.delivered());
    EXPECT_GE(took, 450ms);
    EXPECT_LT(took, 3s);
}

TEST(Sender, SlowHeadersAreCutAtTheSameTimeout) {
    Receiver receiver([](int fd, Clock::time_point deadline) {
        (void)read_request(fd, deadline);
        send_all(fd, "HTTP/1.1 200 OK\r\nX-Partial: yes\r\n", deadline);
        wait_for_close(fd, deadline);
    });
    auto options = local_options();
    options.timeout = 500ms;
    const auto start = Clock::now();
    const auto r = post_json(receiver.url(), {}, "{}", options);
    EXPECT_EQ(r.error, "timed out after 500 ms");
    EXPECT_FALSE(r.delivered());
    EXPECT_LT(Clock::now() - start, 3s);
}

// Sends `head`, then `chunk` again and again until the client goes away (at most 64 MiB).
Receiver::Handler endless(std::string head, std::string chunk) {
    return [head = std::move(head), chunk = std::move(chunk)](int fd, Clock::time_point deadline) {
        (void)read_request(fd, deadline);
        if (!send_all(fd, head, deadline)) return;
        for (std::size_t sent = 0; sent < 64u * 1024 * 1024; sent += chunk.size()) {
            if (!send_all(fd, chunk, deadline)) return;
        }
    };
}

TEST(Sender, AnEndlessBodyIsCutAtMaxResponseBytes) {
    Receiver receiver(
        endless("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", std::string(16384, 'b')));
    const auto start = Clock::now();
    const auto r = post_json(receiver.url(), {}, "{}", local_options());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.error, "response over 65536 bytes");
    EXPECT_FALSE(r.delivered());
    EXPECT_LT(Clock::now() - start, 3s);
}

TEST(Sender, EndlessHeadersAreCut) {
    std::string line = "X-Filler: " + std::string(1000, 'h') + "\r\n";
    std::string lines;
    for (int i = 0; i < 16; ++i) lines += line;
    Receiver receiver(endless("HTTP/1.1 200 OK\r\n", lines));
    const auto r = post_json(receiver.url(), {}, "{}", local_options());
    EXPECT_EQ(r.error, "response headers over 65536 bytes");
    EXPECT_FALSE(r.delivered());
}

TEST(Sender, RefusesLoopbackWithoutAllowPrivateAndNeverConnects) {
    Receiver receiver;  // accepts nothing: a connection would wait in its backlog
    auto options = local_options();
    options.policy.allow_private = false;
    const auto r = post_json(receiver.url(), {}, "{}", options);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error, "refused: 127.0.0.1 is a loopback address");
    EXPECT_FALSE(r.delivered());
    // By the name too: the check is on the address connected to, after DNS.
    const auto by_name =
        post_json("http://localhost:" + std::to_string(receiver.port()) + "/", {}, "{}", options);
    EXPECT_TRUE(by_name.error.starts_with("refused: ")) << by_name.error;
    EXPECT_NE(by_name.error.find("is a loopback address"), std::string::npos) << by_name.error;
    EXPECT_FALSE(receiver.has_pending_connection());
}

TEST(Sender, SaysWhenTheConnectionIsRefused) {
    // Bound but not listening: connecting gets a reset, and nobody else can take the port.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), size), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size), 0);
    const auto r = post_json("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/", {},
                             "{}", local_options());
    ::close(fd);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error, "connection refused");
}

TEST(Sender, RefusesBadUrlsAndHeadersWithoutSending) {
    Receiver receiver;
    auto r = post_json("ftp://127.0.0.1/", {}, "{}", SendOptions{});
    EXPECT_EQ(r.error, "webhook URLs must use https");
    r = post_json(receiver.url(), {}, "{}", SendOptions{});
    EXPECT_EQ(r.error, "webhook URLs must use https");
    r = post_json(receiver.url(), {{"X-Evil", "a\r\nHost: elsewhere"}}, "{}", local_options());
    EXPECT_NE(r.error, "");
    r = post_json(receiver.url(), {{"X-Evil: a", "b"}}, "{}", local_options());
    EXPECT_NE(r.error, "");
    EXPECT_FALSE(receiver.has_pending_connection());
}

TEST(Sender, ManySendsAtOnce) {
    constexpr int kSends = 8;
    Receiver receiver(answer(response(200)), kSends);
    std::vector<SendResult> results(kSends);
    std::vector<std::thread> senders;
    for (int i = 0; i < kSends; ++i) {
        senders.emplace_back([&, i] {
            results[static_cast<std::size_t>(i)] =
                post_json(receiver.url(), {{"X-N", std::to_string(i)}}, "{}", local_options());
        });
    }
    for (auto& t : senders) t.join();
    receiver.join();
    EXPECT_EQ(receiver.accepted(), kSends);
    for (const auto& r : results) {
        EXPECT_TRUE(r.delivered()) << r.status << " " << r.error;
    }
}

}  // namespace
}  // namespace audiodrop::webhook
