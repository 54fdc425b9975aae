#pragma once
// The rooms loaded in memory, by id. Thread-safe (one mutex, held only for map operations).
// A room with no connections is unloaded after an idle delay once it has nothing unsaved,
// unless a join is on its way; a room that failed to load is dropped so the next client retries.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "room/metrics.h"
#include "room/room.h"

namespace tandem::room {

class RoomRegistry {
 public:
  // `executor` runs the registry's timers; rooms run on strands of `room_executors` (one per
  // worker thread; empty: `executor`).
  RoomRegistry(boost::asio::any_io_executor executor,
               std::vector<boost::asio::any_io_executor> room_executors, RoomOptions options,
               PersistenceServices persistence, std::chrono::milliseconds idle_unload,
               Metrics& metrics);

  // The room with this id, loaded if needed, reserved for a join: the caller must call
  // room->Join (which releases the reservation).
  std::shared_ptr<Room> Acquire(const std::string& id);
  // The strand that runs room `id` (whether loaded or not): a fixed pool of strands spread over
  // the worker threads, picked by hash. A connection's socket runs on its room's strand.
  Room::Strand StrandFor(const std::string& id) const;
  // The worker threads' executors, and which of them runs room `id` (cluster mode keeps a
  // room's Redis traffic on its own thread).
  const std::vector<boost::asio::any_io_executor>& room_executors() const {
    return room_executors_;
  }
  size_t ExecutorIndexFor(const std::string& id) const {
    return (std::hash<std::string>{}(id) % kStrands) % room_executors_.size();
  }
  // Loads a room so it can save changes left unsaved by a previous run.
  void Resume(const std::string& id);
  // Runs `fn` on room `id`'s strand once it is loaded (loading it if needed, as a join would);
  // a room nobody is connected to unloads again after the idle delay.
  void Visit(const std::string& id, std::function<void(Room&)> fn);

  // Erases room `id` (loading it first, as a visit would: its store copy must be deleted too)
  // and forgets it, so the next join starts an empty room (Room::Erase). `done` runs on the
  // room's strand with the number of connections closed.
  void Erase(const std::string& id, std::function<void(Status, size_t closed)> done);

  // Another node erased room `id` (cluster mode): its clients here are closed with 4410 and the
  // room is forgotten, so the next join starts an empty room.
  void ForgetErased(const std::string& id);

  void CloseAll(uint16_t code, const std::string& reason);
  // Every room saves what is unsaved; `done` runs when all have answered.
  void SaveAll(std::function<void()> done);
  std::vector<std::shared_ptr<Room>> Rooms() const;
  // The loaded room with this id, or null.
  std::shared_ptr<Room> Find(const std::string& id) const;
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<Room> room;
    int pending_joins = 0;
  };
  std::shared_ptr<Room> GetOrCreateLocked(const std::string& id);
  void JoinDone(Room& room);
  void OnRoomEmpty(const std::shared_ptr<Room>& room);
  void Remove(const std::shared_ptr<Room>& room);

  static constexpr size_t kStrands = 256;
  boost::asio::any_io_executor executor_;
  std::vector<boost::asio::any_io_executor> room_executors_;
  std::vector<Room::Strand> strands_;
  RoomOptions options_;
  PersistenceServices persistence_;
  std::chrono::milliseconds idle_unload_;
  Metrics& metrics_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> rooms_;  // GUARDED_BY(mu_)
  uint16_t close_code_ = 0;                       // GUARDED_BY(mu_); set by CloseAll
  std::string close_reason_;                      // GUARDED_BY(mu_)
};

}  // namespace tandem::room
