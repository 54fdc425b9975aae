// The cost model of a room: streams of y-websocket messages from three connections (one of
// which never reads) into a Room with the production limits. Whatever the bytes, the room must
// not crash, must not spend time or memory out of proportion to its input, and the document it
// ends with must read as JSON (or be refused as too deep) and load again.
//
// Time: the input's thread CPU time must stay under kBaseBudget + kBudgetPerKiB per KiB of
// input (generous for ASan); past it the target aborts, so libFuzzer keeps the input. Memory:
// run with -rss_limit_mb (the ctest smoke run uses 2048). Input format:
//   repeated { conn: u8 (0..2 a connection; 3 drains the stalled one; 4 leaves and rejoins
//              connection 0), length: u16 little-endian, message: length bytes }

#include <spdlog/spdlog.h>
#include <time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "crdt/doc.h"
#include "crdt/read_api.h"
#include "room/room.h"

using namespace tandem;
using namespace tandem::room;

namespace {

constexpr double kBaseBudgetMs = 1500;
constexpr double kBudgetPerKiBMs = 25;

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Reads everything at once (frames are dropped) or, stalled, holds every frame like a client
// whose socket buffers are full.
class FuzzConnection : public Connection {
 public:
  FuzzConnection(uint64_t id, bool stalled) : Connection(id, false, "fuzz"), stalled_(stalled) {}
  void Send(SharedFrame frame) override {
    if (closed_) return;
    if (stalled_) held_.push_back(std::move(frame));
  }
  void Close(uint16_t, std::string) override {
    closed_ = true;
    held_.clear();
  }
  void Drain() { held_.clear(); }
  bool closed() const { return closed_; }

 private:
  bool stalled_;
  bool closed_ = false;
  std::vector<SharedFrame> held_;
};

void RunReady(boost::asio::io_context& ioc) {
  ioc.restart();
  while (ioc.poll() > 0) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // the room logs every refusal; the fuzzer makes many
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const double start = ThreadCpuMs();
  {
    boost::asio::io_context ioc;
    Metrics metrics;
    auto room = std::make_shared<Room>("fuzz", boost::asio::make_strand(ioc.get_executor()),
                                       RoomOptions{}, PersistenceServices{}, metrics);
    std::shared_ptr<FuzzConnection> conns[3] = {std::make_shared<FuzzConnection>(1, false),
                                                std::make_shared<FuzzConnection>(2, false),
                                                std::make_shared<FuzzConnection>(3, true)};
    for (auto& c : conns) room->Join(c);
    RunReady(ioc);
    size_t i = 0;
    uint64_t next_id = 4;
    while (i + 3 <= size) {
      const uint8_t target = data[i];
      const size_t len = static_cast<size_t>(data[i + 1]) | (static_cast<size_t>(data[i + 2]) << 8);
      i += 3;
      const size_t n = std::min(len, size - i);
      std::span<const uint8_t> message(data + i, n);
      i += n;
      switch (target % 5) {
        case 3: conns[2]->Drain(); break;
        case 4:
          room->Leave(conns[0]);
          conns[0] = std::make_shared<FuzzConnection>(next_id++, false);
          room->Join(conns[0]);
          break;
        default: {
          auto& c = conns[target % 5];
          if (c->closed()) {
            room->Leave(c);
            c = std::make_shared<FuzzConnection>(next_id++, target % 5 == 2);
            room->Join(c);
          }
          room->Receive(c, std::make_shared<std::vector<uint8_t>>(message.begin(), message.end()));
        }
      }
      RunReady(ioc);
    }
    // What the room holds reads as JSON (or is refused as too deep) and loads again.
    boost::asio::post(room->strand(), [&] {
      const crdt::Doc& doc = room->doc();
      (void)crdt::DocToJsonChecked(doc);
      crdt::Doc again(crdt::DocOptions{.gc = true, .client_id = 9, .clean_up_formatting = false});
      if (!again.ApplyUpdate(doc.EncodeStateAsUpdate()).ok()) std::abort();
    });
    RunReady(ioc);
    for (auto& c : conns) room->Leave(c);
    RunReady(ioc);
  }
  const double spent = ThreadCpuMs() - start;
  const double budget = kBaseBudgetMs + kBudgetPerKiBMs * static_cast<double>(size) / 1024.0;
  if (spent > budget) {
    std::fprintf(stderr,
                 "room_fuzzer: %zu bytes of input took %.0f ms of CPU, over the %.0f ms budget\n",
                 size, spent, budget);
    std::abort();
  }
  return 0;
}
