// The saturation phase of bench/node/server_load.mjs as a native client: ROOMS rooms of CLIENTS
// WebSocket clients each, one writer per room sending real yjs keystroke updates (made by yjs,
// read from a file) at a rate that steps up until p99 delivery latency passes the bound or
// deliveries fall behind. The Node load generator took about 0.8 of a core at the highest steps,
// on a machine of 2 cores shared with the server under test: the server's limit could not be
// shown. This one does the same work in a fraction of that (its own CPU is reported per step).
//
// One thread, non-blocking sockets on epoll, frames parsed in place. Client frames carry the
// all-zero mask key (RFC 6455 allows any key; zero leaves the payload as it is).
//
// Usage: load_generator --port P --pid SERVER_PID --updates FILE [--rooms 100] [--clients 5]
//          [--steps 10,20,...] [--step-seconds 4] [--p99-ms 50] [--hocuspocus] [--prefix sat-]
// FILE: the update messages (y-websocket sync update, outer 0 inner 2), each as a 4-byte
// little-endian length then the bytes. Prints the saturation result as JSON on stdout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

double NowMs() {
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "load_generator: " << what << (errno ? std::string(": ") + std::strerror(errno) : "")
            << "\n";
  std::exit(1);
}

void WriteVarUint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

void WriteVarString(Bytes& out, const std::string& s) {
  WriteVarUint(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// Reads a varuint at `at`; false when the buffer ends first.
bool ReadVarUint(const uint8_t* p, size_t n, size_t& at, uint64_t& v) {
  v = 0;
  for (int shift = 0; at < n && shift < 64; shift += 7) {
    const uint8_t b = p[at++];
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// A masked client frame (binary, or pong for a ping).
Bytes ClientFrame(const Bytes& payload, uint8_t opcode = 0x2) {
  Bytes f;
  f.reserve(payload.size() + 14);
  f.push_back(0x80 | opcode);
  const size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<uint8_t>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(0x80 | 126);
    f.push_back(static_cast<uint8_t>(n >> 8));
    f.push_back(static_cast<uint8_t>(n));
  } else {
    f.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<uint8_t>(n >> (8 * i)));
  }
  f.insert(f.end(), 4, 0);  // the mask key
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

struct Options {
  int port = 0;
  int pid = 0;
  std::string updates_file;
  int rooms = 100;
  int clients = 5;
  std::vector<double> steps{10, 20, 40, 60, 80, 120, 160, 240, 320, 480};
  double step_seconds = 4;
  double p99_ms = 50;
  bool hocuspocus = false;
  std::string prefix = "sat-";
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--port")
      o.port = std::stoi(next());
    else if (a == "--pid")
      o.pid = std::stoi(next());
    else if (a == "--updates")
      o.updates_file = next();
    else if (a == "--rooms")
      o.rooms = std::stoi(next());
    else if (a == "--clients")
      o.clients = std::stoi(next());
    else if (a == "--step-seconds")
      o.step_seconds = std::stod(next());
    else if (a == "--p99-ms")
      o.p99_ms = std::stod(next());
    else if (a == "--hocuspocus")
      o.hocuspocus = true;
    else if (a == "--prefix")
      o.prefix = next();
    else if (a == "--steps") {
      o.steps.clear();
      std::stringstream ss(next());
      for (std::string part; std::getline(ss, part, ',');) {
        if (!part.empty() && std::stod(part) > 0) o.steps.push_back(std::stod(part));
      }
    } else {
      Die("unknown argument " + a);
    }
  }
  if (o.port == 0 || o.pid == 0 || o.updates_file.empty())
    Die("--port, --pid and --updates are needed");
  if (o.clients < 2) Die("--clients must be at least 2 (a writer and a reader)");
  return o;
}

std::vector<Bytes> ReadUpdates(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot open " + path);
  std::vector<Bytes> out;
  for (;;) {
    uint8_t len[4];
    if (!in.read(reinterpret_cast<char*>(len), 4)) break;
    const uint32_t n =
        len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
    Bytes b(n);
    if (!in.read(reinterpret_cast<char*>(b.data()), n)) Die("truncated " + path);
    out.push_back(std::move(b));
  }
  return out;
}

struct Cpu {
  double user = 0;
  double system = 0;
  double total() const { return user + system; }
};

// User and system CPU seconds of a process, from /proc.
Cpu CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = all.rfind(") ");
  if (close == std::string::npos) Die("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::stringstream ss(all.substr(close + 2));
  std::string field;
  Cpu cpu;
  const auto hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int i = 0; i < 13 && ss >> field; ++i) {
    if (i == 11) cpu.user = std::stod(field) / hz;    // utime
    if (i == 12) cpu.system = std::stod(field) / hz;  // stime
  }
  return cpu;
}

double OwnCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Room;

struct Client {
  int fd = -1;
  Room* room = nullptr;
  bool writer = false;
  bool ready = false;  // the server answered sync step 1
  uint64_t seen = 0;   // updates received
  Bytes in;
  Bytes out;  // what a full socket did not take yet
};

struct Room {
  std::string name;
  Bytes prefix;  // Hocuspocus: the document's name before every message
  Client* writer = nullptr;
  std::vector<double> sent;  // send time of update k
  uint64_t next = 0;         // updates sent
  uint64_t since = 0;        // first update of the current step
};

struct Window {
  std::vector<float> latencies;
  uint64_t delivered = 0;
};

class Generator {
 public:
  explicit Generator(Options options) : o_(std::move(options)) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) Die("epoll_create1");
  }

  void ConnectAll() {
    rooms_.resize(o_.rooms);
    clients_.reserve(static_cast<size_t>(o_.rooms) * o_.clients);
    for (int r = 0; r < o_.rooms; ++r) {
      Room& room = rooms_[r];
      room.name = o_.prefix + std::to_string(r);
      if (o_.hocuspocus) WriteVarString(room.prefix, room.name);
      // Readers first, so that none misses the writer's first update.
      for (int c = 1; c <= o_.clients; ++c) {
        clients_.emplace_back();
        Client& client = clients_.back();
        client.room = &room;
        client.writer = c == o_.clients;
        if (client.writer) room.writer = &client;
        Open(client);
      }
    }
  }

  void SendTo(Client& c, const Bytes& bytes) {
    if (!c.out.empty()) {
      c.out.insert(c.out.end(), bytes.begin(), bytes.end());
      return;
    }
    const ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) Die("send");
    const size_t done = n < 0 ? 0 : static_cast<size_t>(n);
    if (done < bytes.size()) {
      c.out.assign(bytes.begin() + static_cast<std::ptrdiff_t>(done), bytes.end());
      epoll_event ev{.events = EPOLLIN | EPOLLOUT, .data = {.ptr = &c}};
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    }
  }

  Bytes Wrap(const Room& room, const Bytes& message) const {
    if (!o_.hocuspocus) return ClientFrame(message);
    Bytes m = room.prefix;
    m.insert(m.end(), message.begin(), message.end());
    return ClientFrame(m);
  }

  // Handles what is readable for up to `timeout_ms`.
  void Poll(int timeout_ms) {
    epoll_event events[256];
    const int n = epoll_wait(epoll_, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) Die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      Client& c = *static_cast<Client*>(events[i].data.ptr);
      if (events[i].events & EPOLLOUT) Drain(c);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(c);
    }
  }

  // The saturation steps; returns the JSON result.
  std::string Run(const std::vector<Bytes>& updates) {
    std::ostringstream steps_json;
    std::string held = "null";
    for (size_t s = 0; s < o_.steps.size(); ++s) {
      const double rate = o_.steps[s];
      const double interval = 1000.0 / rate;
      const auto per_room = static_cast<uint64_t>(std::ceil(rate * o_.step_seconds));
      window_ = Window{};
      for (Room& r : rooms_) r.since = r.next;
      const Cpu cpu0 = CpuSeconds(o_.pid);
      const double own0 = OwnCpuSeconds();
      const double t0 = NowMs();
      uint64_t sent = 0;
      for (;;) {
        const double now = NowMs();
        bool left = false;
        double next_due = now + 1;
        for (size_t i = 0; i < rooms_.size(); ++i) {
          Room& r = rooms_[i];
          const double offset =
              (static_cast<double>(i) * interval) / static_cast<double>(rooms_.size());
          while (r.next - r.since < per_room &&
                 t0 + offset + static_cast<double>(r.next - r.since) * interval <= now) {
            if (r.next >= updates.size()) Die("not enough updates in the file");
            if (r.sent.size() <= r.next) r.sent.resize(updates.size());
            r.sent[r.next] = NowMs();
            SendTo(*r.writer, Wrap(r, updates[r.next]));
            ++r.next;
            ++sent;
          }
          if (r.next - r.since < per_room) {
            left = true;
            next_due =
                std::min(next_due, t0 + offset + static_cast<double>(r.next - r.since) * interval);
          }
        }
        if (!left) break;
        // Receive until the next send is due, waiting at least 1 ms (epoll's resolution) as the
        // Node client's pacing does: a shorter wait spins.
        const int wait = std::max(1, static_cast<int>(std::ceil(next_due - NowMs())));
        Poll(wait);
      }
      const double send_wall = (NowMs() - t0) / 1000;
      const uint64_t expected = sent * static_cast<uint64_t>(o_.clients - 1);
      const double deadline = NowMs() + 1000;
      while (window_.delivered < expected && NowMs() < deadline) Poll(5);
      const double wall = (NowMs() - t0) / 1000;
      const Cpu cpu1 = CpuSeconds(o_.pid);
      const double cpu = cpu1.total() - cpu0.total();
      const double user = cpu1.user - cpu0.user;
      const double own = OwnCpuSeconds() - own0;
      std::sort(window_.latencies.begin(), window_.latencies.end());
      auto pct = [&](double p) -> std::string {
        if (window_.latencies.empty()) return "null";
        const size_t at =
            std::min(window_.latencies.size() - 1,
                     static_cast<size_t>(p * static_cast<double>(window_.latencies.size())));
        return std::to_string(window_.latencies[at]);
      };
      const double p99 = window_.latencies.empty() ? 1e9 : std::stod(pct(0.99));
      const double deliveries_per_s = static_cast<double>(window_.delivered) / wall;
      const double cores = cpu / wall;
      const bool step_held =
          window_.delivered >= expected && send_wall <= o_.step_seconds * 1.1 && p99 <= o_.p99_ms;
      std::ostringstream step;
      step << "{\"rate_per_writer\": " << rate << ", \"updates_per_s\": " << sent / send_wall
           << ", \"delivered\": " << window_.delivered << ", \"expected\": " << expected
           << ", \"deliveries_per_s\": " << deliveries_per_s << ", \"server_cores\": " << cores
           << ", \"load_generator_cores\": " << own / wall << ", \"cpu_us_per_delivery\": "
           << (cpu * 1e6) / static_cast<double>(std::max<uint64_t>(1, window_.delivered))
           << ", \"user_cpu_us_per_delivery\": "
           << (user * 1e6) / static_cast<double>(std::max<uint64_t>(1, window_.delivered))
           << ", \"p50_ms\": " << pct(0.5) << ", \"p99_ms\": " << pct(0.99)
           << ", \"deliveries_per_s_per_core\": " << deliveries_per_s / std::max(1e-9, cores)
           << ", \"held\": " << (step_held ? "true" : "false") << "}";
      steps_json << (s ? ", " : "") << step.str();
      std::fprintf(stderr,
                   "load_generator: %g/s per writer: %.0f deliveries/s, %.2f cores (load generator "
                   "%.2f), p99 %s ms%s\n",
                   rate, deliveries_per_s, cores, own / wall, pct(0.99).c_str(),
                   step_held ? "" : " (not held)");
      if (!step_held) break;
      held = step.str();
      const double pause = NowMs() + 500;
      while (NowMs() < pause) Poll(20);
    }
    std::ostringstream out;
    out << "{\"rooms\": " << o_.rooms << ", \"clients_per_room\": " << o_.clients
        << ", \"step_seconds\": " << o_.step_seconds << ", \"p99_bound_ms\": " << o_.p99_ms
        << ", \"load_generator\": \"native\", \"steps\": [" << steps_json.str()
        << "], \"held\": " << held << "}";
    return out.str();
  }

 private:
  // Connects, upgrades and completes the sync handshake (blocking), then joins the epoll set.
  void Open(Client& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) Die("socket");
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(o_.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("connect");
    const std::string path = o_.hocuspocus ? "/" : "/" + c.room->name;
    const std::string request = "GET " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(o_.port) +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";
    if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
      Die("send upgrade");
    std::string head;
    char ch;
    while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
      if (::recv(c.fd, &ch, 1, 0) != 1) Die("upgrade: connection closed");
      head += ch;
    }
    if (head.rfind("HTTP/1.1 101", 0) != 0)
      Die("upgrade refused: " + head.substr(0, head.find('\r')));
    if (o_.hocuspocus) {
      // The provider's first message: auth with an empty token.
      Bytes auth = c.room->prefix;
      WriteVarUint(auth, 2);
      WriteVarUint(auth, 0);
      WriteVarString(auth, "");
      Bytes f = ClientFrame(auth);
      if (::send(c.fd, f.data(), f.size(), MSG_NOSIGNAL) < 0) Die("send auth");
    }
    // Sync step 1 with an empty state vector.
    Bytes step1{0, 0, 1, 0};
    Bytes f = Wrap(*c.room, step1);
    if (::send(c.fd, f.data(), f.size(), MSG_NOSIGNAL) < 0) Die("send sync step 1");
    while (!c.ready) {
      uint8_t buf[4096];
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) Die("sync: connection closed");
      c.in.insert(c.in.end(), buf, buf + n);
      Parse(c);
    }
    const int flags = 1;
    if (ioctl_nonblock(c.fd, flags) != 0) Die("non-blocking");
    epoll_event ev{.events = EPOLLIN, .data = {.ptr = &c}};
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev) != 0) Die("epoll_ctl");
  }

  static int ioctl_nonblock(int fd, int on) { return ::ioctl(fd, FIONBIO, &on); }

  void Drain(Client& c) {
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) return;
        Die("send");
      }
      c.out.erase(c.out.begin(), c.out.begin() + n);
    }
    epoll_event ev{.events = EPOLLIN, .data = {.ptr = &c}};
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void Read(Client& c) {
    uint8_t buf[65536];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.insert(c.in.end(), buf, buf + n);
        if (n < static_cast<ssize_t>(sizeof buf)) break;
        continue;
      }
      if (n == 0) Die("the server closed a connection of room " + c.room->name);
      if (errno == EAGAIN) break;
      Die("recv");
    }
    Parse(c);
  }

  // Handles the complete frames in c.in.
  void Parse(Client& c) {
    size_t at = 0;
    const uint8_t* p = c.in.data();
    const size_t n = c.in.size();
    while (n - at >= 2) {
      const uint8_t opcode = p[at] & 0x0f;
      uint64_t len = p[at + 1] & 0x7f;
      size_t head = 2;
      if (len == 126) {
        if (n - at < 4) break;
        len = (static_cast<uint64_t>(p[at + 2]) << 8) | p[at + 3];
        head = 4;
      } else if (len == 127) {
        if (n - at < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | p[at + 2 + i];
        head = 10;
      }
      if (n - at < head + len) break;
      const uint8_t* payload = p + at + head;
      at += head + len;
      if (opcode == 0x2) {
        OnMessage(c, payload, len);
      } else if (opcode == 0x9) {
        SendTo(c, ClientFrame(Bytes(payload, payload + len), 0xA));
      } else if (opcode == 0x8) {
        Die("the server closed a connection of room " + c.room->name);
      }
    }
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(at));
  }

  void OnMessage(Client& c, const uint8_t* p, size_t n) {
    size_t at = 0;
    uint64_t v;
    if (o_.hocuspocus) {  // the document's name first
      if (!ReadVarUint(p, n, at, v) || at + v > n) return;
      at += v;
    }
    uint64_t outer, inner;
    if (!ReadVarUint(p, n, at, outer) || outer != 0 || !ReadVarUint(p, n, at, inner)) return;
    if (inner == 1) c.ready = true;
    // Deliveries are to the room's other clients: a server that echoes an update to its writer
    // (the y-websocket server, Hocuspocus) does not deliver it by that.
    if (inner != 2 || c.writer) return;
    const uint64_t k = c.seen++;
    Room& r = *c.room;
    if (k >= r.since && k < r.sent.size()) {
      window_.latencies.push_back(static_cast<float>(NowMs() - r.sent[k]));
      ++window_.delivered;
    }
  }

  Options o_;
  int epoll_ = -1;
  std::vector<Room> rooms_;
  std::vector<Client> clients_;  // reserved up front: rooms and epoll hold pointers into it
  Window window_;
};

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseArgs(argc, argv);
  const std::vector<Bytes> updates = ReadUpdates(options.updates_file);
  Generator generator(options);
  generator.ConnectAll();
  // Let the server settle after the connections, as the Node client does.
  const double settle = NowMs() + 500;
  while (NowMs() < settle) generator.Poll(20);
  std::cout << generator.Run(updates) << "\n";
  return 0;
}
