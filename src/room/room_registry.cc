#include "room/room_registry.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "base/log_text.h"

namespace tandem::room {

RoomRegistry::RoomRegistry(boost::asio::any_io_executor executor,
                           std::vector<boost::asio::any_io_executor> room_executors,
                           RoomOptions options, PersistenceServices persistence,
                           std::chrono::milliseconds idle_unload, Metrics& metrics)
    : executor_(std::move(executor)),
      options_(options),
      persistence_(persistence),
      idle_unload_(idle_unload),
      metrics_(metrics) {
  strands_.reserve(kStrands);
  if (room_executors.empty()) room_executors.push_back(executor_);
  room_executors_ = std::move(room_executors);
  for (size_t i = 0; i < kStrands; ++i)
    strands_.push_back(boost::asio::make_strand(room_executors_[i % room_executors_.size()]));
}

Room::Strand RoomRegistry::StrandFor(const std::string& id) const {
  // Strand i runs on executor i % n: ExecutorIndexFor depends on this.
  return strands_[std::hash<std::string>{}(id) % kStrands];
}

std::shared_ptr<Room> RoomRegistry::GetOrCreateLocked(const std::string& id) {
  Entry& e = rooms_[id];
  if (!e.room) {
    e.room = std::make_shared<Room>(id, StrandFor(id), options_, persistence_, metrics_);
    std::weak_ptr<Room> weak = e.room;
    e.room->set_on_empty([this, weak] {
      if (auto room = weak.lock()) OnRoomEmpty(room);
    });
    e.room->set_on_join_done([this](Room& room) { JoinDone(room); });
    e.room->set_on_failed([this, weak] {
      if (auto room = weak.lock()) Remove(room);
    });
    ++metrics_.rooms_loaded;
    ++metrics_.room_loads_total;
    e.room->Start();
    if (close_code_ != 0) e.room->CloseAll(close_code_, close_reason_);
  }
  return e.room;
}

std::shared_ptr<Room> RoomRegistry::Acquire(const std::string& id) {
  std::lock_guard lock(mu_);
  auto room = GetOrCreateLocked(id);
  ++rooms_[id].pending_joins;
  return room;
}

void RoomRegistry::Resume(const std::string& id) {
  std::shared_ptr<Room> room;
  {
    std::lock_guard lock(mu_);
    room = GetOrCreateLocked(id);
  }
  room->ResumeSaves();
  // A resumed room has no connections: let it unload once saved.
  boost::asio::post(room->strand(), [this, room] { OnRoomEmpty(room); });
}

void RoomRegistry::Visit(const std::string& id, std::function<void(Room&)> fn) {
  auto room = Acquire(id);  // reserved like a join: it cannot unload before the visit
  room->Visit([this, room, fn = std::move(fn)](Room& r) {
    JoinDone(r);
    fn(r);
    if (r.state() == Room::State::kReady && r.connection_count() == 0) OnRoomEmpty(room);
  });
}

void RoomRegistry::Erase(const std::string& id, std::function<void(Status, size_t)> done) {
  Visit(id, [this, done = std::move(done)](Room& r) mutable {
    if (r.state() != Room::State::kReady) {
      done(UnavailableError(r.state() == Room::State::kDeleted
                                ? "the room was being deleted; try again"
                                : "the room could not be loaded (snapshot store down?)"),
           0);
      return;
    }
    r.Erase([this, room = r.shared_from_this(), done = std::move(done)](Status s, size_t closed) {
      if (s.ok()) Remove(room);
      done(std::move(s), closed);
    });
  });
}

void RoomRegistry::ForgetErased(const std::string& id) {
  auto room = Find(id);
  if (!room) return;
  room->CloseErased([this, room] { Remove(room); });
}

void RoomRegistry::JoinDone(Room& room) {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room.id());
  if (it != rooms_.end() && it->second.room.get() == &room) --it->second.pending_joins;
}

void RoomRegistry::Remove(const std::shared_ptr<Room>& room) {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room->id());
  if (it == rooms_.end() || it->second.room != room) return;
  rooms_.erase(it);
  --metrics_.rooms_loaded;
}

void RoomRegistry::OnRoomEmpty(const std::shared_ptr<Room>& room) {
  // Runs on the room's strand. After the grace period, unload if the room is still empty, has
  // nothing unsaved and no join is on its way (joins reserve the room under the mutex, so the
  // check below cannot race them). Otherwise look again later.
  Clock& clock = persistence_.clock != nullptr ? *persistence_.clock : SystemClock::Instance();
  std::shared_ptr<Timer> timer = clock.MakeTimer(room->strand());
  timer->ExpireAt(clock.Now() + idle_unload_, [this, timer, weak = std::weak_ptr<Room>(room)] {
    auto r = weak.lock();
    if (!r || r->connection_count() > 0) return;
    if (!r->CanUnload()) {
      OnRoomEmpty(r);  // unsaved changes or a save in flight: keep it
      return;
    }
    {
      std::lock_guard lock(mu_);
      auto it = rooms_.find(r->id());
      if (it == rooms_.end() || it->second.room != r || it->second.pending_joins > 0) return;
      rooms_.erase(it);
      --metrics_.rooms_loaded;
    }
    spdlog::debug("room={} unloaded", Quoted(r->id()));
    r->CompactForUnload(nullptr);
  });
}

void RoomRegistry::CloseAll(uint16_t code, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    close_code_ = code;
    close_reason_ = reason;
  }
  for (auto& r : Rooms()) r->CloseAll(code, reason);
}

void RoomRegistry::SaveAll(std::function<void()> done) {
  auto rooms = Rooms();
  if (rooms.empty()) {
    done();
    return;
  }
  auto remaining = std::make_shared<std::atomic<size_t>>(rooms.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& r : rooms) {
    r->SaveForShutdown([remaining, shared_done] {
      if (--*remaining == 0) (*shared_done)();
    });
  }
}

std::shared_ptr<Room> RoomRegistry::Find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(id);
  return it == rooms_.end() ? nullptr : it->second.room;
}

std::vector<std::shared_ptr<Room>> RoomRegistry::Rooms() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Room>> out;
  out.reserve(rooms_.size());
  for (const auto& [id, e] : rooms_) out.push_back(e.room);
  return out;
}

size_t RoomRegistry::size() const {
  std::lock_guard lock(mu_);
  return rooms_.size();
}

}  // namespace tandem::room
