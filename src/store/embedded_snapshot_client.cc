#include "store/embedded_snapshot_client.h"

#include <boost/asio/post.hpp>
#include <filesystem>
#include <limits>

namespace tandem::store {

Result<std::unique_ptr<EmbeddedSnapshotClient>> EmbeddedSnapshotClient::Open(
    const std::string& dir, boost::asio::any_io_executor io) {
  const std::string path = (std::filesystem::path(dir) / "snapshots.db").string();
  auto backend = OpenSqliteBackend(path);
  if (!backend.ok()) return backend.status();
  auto store = std::make_unique<SnapshotStore>(
      std::move(backend).value(),
      StoreOptions{.max_snapshot_bytes = std::numeric_limits<size_t>::max(), .keep_versions = 10});
  return std::make_unique<EmbeddedSnapshotClient>(std::move(store), std::move(io),
                                                  "embedded store in " + path);
}

EmbeddedSnapshotClient::EmbeddedSnapshotClient(std::unique_ptr<SnapshotStore> store,
                                               boost::asio::any_io_executor io,
                                               std::string description)
    : store_(std::move(store)), io_(std::move(io)), description_(std::move(description)) {}

void EmbeddedSnapshotClient::Save(const std::string& room, Bytes snapshot,
                                  std::function<void(Status)> done) {
  boost::asio::post(io_, [this, room, snapshot = std::move(snapshot), done = std::move(done)] {
    auto saved = store_->Save(room, snapshot);
    done(saved.ok() ? Status::Ok() : saved.status().WithContext("embedded snapshot store"));
  });
}

void EmbeddedSnapshotClient::Load(const std::string& room,
                                  std::function<void(Result<std::optional<Bytes>>)> done) {
  boost::asio::post(io_, [this, room, done = std::move(done)] {
    auto got = store_->Get(room);
    if (!got.ok()) {
      done(got.status().WithContext("embedded snapshot store"));
    } else if (!got->has_value()) {
      done(std::optional<Bytes>());
    } else {
      done(std::optional<Bytes>(std::move((*got)->data)));
    }
  });
}

void EmbeddedSnapshotClient::ListVersions(
    const std::string& room, std::function<void(Result<std::vector<snapshot::VersionInfo>>)> done) {
  boost::asio::post(io_, [this, room, done = std::move(done)] {
    auto list = store_->ListVersions(room);
    if (!list.ok()) {
      done(list.status());
      return;
    }
    std::vector<snapshot::VersionInfo> out;
    out.reserve(list->size());
    for (const VersionInfo& v : *list) {
      out.push_back({v.version, v.size, v.time_ms, v.checksum, v.merged});
    }
    done(std::move(out));
  });
}

void EmbeddedSnapshotClient::LoadVersion(const std::string& room, int64_t version,
                                         std::function<void(Result<std::optional<Bytes>>)> done) {
  boost::asio::post(io_, [this, room, version, done = std::move(done)] {
    auto got = store_->Get(room, version);
    if (!got.ok()) {
      done(got.status());
    } else if (!got->has_value()) {
      done(std::optional<Bytes>());
    } else {
      done(std::optional<Bytes>(std::move((*got)->data)));
    }
  });
}

void EmbeddedSnapshotClient::Delete(const std::string& room, std::function<void(Status)> done) {
  boost::asio::post(io_, [this, room, done = std::move(done)] {
    auto deleted = store_->Delete(room);
    done(deleted.ok() ? Status::Ok() : deleted.status().WithContext("embedded snapshot store"));
  });
}

}  // namespace tandem::store
