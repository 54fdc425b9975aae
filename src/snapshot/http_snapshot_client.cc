#include "snapshot/http_snapshot_client.h"

#include "net/url.h"

namespace tandem::snapshot {

HttpSnapshotClient::HttpSnapshotClient(std::shared_ptr<net::HttpClient> http,
                                       HttpSnapshotOptions options)
    : http_(std::move(http)), options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
}

std::string HttpSnapshotClient::UrlFor(const std::string& room) const {
  return options_.base_url + "/collaboration/snapshot?roomId=" + net::UrlEncodeComponent(room);
}

namespace {
std::string Describe(const net::HttpResponse& r) {
  std::string body = r.body.substr(0, 200);
  return "HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
}
}  // namespace

void HttpSnapshotClient::Save(const std::string& room, Bytes snapshot,
                              std::function<void(Status)> done) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = UrlFor(room);
  req.headers = {{"Authorization", "Bearer " + options_.secret},
                 {"Content-Type", "application/octet-stream"}};
  req.body.assign(snapshot.begin(), snapshot.end());
  req.connect_timeout = options_.connect_timeout;
  req.total_timeout = options_.total_timeout;
  http_->Send(std::move(req), [done = std::move(done)](Result<net::HttpResponse> r) {
    if (!r.ok()) {
      done(r.status());
    } else if (r->status >= 200 && r->status < 300) {
      done(Status::Ok());
    } else {
      done(UnavailableError("snapshot store answered " + Describe(*r)));
    }
  });
}

void HttpSnapshotClient::Load(const std::string& room,
                              std::function<void(Result<std::optional<Bytes>>)> done) {
  net::HttpRequest req;
  req.method = "GET";
  req.url = UrlFor(room);
  req.headers = {{"Authorization", "Bearer " + options_.secret}};
  req.connect_timeout = options_.connect_timeout;
  req.total_timeout = options_.total_timeout;
  http_->Send(std::move(req), [done = std::move(done)](Result<net::HttpResponse> r) {
    if (!r.ok()) {
      done(r.status());
    } else if (r->status == 200) {
      done(std::optional<Bytes>(Bytes(r->body.begin(), r->body.end())));
    } else if (r->status == 404) {
      done(std::optional<Bytes>());
    } else {
      done(UnavailableError("snapshot store answered " + Describe(*r)));
    }
  });
}

}  // namespace tandem::snapshot
