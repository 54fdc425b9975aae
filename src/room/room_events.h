#pragma once
// What rooms tell the world about themselves (the webhooks of docs/API.md): changes, saves,
// presence. Called on the room's strand; an implementation must return at once (hand the event
// to a queue of its own) so that no receiver ever slows a room. Outlives every room.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::room {

struct RoomEvents {
  virtual ~RoomEvents() = default;
  // The document changed: sent after `change_quiet` without a change, at the latest
  // `change_max` after the first change of a burst. `types`: roots changed since the last one.
  virtual void OnChanged(const std::string& room, const std::vector<uint8_t>& state_vector,
                         std::vector<std::string> types) = 0;
  virtual void OnSaved(const std::string& room, size_t bytes) = 0;
  virtual void OnSaveFailed(const std::string& room, const std::string& error) = 0;
  virtual void OnEmpty(const std::string& room) = 0;  // the last connection left
  virtual void OnUserJoined(const std::string& room, uint64_t connection, const std::string& user,
                            bool read_only) = 0;
  virtual void OnUserLeft(const std::string& room, uint64_t connection, const std::string& user,
                          bool read_only) = 0;
  virtual void OnDeleted(const std::string& room) = 0;
};

struct ChangeNotifyOptions {
  std::chrono::milliseconds quiet{2'000};
  std::chrono::milliseconds max{30'000};
};

}  // namespace tandem::room
