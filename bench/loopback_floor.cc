// The kernel's share of a delivery: CPU time of one small send() (and of one recv()) over
// loopback TCP on this machine, with no server code around it. A server that relays an update
// to N clients pays at least N of these sends; bench/report.mjs sets them beside the servers'
// CPU per delivery. Prints JSON: median over rounds of microseconds per call, per thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

}  // namespace

int main() {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 1) != 0 ||
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
  std::printf("{\"message_bytes\": %d, \"send_cpu_us\": %.3f, \"recv_cpu_us\": %.3f}\n",
              kMessageBytes, Median(send_us), Median(recv_us));
  close(client);
  close(server);
  close(listener);
  return 0;
}
