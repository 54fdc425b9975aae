#include "snapshot/embedded_snapshot_client.h"

#include <boost/asio/post.hpp>
#include <filesystem>
#include <limits>

#include "store/snapshot_store.h"

namespace tandem::snapshot {

namespace {

// The storage engine of `tandem store` (src/store: validation, versions, the merge rule) in
// process.
class StoreSnapshotStorage : public SnapshotStorage {
 public:
  explicit StoreSnapshotStorage(std::unique_ptr<store::Backend> backend)
      : store_(std::move(backend),
               store::StoreOptions{.max_snapshot_bytes = std::numeric_limits<size_t>::max(),
                                   .keep_versions = 10}) {}

  Status Put(const std::string& room, const Bytes& bytes) override {
    auto saved = store_.Save(room, bytes);
    if (!saved.ok()) return saved.status().WithContext("embedded snapshot store");
    return Status::Ok();
  }

  Result<std::optional<Bytes>> Get(const std::string& room) override {
    auto got = store_.Get(room);
    if (!got.ok()) return got.status().WithContext("embedded snapshot store");
    if (!got->has_value()) return std::optional<Bytes>();
    return std::optional<Bytes>(std::move((*got)->data));
  }

 private:
  store::SnapshotStore store_;
};

}  // namespace

Result<std::unique_ptr<SnapshotStorage>> OpenSqliteSnapshotStorage(const std::string& dir) {
  auto backend = store::OpenSqliteBackend((std::filesystem::path(dir) / "snapshots.db").string());
  if (!backend.ok()) return backend.status();
  return std::unique_ptr<SnapshotStorage>(
      std::make_unique<StoreSnapshotStorage>(std::move(backend).value()));
}

EmbeddedSnapshotClient::EmbeddedSnapshotClient(SnapshotStorage& storage,
                                               boost::asio::any_io_executor io,
                                               std::string description)
    : storage_(storage), io_(std::move(io)), description_(std::move(description)) {}

void EmbeddedSnapshotClient::Save(const std::string& room, Bytes snapshot,
                                  std::function<void(Status)> done) {
  boost::asio::post(io_, [this, room, snapshot = std::move(snapshot), done = std::move(done)] {
    done(storage_.Put(room, snapshot));
  });
}

void EmbeddedSnapshotClient::Load(const std::string& room,
                                  std::function<void(Result<std::optional<Bytes>>)> done) {
  boost::asio::post(io_, [this, room, done = std::move(done)] { done(storage_.Get(room)); });
}

}  // namespace tandem::snapshot
