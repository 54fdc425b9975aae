#include "net/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include "net/url.h"

namespace tandem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  explicit Impl(asio::any_io_executor ex) : executor(std::move(ex)), tls(ssl::context::tls_client) {
    boost::system::error_code ec;
    tls.set_default_verify_paths(ec);
    tls.set_verify_mode(ssl::verify_peer);
  }
  asio::any_io_executor executor;
  ssl::context tls;
};

namespace {

Status StatusFromError(const beast::error_code& ec, const char* step) {
  if (ec == beast::error::timeout)
    return {StatusCode::kDeadlineExceeded, std::string(step) + ": timed out"};
  if (ec == http::error::body_limit)
    return ResourceExhaustedError("response larger than the limit");
  if (std::string_view(ec.category().name()) == "beast.http")
    return MalformedError(std::string(step) + ": " + ec.message());
  return UnavailableError(std::string(step) + ": " + ec.message());
}

// One request's state; Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <typename Stream>
class Op : public std::enable_shared_from_this<Op<Stream>> {
 public:
  template <typename... Args>
  Op(const asio::any_io_executor& ex, Url url, HttpRequest req,
     std::function<void(Result<HttpResponse>)> done, Args&&... stream_args)
      : strand_(asio::make_strand(ex)),
        resolver_(strand_),
        resolve_timer_(strand_),
        stream_(strand_, std::forward<Args>(stream_args)...),
        url_(std::move(url)),
        request_(std::move(req)),
        done_(std::move(done)) {}

  std::shared_ptr<void> keep_alive;  // what the stream borrows (the TLS context)

  void Start() {
    deadline_ = std::chrono::steady_clock::now() + request_.total_timeout;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      if (!SSL_set_tlsext_host_name(stream_.native_handle(), url_.host.c_str())) {
        Finish(UnavailableError("TLS: cannot set server name"));
        return;
      }
      stream_.set_verify_callback(ssl::host_name_verification(url_.host));
    }
    // The deadline covers name resolution too: a resolver that never answers is cancelled.
    resolve_timer_.expires_at(deadline_);
    resolve_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) {
        self->resolve_timed_out_ = true;
        self->resolver_.cancel();
      }
    });
    resolver_.async_resolve(
        url_.host, std::to_string(url_.port),
        [self = this->shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
          self->OnResolve(ec, std::move(r));
        });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    resolve_timer_.cancel();
    if (resolve_timed_out_) {
      return Finish(Status(StatusCode::kDeadlineExceeded, "resolve " + url_.host + ": timed out"));
    }
    if (ec) return Finish(UnavailableError("resolve " + url_.host + ": " + ec.message()));
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    Lowest().expires_after(
        std::max(std::chrono::milliseconds(1), std::min(request_.connect_timeout, left)));
    Lowest().async_connect(
        results, [self = this->shared_from_this()](beast::error_code e, const tcp::endpoint&) {
          self->OnConnect(e);
        });
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return Finish(StatusFromError(ec, "connect"));
    Lowest().expires_at(deadline_);
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      stream_.async_handshake(
          ssl::stream_base::client,
          [self = this->shared_from_this()](beast::error_code e) { self->OnHandshake(e); });
    } else {
      Write();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return Finish(StatusFromError(ec, "TLS handshake"));
    Write();
  }

  void Write() {
    const auto verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown)
      return Finish(InvalidArgumentError("bad HTTP method " + request_.method));
    req_.method(verb);
    req_.target(url_.target);
    req_.version(11);
    req_.set(http::field::host, url_.host);
    req_.set(http::field::user_agent, "tandem");
    for (const auto& [k, v] : request_.headers) req_.set(k, v);
    req_.body() = std::move(request_.body);
    req_.prepare_payload();
    http::async_write(
        stream_, req_,
        [self = this->shared_from_this()](beast::error_code e, size_t) { self->OnWrite(e); });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return Finish(StatusFromError(ec, "send request"));
    parser_.body_limit(request_.max_response_bytes);
    parser_.header_limit(64 * 1024);
    http::async_read(
        stream_, buffer_, parser_,
        [self = this->shared_from_this()](beast::error_code e, size_t) { self->OnRead(e); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Finish(StatusFromError(ec, "read response"));
    auto res = parser_.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(res.body());
    Finish(std::move(out));
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  void Finish(Result<HttpResponse> result) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  // One strand for the resolver, its timer and the stream: their handlers never overlap.
  asio::strand<asio::any_io_executor> strand_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  bool resolve_timed_out_ = false;
  Stream stream_;
  Url url_;
  HttpRequest request_;
  std::function<void(Result<HttpResponse>)> done_;
  std::chrono::steady_clock::time_point deadline_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

HttpClient::HttpClient(asio::any_io_executor executor)
    : impl_(std::make_shared<Impl>(std::move(executor))) {}
HttpClient::~HttpClient() = default;

void HttpClient::Send(HttpRequest request, std::function<void(Result<HttpResponse>)> done) {
  auto url = ParseUrl(request.url);
  if (!url.ok()) {
    asio::post(impl_->executor, [done = std::move(done), s = url.status()] { done(s); });
    return;
  }
  if (url->tls()) {
    auto op = std::make_shared<Op<beast::ssl_stream<beast::tcp_stream>>>(
        impl_->executor, std::move(*url), std::move(request), std::move(done), impl_->tls);
    op->keep_alive = impl_;
    asio::post(impl_->executor, [op] { op->Start(); });
  } else {
    auto op = std::make_shared<Op<beast::tcp_stream>>(impl_->executor, std::move(*url),
                                                      std::move(request), std::move(done));
    asio::post(impl_->executor, [op] { op->Start(); });
  }
}

}  // namespace tandem::net
