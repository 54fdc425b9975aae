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

class SnapshotClient {
 public:
  virtual ~SnapshotClient() = default;
  // Any 2xx is success; anything else (status, timeout, refused) is an error to retry later.
  virtual void Save(const std::string& room, Bytes snapshot, std::function<void(Status)> done) = 0;
  // 200: the bytes; 404: nullopt; anything else: an error (the room must not start empty).
  virtual void Load(const std::string& room,
                    std::function<void(Result<std::optional<Bytes>>)> done) = 0;
  virtual std::string describe() const = 0;
};

}  // namespace tandem::snapshot
