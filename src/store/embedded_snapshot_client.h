#pragma once
// The snapshot store in process: a SnapshotClient that calls the store engine (validation,
// versions, the merge rule of docs/STORE.md) directly instead of over HTTP. `tandem serve`
// without --snapshot-url uses it on SQLite in its data directory; the file is the one
// `tandem store --data-dir` serves. Storage calls block, so they run on `io`; callbacks run there.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "snapshot/snapshot_client.h"
#include "store/snapshot_store.h"

namespace tandem::store {

class EmbeddedSnapshotClient : public snapshot::SnapshotClient {
 public:
  // Opens `<dir>/snapshots.db` (SQLite), keeping 10 versions a room, no size limit.
  static Result<std::unique_ptr<EmbeddedSnapshotClient>> Open(const std::string& dir,
                                                              boost::asio::any_io_executor io);
  EmbeddedSnapshotClient(std::unique_ptr<SnapshotStore> store, boost::asio::any_io_executor io,
                         std::string description);

  void Save(const std::string& room, Bytes snapshot, std::function<void(Status)> done) override;
  void Delete(const std::string& room, std::function<void(Status)> done) override;
  void Load(const std::string& room,
            std::function<void(Result<std::optional<Bytes>>)> done) override;
  void ListVersions(const std::string& room,
                    std::function<void(Result<std::vector<snapshot::VersionInfo>>)> done) override;
  void LoadVersion(const std::string& room, int64_t version,
                   std::function<void(Result<std::optional<Bytes>>)> done) override;
  std::string describe() const override { return description_; }

  SnapshotStore& store() { return *store_; }

 private:
  std::unique_ptr<SnapshotStore> store_;
  boost::asio::any_io_executor io_;
  std::string description_;
};

}  // namespace tandem::store
