// The kernel's share of a delivery: CPU time of one small send() (and of one recv()) over
// loopback TCP on this machine, with no server code around it; and of one send when 50 of them,
// to 50 sockets, go to the kernel in one io_uring submission (the most a server can batch: one
// update fanned out to a room). A server that relays an update to N clients pays at least N
// sends; bench/report.mjs sets these beside the servers' CPU per delivery. Also the cost of one
// message arriving at a thread asleep in epoll_wait (the wake-up, epoll_wait and the recv): at
// a light load every update finds the server asleep, so this, not the bare recv, is what it pays.
// And the CPU of one small durable append (pwrite + fdatasync) in the temp directory, where the
// benchmark's servers keep their data: a durable server pays it once per group commit.
// Prints JSON: medians over rounds of microseconds per call, per thread.

#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

constexpr int kMessageBytes = 40;  // a keystroke update in a y-websocket frame
constexpr int kSendsPerRound = 100'000;
constexpr int kRounds = 5;

double ThreadCpuMicros() {
  rusage r{};
  getrusage(RUSAGE_THREAD, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Connected loopback pairs: (server side, client side).
std::vector<std::pair<int, int>> ConnectedPairs(int listener, const sockaddr_in& addr, int n) {
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < n; ++i) {
    const int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) break;
    const int server = accept(listener, nullptr, nullptr);
    const int one = 1;
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pairs.emplace_back(server, client);
  }
  return pairs;
}

// Median CPU microseconds per send, sends to `fanout` sockets submitted together via io_uring;
// a reader thread drains the client sides. Negative when io_uring is unavailable.
double BatchedSendMicros(int listener, const sockaddr_in& addr, int fanout) {
  io_uring ring{};
  if (io_uring_queue_init(256, &ring, 0) != 0) return -1;
  const auto pairs = ConnectedPairs(listener, addr, fanout);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    std::vector<char> buffer(64 * 1024);
    while (!stop.load(std::memory_order_relaxed)) {
      for (const auto& p : pairs) recv(p.second, buffer.data(), buffer.size(), MSG_DONTWAIT);
    }
  });
  const char message[kMessageBytes] = {0x00, 0x02};
  std::vector<double> per_send;
  constexpr int kSubmissionsPerRound = 2'000;
  for (int round = 0; round < kRounds; ++round) {
    const double t0 = ThreadCpuMicros();
    for (int r = 0; r < kSubmissionsPerRound; ++r) {
      for (const auto& p : pairs) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_send(sqe, p.first, message, kMessageBytes, MSG_DONTWAIT);
      }
      io_uring_submit_and_wait(&ring, static_cast<unsigned>(pairs.size()));
      io_uring_cqe* cqe = nullptr;
      unsigned head = 0;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring, head, cqe) {
        ++seen;
      }
      io_uring_cq_advance(&ring, seen);
    }
    per_send.push_back((ThreadCpuMicros() - t0) / (static_cast<double>(kSubmissionsPerRound) *
                                                   static_cast<double>(pairs.size())));
  }
  stop = true;
  reader.join();
  for (const auto& p : pairs) {
    close(p.first);
    close(p.second);
  }
  io_uring_queue_exit(&ring);
  return Median(per_send);
}

// Median CPU microseconds the receiving thread spends per message when each message finds it
// asleep in epoll_wait: the sender paces its sends so that the receiver sleeps between them.
double WokenRecvMicros(int server, int client) {
  const int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = client;
  epoll_ctl(ep, EPOLL_CTL_ADD, client, &ev);
  constexpr int kMessages = 2'000;
  constexpr auto kGap = std::chrono::microseconds(300);
  std::vector<double> per_message;
  for (int round = 0; round < kRounds; ++round) {
    double cpu = 0;
    std::thread reader([&] {
      std::vector<char> buffer(64 * 1024);
      const double t0 = ThreadCpuMicros();
      long received = 0;
      while (received < static_cast<long>(kMessages) * kMessageBytes) {
        epoll_event out{};
        if (epoll_wait(ep, &out, 1, 1000) <= 0) break;
        for (;;) {
          const ssize_t n = recv(client, buffer.data(), buffer.size(), MSG_DONTWAIT);
          if (n <= 0) break;
          received += n;
        }
      }
      cpu = ThreadCpuMicros() - t0;
    });
    const char message[kMessageBytes] = {0x00, 0x02};
    for (int i = 0; i < kMessages; ++i) {
      std::this_thread::sleep_for(kGap);
      if (send(server, message, kMessageBytes, 0) != kMessageBytes) break;
    }
    reader.join();
    per_message.push_back(cpu / kMessages);
  }
  close(ep);
  return Median(per_message);
}

// Median CPU microseconds of one 100-byte pwrite followed by fdatasync, appending to a file in
// /tmp. Negative when the file cannot be made.
double DurableAppendMicros() {
  char path[] = "/tmp/tandem-fsync-floor-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  constexpr int kAppends = 300;
  const char record[100] = {1};
  std::vector<double> per_append;
  off_t offset = 0;
  for (int round = 0; round < kRounds; ++round) {
    const double t0 = ThreadCpuMicros();
    for (int i = 0; i < kAppends; ++i) {
      if (pwrite(fd, record, sizeof record, offset) != static_cast<ssize_t>(sizeof record) ||
          fdatasync(fd) != 0) {
        close(fd);
        return -1;
      }
      offset += static_cast<off_t>(sizeof record);
    }
    per_append.push_back((ThreadCpuMicros() - t0) / kAppends);
  }
  close(fd);
  return Median(per_append);
}

}  // namespace

int main() {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 128) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("loopback_floor: listen");
    return 1;
  }
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("loopback_floor: connect");
    return 1;
  }
  const int server = accept(listener, nullptr, nullptr);
  const int one = 1;
  setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  std::vector<double> send_us, recv_us;
  for (int round = 0; round < kRounds; ++round) {
    double recv_cpu = 0;
    long recv_calls = 0;
    std::thread reader([&] {
      std::vector<char> buffer(64 * 1024);
      const double t0 = ThreadCpuMicros();
      long received = 0;
      while (received < static_cast<long>(kSendsPerRound) * kMessageBytes) {
        const ssize_t n = recv(client, buffer.data(), buffer.size(), 0);
        if (n <= 0) break;
        received += n;
        ++recv_calls;
      }
      recv_cpu = ThreadCpuMicros() - t0;
    });
    const char message[kMessageBytes] = {0x00, 0x02};
    const double t0 = ThreadCpuMicros();
    for (int i = 0; i < kSendsPerRound; ++i) {
      if (send(server, message, kMessageBytes, 0) != kMessageBytes) {
        std::perror("loopback_floor: send");
        return 1;
      }
    }
    send_us.push_back((ThreadCpuMicros() - t0) / kSendsPerRound);
    reader.join();
    recv_us.push_back(recv_cpu / static_cast<double>(std::max(1L, recv_calls)));
  }
  constexpr int kFanout = 50;
  const double batched = BatchedSendMicros(listener, addr, kFanout);
  const double woken = WokenRecvMicros(server, client);
  const double durable_append = DurableAppendMicros();
  std::printf(
      "{\"message_bytes\": %d, \"send_cpu_us\": %.3f, \"recv_cpu_us\": %.3f, "
      "\"io_uring_fanout\": %d, \"io_uring_send_cpu_us\": %.3f, \"woken_recv_cpu_us\": %.3f, "
      "\"durable_append_cpu_us\": %.3f}\n",
      kMessageBytes, Median(send_us), Median(recv_us), kFanout, batched, woken, durable_append);
  close(client);
  close(server);
  close(listener);
  return 0;
}
