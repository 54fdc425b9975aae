#pragma once
// SnapshotClient for the embedded snapshot store (no --snapshot-url): the same contract as the
// HTTP service, served in-process. Blocking storage calls run on the `io` executor.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "snapshot/snapshot_client.h"

namespace tandem::snapshot {

// Where embedded snapshots live: a synchronous, thread-safe key -> latest bytes store.
class SnapshotStorage {
 public:
  virtual ~SnapshotStorage() = default;
  virtual Status Put(const std::string& room, const Bytes& bytes) = 0;
  virtual Result<std::optional<Bytes>> Get(const std::string& room) = 0;
};

// `tandem store`'s engine on SQLite (WAL, synchronous=FULL) in `<dir>/snapshots.db`: snapshots
// are validated, versioned, and merged rather than overwritten when stale (docs/STORE.md).
Result<std::unique_ptr<SnapshotStorage>> OpenSqliteSnapshotStorage(const std::string& dir);

class EmbeddedSnapshotClient : public SnapshotClient {
 public:
  EmbeddedSnapshotClient(SnapshotStorage& storage, boost::asio::any_io_executor io,
                         std::string description);
  void Save(const std::string& room, Bytes snapshot, std::function<void(Status)> done) override;
  void Load(const std::string& room,
            std::function<void(Result<std::optional<Bytes>>)> done) override;
  std::string describe() const override { return description_; }

 private:
  SnapshotStorage& storage_;
  boost::asio::any_io_executor io_;
  std::string description_;
};

}  // namespace tandem::snapshot
