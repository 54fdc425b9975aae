#include "snapshot/http_snapshot_client.h"

#include "lib0/json.h"
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

net::HttpRequest HttpSnapshotClient::Request(std::string method, std::string url) const {
  net::HttpRequest req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.headers = {{"Authorization", "Bearer " + options_.secret}};
  req.connect_timeout = options_.connect_timeout;
  req.total_timeout = options_.total_timeout;
  return req;
}

// GET of a snapshot's bytes: 200 the bytes, 404 none, anything else an error.
void HttpSnapshotClient::GetBytes(std::string url,
                                  std::function<void(Result<std::optional<Bytes>>)> done) {
  net::HttpRequest req = Request("GET", std::move(url));
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

void HttpSnapshotClient::Save(const std::string& room, Bytes snapshot,
                              std::function<void(Status)> done) {
  net::HttpRequest req = Request("POST", UrlFor(room));
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  if (options_.before_save) {
    if (Status s = options_.before_save(room, req); !s.ok()) {
      done(std::move(s));
      return;
    }
  }
  req.body.assign(snapshot.begin(), snapshot.end());
  http_->Send(std::move(req), [done = std::move(done)](Result<net::HttpResponse> r) {
    if (!r.ok()) {
      done(r.status());
    } else if (r->status == 409) {
      // A newer owner saved this room (cluster mode's fencing epochs): not ours to retry.
      done(Status(StatusCode::kFailedPrecondition, "snapshot store answered " + Describe(*r)));
    } else if (r->status >= 200 && r->status < 300) {
      done(Status::Ok());
    } else {
      done(UnavailableError("snapshot store answered " + Describe(*r)));
    }
  });
}

void HttpSnapshotClient::Load(const std::string& room,
                              std::function<void(Result<std::optional<Bytes>>)> done) {
  GetBytes(UrlFor(room), std::move(done));
}

void HttpSnapshotClient::ListVersions(const std::string& room,
                                      std::function<void(Result<std::vector<VersionInfo>>)> done) {
  net::HttpRequest req = Request(
      "GET", options_.base_url +
                 "/collaboration/snapshot/versions?roomId=" + net::UrlEncodeComponent(room));
  http_->Send(std::move(req), [done = std::move(done)](Result<net::HttpResponse> r) {
    if (!r.ok()) {
      done(r.status());
      return;
    }
    if (r->status == 404) {
      done(Status(StatusCode::kFailedPrecondition, "the snapshot store keeps no versions"));
      return;
    }
    if (r->status != 200) {
      done(UnavailableError("snapshot store answered " + Describe(*r)));
      return;
    }
    auto json = lib0::ParseJson(r->body);
    if (!json.ok() || json->kind() != lib0::Any::Kind::kArray) {
      done(UnavailableError("snapshot store: versions are not a JSON array"));
      return;
    }
    std::vector<VersionInfo> out;
    for (const lib0::Any& v : json->as_array()) {
      if (v.kind() != lib0::Any::Kind::kObject) continue;
      VersionInfo info;
      auto number = [&v](std::string_view key) {
        const lib0::Any* f = v.Find(key);
        return f != nullptr && f->kind() == lib0::Any::Kind::kNumber ? f->as_number() : 0.0;
      };
      info.version = static_cast<int64_t>(number("version"));
      info.size = static_cast<uint64_t>(number("size"));
      info.time_ms = static_cast<int64_t>(number("time"));
      if (const lib0::Any* c = v.Find("checksum");
          c != nullptr && c->kind() == lib0::Any::Kind::kString)
        info.checksum = c->as_string();
      if (const lib0::Any* m = v.Find("merged");
          m != nullptr && m->kind() == lib0::Any::Kind::kBool)
        info.merged = m->as_bool();
      out.push_back(std::move(info));
    }
    done(std::move(out));
  });
}

void HttpSnapshotClient::LoadVersion(const std::string& room, int64_t version,
                                     std::function<void(Result<std::optional<Bytes>>)> done) {
  GetBytes(UrlFor(room) + "&version=" + std::to_string(version), std::move(done));
}

void HttpSnapshotClient::Delete(const std::string& room, std::function<void(Status)> done) {
  net::HttpRequest req = Request("DELETE", UrlFor(room));
  http_->Send(std::move(req), [done = std::move(done)](Result<net::HttpResponse> r) {
    if (!r.ok()) {
      done(r.status());
    } else if ((r->status >= 200 && r->status < 300) || r->status == 404) {
      done(Status::Ok());
    } else if (r->status == 405 || r->status == 501) {
      done(Status(StatusCode::kFailedPrecondition,
                  "the snapshot store cannot delete (" + Describe(*r) + ")"));
    } else {
      done(UnavailableError("snapshot store answered " + Describe(*r)));
    }
  });
}

}  // namespace tandem::snapshot
