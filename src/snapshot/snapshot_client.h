#pragma once
// The snapshot store as the server sees it: save a room's full state, load it on a cold start.
// Two implementations: HTTP (`POST/GET {url}/collaboration/snapshot?roomId=…`, the contract
// apps deploy, e.g. a Convex HTTP action) and the embedded store (`tandem store`'s engine,
// in-process). Calls are asynchronous and thread-safe; callbacks run on the client's executor,
// never on the caller's strand: callers post back.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace tandem::snapshot {

using Bytes = std::vector<uint8_t>;

// One version the store keeps of a room (docs/STORE.md, "Versions").
struct VersionInfo {
  int64_t version = 0;
  uint64_t size = 0;
  int64_t time_ms = 0;  // Unix epoch milliseconds of the save
  std::string checksum;
  bool merged = false;
};

class SnapshotClient {
 public:
  virtual ~SnapshotClient() = default;
  // Any 2xx is success; anything else (status, timeout, refused) is an error to retry later.
  virtual void Save(const std::string& room, Bytes snapshot, std::function<void(Status)> done) = 0;
  // 200: the bytes; 404: nullopt; anything else: an error (the room must not start empty).
  virtual void Load(const std::string& room,
                    std::function<void(Result<std::optional<Bytes>>)> done) = 0;
  // The versions the store keeps of a room, newest first (the operator's console). A store that
  // keeps none (an app's own contract) answers kFailedPrecondition.
  virtual void ListVersions(const std::string& room,
                            std::function<void(Result<std::vector<VersionInfo>>)> done) = 0;
  // One version's bytes; nullopt when the store does not keep it.
  virtual void LoadVersion(const std::string& room, int64_t version,
                           std::function<void(Result<std::optional<Bytes>>)> done) = 0;
  // Erases every version of a room (the document API's DELETE): 2xx or 404 is success. A store
  // without DELETE on its contract (405, 501) answers kFailedPrecondition.
  virtual void Delete(const std::string& room, std::function<void(Status)> done) = 0;
  virtual std::string describe() const = 0;
};

}  // namespace tandem::snapshot
