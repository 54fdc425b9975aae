#pragma once
// SnapshotClient over HTTP: the contract apps already deploy (e.g. a Convex HTTP action).
//   save: POST {base}/collaboration/snapshot?roomId=<url-encoded>  (octet-stream body, any 2xx ok)
//   load: GET  {base}/collaboration/snapshot?roomId=<url-encoded>  (200 bytes, 404 none)
// both with `Authorization: Bearer <secret>`. I/O runs on the HTTP client's executor.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "net/http_client.h"
#include "snapshot/snapshot_client.h"

namespace tandem::snapshot {

struct HttpSnapshotOptions {
  std::string base_url;  // e.g. https://example.convex.site
  std::string secret;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{30'000};
  // Called before each save: adds headers (cluster mode's fencing epoch), or refuses the save
  // (not the room's owner any more) with the status the caller gets.
  std::function<Status(const std::string& room, net::HttpRequest& request)> before_save;
};

class HttpSnapshotClient : public SnapshotClient {
 public:
  HttpSnapshotClient(std::shared_ptr<net::HttpClient> http, HttpSnapshotOptions options);

  void Save(const std::string& room, Bytes snapshot, std::function<void(Status)> done) override;
  void Load(const std::string& room,
            std::function<void(Result<std::optional<Bytes>>)> done) override;
  // GET {base}/collaboration/snapshot/versions?roomId=R and ...snapshot?roomId=R&version=V
  // (`tandem store`'s contract; an app's own store may not have them: 404 -> kFailedPrecondition).
  void ListVersions(const std::string& room,
                    std::function<void(Result<std::vector<VersionInfo>>)> done) override;
  void LoadVersion(const std::string& room, int64_t version,
                   std::function<void(Result<std::optional<Bytes>>)> done) override;
  // DELETE {base}/collaboration/snapshot?roomId=R
  void Delete(const std::string& room, std::function<void(Status)> done) override;
  std::string describe() const override { return options_.base_url; }

  std::string UrlFor(const std::string& room) const;

 private:
  // A request to the store with its secret and timeouts.
  net::HttpRequest Request(std::string method, std::string url) const;
  void GetBytes(std::string url, std::function<void(Result<std::optional<Bytes>>)> done);

  std::shared_ptr<net::HttpClient> http_;
  HttpSnapshotOptions options_;
};

}  // namespace tandem::snapshot
